// A boot storm: N devices (the real core: Device with its own Io over one in-memory flash each)
// power up at the same instant. Either they hold factory credentials and go straight to one broker,
// or (`onboard`) they are blank: first boot makes the identity, the factory config's strategy chain
// obtains credentials from the reference cloud (rate limited: 429 + Retry-After), then MQTT. Each
// device's state changes, onboarding and MQTT events are watched to time it to "online" and to
// count the typed reasons of every failed attempt on the way.
import type { FactoryConfig } from "../../src/config/factory-config.js";
import { generateIdentity, nodeIdOf } from "../../src/identity/identity.js";
import { Device } from "../../src/lifecycle/device.js";
import type { BackoffPolicy } from "../../src/mqtt/backoff.js";
import { Secret } from "../../src/secrets/secret.js";
import { CredentialStore } from "../../src/storage/credential-store.js";
import { Flash } from "../io/flash.js";
import { createNodeIo, type NodeIo } from "../io/node-io.js";
import { nodeCrypto } from "../io/node-crypto.js";

export interface FleetBroker {
  readonly host: string;
  readonly port: number;
  readonly ca: string;
  readonly username: string;
  readonly password: string;
}

export interface FleetOptions {
  readonly devices: number;
  /** Devices with factory credentials for this broker; or `onboard` for blank devices. */
  readonly broker?: FleetBroker;
  /** Blank devices with this factory config; device i has the MAC `macOf(i)` (its serial, hex). */
  readonly onboard?: { readonly factory: FactoryConfig; readonly macOf: (i: number) => string };
  /** Give up on devices not online after this long. */
  readonly timeoutMs: number;
  /** The devices' reconnect policy; default: the firmware's own (DEFAULT_BACKOFF). */
  readonly backoff?: BackoffPolicy;
  /** Called every `progressMs` with devices online so far. */
  readonly onProgress?: (online: number, elapsedMs: number) => void;
}

export interface FleetResult {
  readonly devices: number;
  readonly online: number;
  /** Milliseconds from power-up of all devices to each device's first "online" (sorted). */
  readonly timesToOnline: readonly number[];
  readonly wallMs: number;
  /** "refused: server-unavailable", "offline: transport (timeout)", … → count over all devices. */
  readonly attemptFailures: ReadonlyMap<string, number>;
  /** Why the devices that never came online were last down, by reason. */
  readonly failures: ReadonlyMap<string, number>;
  /** Highest RSS / heap of this (devices') process. */
  readonly peakRssBytes: number;
  readonly peakHeapBytes: number;
  /** Highest number of CONNECTs the devices sent in any one-second window. */
  readonly peakConnectRate: number;
  /** Time to make every device's identity and store its credentials (the factory, not the storm). */
  readonly factoryMs: number;
  /** Milliseconds from power-up to credentials obtained, for blank devices (sorted). */
  readonly timesToOnboarded: readonly number[];
}

interface Unit {
  readonly io: NodeIo;
  readonly device: Device;
  onlineAt?: number;
  onboardedAt?: number;
  lastFailure?: string;
}

export async function runFleet(options: FleetOptions): Promise<FleetResult> {
  const factoryStart = performance.now();
  const units: Unit[] = [];
  const attemptFailures = new Map<string, number>();
  const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  const b = options.broker;
  const onboard = options.onboard;
  if ((b === undefined) === (onboard === undefined)) throw new Error("runFleet: give either broker or onboard");
  for (let i = 0; i < options.devices; i++) {
    const io = createNodeIo({ flash: Flash.inMemory(), log: "silent", ...(onboard ? { mac: onboard.macOf(i) } : {}) });
    if (b) {
      const identity = generateIdentity(io);
      new CredentialStore(io.storage).save({
        version: 1, identity,
        mqtt: { brokerUrl: `mqtts://${b.host}:${b.port}`, clientId: nodeIdOf(nodeCrypto, identity), username: b.username, password: Secret.fromString(b.password), ca: b.ca },
      });
    }
    const device = new Device(io, {
      telemetryIntervalMs: 0, keepaliveSeconds: 300,
      ...(options.backoff ? { backoff: options.backoff } : {}),
      ...(onboard ? { factory: onboard.factory } : {}),
    });
    units.push({ io, device });
  }
  const factoryMs = performance.now() - factoryStart;

  let online = 0;
  // CONNECTs go out on "transport-up"; a sliding one-second window of their times.
  const window: number[] = [];
  let peakConnectRate = 0;
  const connectSent = () => {
    const now = performance.now();
    window.push(now);
    while (window[0]! <= now - 1000) window.shift();
    peakConnectRate = Math.max(peakConnectRate, window.length);
  };
  let peakRssBytes = 0;
  let peakHeapBytes = 0;
  const sample = () => {
    const m = process.memoryUsage();
    peakRssBytes = Math.max(peakRssBytes, m.rss);
    peakHeapBytes = Math.max(peakHeapBytes, m.heapUsed);
  };
  const start = performance.now();
  let finish!: () => void;
  const allOnline = new Promise<void>((resolve) => { finish = resolve; });
  for (const unit of units) {
    unit.device.on((e) => {
      if (e.type === "state" && e.state === "online" && unit.onlineAt === undefined) {
        unit.onlineAt = performance.now() - start;
        if (++online === units.length) finish();
      }
      // "stored" on a blank unit is not applicable, not a failure
      if (e.type === "onboarding" && e.event.type === "failed" && e.event.failure.kind !== "not-applicable") {
        const f = e.event.failure;
        unit.lastFailure = `onboarding ${e.event.strategy}: ${f.kind}${f.status !== undefined ? ` (${f.status})` : ""}`;
        count(attemptFailures, unit.lastFailure);
      }
      if (e.type === "onboarding" && e.event.type === "obtained") unit.onboardedAt = performance.now() - start;
      if (e.type !== "mqtt") return;
      const ev = e.event;
      if (ev.type === "transport-up") connectSent();
      if (ev.type === "refused") {
        unit.lastFailure = `refused: ${ev.reason}`;
        count(attemptFailures, unit.lastFailure);
      } else if (ev.type === "offline" && ev.reason !== "refused" && ev.reason !== "stopped") {
        unit.lastFailure = `offline: ${ev.reason}${ev.socketError ? ` (${ev.socketError.kind})` : ""}`;
        count(attemptFailures, unit.lastFailure);
      }
    });
  }
  // Power comes back: every device boots in the same tick.
  for (const unit of units) unit.device.boot();
  const sampler = setInterval(() => {
    sample();
    options.onProgress?.(online, performance.now() - start);
  }, 250);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, options.timeoutMs); });
  await Promise.race([allOnline, timeout]);
  clearTimeout(timer);
  const wallMs = performance.now() - start;
  clearInterval(sampler);
  sample();

  const failures = new Map<string, number>();
  for (const unit of units) if (unit.onlineAt === undefined) count(failures, unit.lastFailure ?? `never tried (state ${unit.device.state})`);
  for (const unit of units) {
    unit.device.shutdown();
    unit.io.shutdown();
  }
  return {
    devices: units.length, online,
    timesToOnline: units.flatMap((u) => (u.onlineAt === undefined ? [] : [u.onlineAt])).sort((x, y) => x - y),
    wallMs, attemptFailures, failures, peakRssBytes, peakHeapBytes, peakConnectRate, factoryMs,
    timesToOnboarded: units.flatMap((u) => (u.onboardedAt === undefined ? [] : [u.onboardedAt])).sort((x, y) => x - y),
  };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
