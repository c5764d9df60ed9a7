// The device side of the soak, an engine-neutral scenario run inside XS by host-sim/soak/soak.ts:
// a unit with credentials in flash boots, goes online, and the application publishes a QoS 1
// reading every `telemetryMs` through the device's API (publishTelemetry: kept in the outbox while
// the broker is away, resent after it returns) for `durationMs` of the device's clock (a ManualClock
// the host moves, restarting the broker as it goes). The device's own telemetry timer is off: it
// pauses while offline, so it would not exercise the outbox. At fixed points the host collects XS's garbage and records the live heap.
// At the end the unit waits until every message is acknowledged and publishes a final marker with
// the last sequence number, so the host's subscriber can tell a lost message from the end.
import { generateIdentity, nodeIdOf } from "../../src/identity/identity.js";
import type { Io, TimerId } from "../../src/io/io.js";
import type { LogRecord } from "../../src/log/logger.js";
import { Device } from "../../src/lifecycle/device.js";
import { Secret } from "../../src/secrets/secret.js";
import { CredentialStore } from "../../src/storage/credential-store.js";
import { heapProbe } from "../xs/heap-probe.js";
import { check, type BrokerEnv, type Scenario, type ScenarioContext } from "../../test/scenarios/harness.js";

export interface SoakParams {
  readonly durationMs: number;
  readonly telemetryMs: number;
  /** Heap samples at offset, offset + every, … (device clock, from boot). */
  readonly sampleEveryMs: number;
  readonly sampleOffsetMs: number;
  readonly keepaliveSeconds: number;
}

export interface SoakEnv extends BrokerEnv {
  readonly soak: SoakParams;
}

/** The final marker's fields: the subscriber must have seen every seq from 1 to lastSeq. */
export interface SoakFinal {
  readonly final: true;
  readonly lastSeq: number;
  readonly dropped: number;
  readonly onlineTransitions: number;
  /** Messages the client resent (DUP) after reconnecting: the outbox at work. */
  readonly resent: number;
}

const sleepUntil = (io: Io, at: number): Promise<void> => new Promise((resolve) => io.timers.set(resolve, at - io.clock.now()));

/** Resolves when `condition` holds, checked after each device event (no polling timers). */
function when(device: Device, condition: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (condition()) return resolve();
    let done = false;
    device.on(() => {
      if (!done && condition()) {
        done = true;
        resolve();
      }
    });
  });
}

async function soak(ctx: ScenarioContext): Promise<void> {
  const env = ctx.broker as SoakEnv;
  const p = env.soak;
  const sample = heapProbe(ctx) ?? (() => Promise.resolve(NaN));
  const d = ctx.device();
  const identity = generateIdentity(d.io);
  new CredentialStore(d.io.storage).save({
    version: 1, identity,
    mqtt: { brokerUrl: `mqtts://${env.host}:${env.port}`, clientId: nodeIdOf(d.io.crypto, identity), username: env.username, password: Secret.fromString(env.password), ca: env.ca },
  });
  // Log records are dropped here, after the core has built them: the bridge keeps every record it
  // forwards, which would grow the heap being measured.
  let lastSeq = 0;
  let dropped = 0;
  const log = (_r: LogRecord) => {};
  const unit = d.reboot();
  const device = new Device({ ...unit.io, log }, {
    telemetryIntervalMs: 0, keepaliveSeconds: p.keepaliveSeconds,
    backoff: { initialMs: 1_000, maxMs: 30_000, minMs: 500 },
    maxOutbox: 256,
  });
  let onlineTransitions = 0;
  let resent = 0;
  device.on((e) => {
    if (e.type === "state" && e.state === "online") onlineTransitions++;
    if (e.type === "mqtt" && e.event.type === "online") resent += e.event.resent;
  });
  const start = unit.io.clock.now();
  device.boot();
  // The application's readings: a sequence number each, published whatever the connection state.
  let reading: TimerId | undefined;
  const tick = () => {
    reading = unit.io.timers.set(tick, p.telemetryMs);
    lastSeq++;
    if (device.publishTelemetry({ seq: lastSeq, uptimeMs: unit.io.clock.now() - start }) === undefined) dropped++;
  };
  reading = unit.io.timers.set(tick, p.telemetryMs);
  for (let at = start + p.sampleOffsetMs; at < start + p.durationMs; at += p.sampleEveryMs) {
    await sleepUntil(unit.io, at);
    await sample(`t=${Math.round((at - start) / 60_000)} min (${device.state}, seq ${lastSeq})`);
  }
  await sleepUntil(unit.io, start + p.durationMs);
  unit.io.timers.clear(reading);
  await when(device, () => device.state === "online" && device.mqtt !== undefined && device.mqtt.outboxSize === 0);
  const final: SoakFinal = { final: true, lastSeq, dropped, onlineTransitions, resent };
  check(device.publishTelemetry({ ...final }) !== undefined, "final marker refused");
  await when(device, () => device.mqtt !== undefined && device.mqtt.outboxSize === 0);
  await sample(`end: ${lastSeq} publishes, all acknowledged`);
  device.shutdown();
}

export const scenarios: Scenario[] = [{ name: "soak:device", needs: ["broker"], run: soak }];
