// The device lifecycle, in one place. What the device does, from power-on:
//
//   boot ── read the credential store (reads only: a normal reboot writes nothing to flash)
//    ├─ store empty (first boot) → make the Ed25519 identity, save it once
//    ├─ store unreadable (e.g. written by newer firmware) → "store-unreadable": keep it, wait for a factory reset
//    ├─ no cloud credentials → "needs-onboarding" (provisioning + the strategy chain take over)
//    └─ credentials → "connecting": MQTT over TLS to the stored broker
//          ├─ CONNACK 0 → "online": retained {"online":true} status, telemetry every interval (QoS 1)
//          ├─ broker unreachable / dropped / server unavailable → "backoff" → reconnect (jittered, capped)
//          └─ bad credentials / not authorised / client ID rejected → "needs-onboarding" (re-bootstrap)
//   factory reset → credentials wiped (identity kept) → "needs-onboarding"
import type { Io, TimerId } from "../io/io.js";
import { utf8 } from "../bytes/bytes.js";
import { Logger } from "../log/logger.js";
import { generateIdentity, nodeIdOf } from "../identity/identity.js";
import { CredentialStore } from "../storage/credential-store.js";
import { parseBrokerUrl, type CredentialRecord, type MqttCredentials } from "../storage/credential-record.js";
import { MqttClient, type ClientEvent } from "../mqtt/client.js";
import { OutboxFull, refusalNeedsOnboarding, type ConnackReason } from "../mqtt/session.js";
import type { BackoffPolicy } from "../mqtt/backoff.js";

export type DeviceState =
  | "booting"
  | "store-unreadable"
  | "needs-onboarding"
  | "connecting"
  | "online"
  | "backoff"
  | "stopped";

export interface DeviceConfig {
  /** Interval of the built-in telemetry publish; 0 disables it. */
  readonly telemetryIntervalMs: number;
  readonly keepaliveSeconds: number;
  readonly backoff?: BackoffPolicy;
  /** QoS 1 messages held while offline. */
  readonly maxOutbox?: number;
}

export const DEFAULT_DEVICE_CONFIG: DeviceConfig = { telemetryIntervalMs: 10_000, keepaliveSeconds: 60 };

export type DeviceEvent =
  | { readonly type: "state"; readonly state: DeviceState; readonly reason?: string }
  | { readonly type: "mqtt"; readonly event: ClientEvent };

export interface BootReport {
  readonly firstBoot: boolean;
  readonly nodeId: string | undefined;
  readonly state: DeviceState;
}

export class Device {
  readonly #io: Io;
  readonly #config: DeviceConfig;
  readonly #log: Logger;
  readonly #store: CredentialStore;
  readonly #listeners: ((event: DeviceEvent) => void)[] = [];
  #state: DeviceState = "booting";
  #record: CredentialRecord | undefined;
  #nodeId: string | undefined;
  #client: MqttClient | undefined;
  #topics: { telemetry: string; status: string } | undefined;
  #telemetryTimer: TimerId | undefined;
  #telemetrySeq = 0;
  readonly #bootedAt: number;

  constructor(io: Io, config: DeviceConfig = DEFAULT_DEVICE_CONFIG) {
    this.#io = io;
    this.#config = config;
    this.#log = new Logger(io.log, () => io.clock.now(), "device");
    this.#store = new CredentialStore(io.storage);
    this.#bootedAt = io.clock.now();
  }

  get state(): DeviceState { return this.#state; }
  get nodeId(): string | undefined { return this.#nodeId; }
  get mqtt(): MqttClient | undefined { return this.#client; }

  on(listener: (event: DeviceEvent) => void): void {
    this.#listeners.push(listener);
  }

  boot(): BootReport {
    const stored = this.#store.load();
    let firstBoot = false;
    if (stored.status === "unreadable") {
      this.#log.error("store-unreadable", { code: stored.error.code, detail: stored.error.message });
      this.#setState("store-unreadable", stored.error.code);
      return { firstBoot, nodeId: undefined, state: this.#state };
    }
    if (stored.status === "empty") {
      firstBoot = true;
      this.#record = { version: 1, identity: generateIdentity(this.#io.random) };
      this.#store.save(this.#record);
    } else {
      this.#record = stored.record;
    }
    this.#nodeId = nodeIdOf(this.#record.identity);
    this.#log.info("boot", { nodeId: this.#nodeId, firstBoot, credentials: this.#record.mqtt ? "stored" : "none" });
    if (this.#record.mqtt) this.#connect(this.#record.mqtt);
    else this.#setState("needs-onboarding", "no cloud credentials");
    return { firstBoot, nodeId: this.#nodeId, state: this.#state };
  }

  /** Publish one telemetry reading now (QoS 1: kept and resent until the broker has it). */
  publishTelemetry(fields: Readonly<Record<string, string | number | boolean>>): number | undefined {
    if (!this.#client || !this.#topics) return undefined;
    try {
      return this.#client.publish(this.#topics.telemetry, utf8(JSON.stringify(fields)), { qos: 1 });
    } catch (e) {
      if (!(e instanceof OutboxFull)) throw e;
      this.#log.warn("telemetry-dropped", { reason: e.message });
      return undefined;
    }
  }

  /** Orderly shutdown: announce offline (retained), disconnect, stop timers. */
  shutdown(): void {
    this.#stopTelemetry();
    if (this.#client && this.#topics && this.#client.state === "online") {
      this.#client.publish(this.#topics.status, utf8('{"online":false}'), { qos: 0, retain: true });
    }
    this.#client?.stop();
    this.#client = undefined;
    this.#setState("stopped");
  }

  /** Forget the cloud credentials (the identity stays) and go back to onboarding. */
  factoryReset(): void {
    this.shutdown();
    this.#store.factoryReset();
    if (this.#record) this.#record = { version: this.#record.version, identity: this.#record.identity };
    this.#log.warn("factory-reset");
    this.#setState("needs-onboarding", "factory reset");
  }

  #connect(mqtt: MqttCredentials): void {
    const { host, port } = parseBrokerUrl(mqtt.brokerUrl);
    const nodeId = this.#nodeId!;
    this.#topics = {
      telemetry: mqtt.topics?.telemetry ?? `devices/${nodeId}/telemetry`,
      status: mqtt.topics?.status ?? `devices/${nodeId}/status`,
    };
    const client = new MqttClient(this.#io, {
      endpoint: {
        host, port,
        ...(mqtt.ca !== undefined ? { ca: mqtt.ca } : {}),
        ...(mqtt.serverName !== undefined ? { serverName: mqtt.serverName } : {}),
        ...(mqtt.clientCertificate !== undefined ? { clientCertificate: mqtt.clientCertificate } : {}),
        ...(mqtt.clientKey !== undefined ? { clientKey: mqtt.clientKey } : {}),
      },
      clientId: mqtt.clientId,
      ...(mqtt.username !== undefined ? { username: mqtt.username } : {}),
      ...(mqtt.password !== undefined ? { password: mqtt.password } : {}),
      keepaliveSeconds: this.#config.keepaliveSeconds,
      will: { topic: this.#topics.status, payload: utf8('{"online":false}'), qos: 1, retain: true },
      ...(this.#config.backoff ? { backoff: this.#config.backoff } : {}),
      ...(this.#config.maxOutbox !== undefined ? { maxOutbox: this.#config.maxOutbox } : {}),
    });
    client.on((event) => this.#onMqtt(event));
    this.#client = client;
    this.#setState("connecting");
    client.start();
  }

  #onMqtt(event: ClientEvent): void {
    this.#emit({ type: "mqtt", event });
    switch (event.type) {
      case "dialing":
        this.#log.info("dialing", { host: event.host, port: event.port, attempt: event.attempt });
        if (this.#state !== "connecting") this.#setState("connecting");
        break;
      case "transport-up":
        this.#log.info("tls-up", { clientId: this.#record?.mqtt?.clientId });
        break;
      case "online":
        this.#log.info("online", { sessionPresent: event.sessionPresent, resent: event.resent });
        this.#setState("online");
        this.#client!.publish(this.#topics!.status, utf8('{"online":true}'), { qos: 1, retain: true });
        this.#startTelemetry();
        break;
      case "offline":
        this.#log.warn("offline", { reason: event.reason, detail: event.detail });
        break;
      case "backoff":
        this.#log.info("backoff", { delayMs: event.delayMs, attempt: event.attempt });
        this.#setState("backoff", `retry in ${event.delayMs} ms`);
        break;
      case "refused":
        this.#log.warn("refused", { reason: event.reason, willRetry: event.willRetry });
        if (!event.willRetry) this.#credentialsRejected(event.reason);
        break;
      case "delivered":
        this.#log.debug("delivered", { messageId: event.messageId, topic: event.topic });
        break;
      default:
        break;
    }
  }

  #credentialsRejected(reason: ConnackReason): void {
    this.#stopTelemetry();
    this.#client?.stop();
    this.#client = undefined;
    // The stored record stays as it is: only a successful re-onboarding replaces it, so a broker
    // that refuses by mistake cannot destroy working credentials.
    this.#setState("needs-onboarding", refusalNeedsOnboarding(reason) ? `credentials rejected: ${reason}` : `broker refused: ${reason}`);
  }

  #startTelemetry(): void {
    if (this.#telemetryTimer !== undefined || this.#config.telemetryIntervalMs <= 0) return;
    const tick = () => {
      this.#telemetryTimer = this.#io.timers.set(tick, this.#config.telemetryIntervalMs);
      const seq = ++this.#telemetrySeq;
      const id = this.publishTelemetry({ seq, uptimeMs: this.#io.clock.now() - this.#bootedAt });
      this.#log.info("telemetry", { seq, messageId: id ?? null, queued: this.#client?.outboxSize ?? 0 });
    };
    this.#telemetryTimer = this.#io.timers.set(tick, this.#config.telemetryIntervalMs);
  }

  #stopTelemetry(): void {
    if (this.#telemetryTimer !== undefined) this.#io.timers.clear(this.#telemetryTimer);
    this.#telemetryTimer = undefined;
  }

  #setState(state: DeviceState, reason?: string): void {
    this.#state = state;
    this.#log.info("state", { state, reason });
    this.#emit(reason === undefined ? { type: "state", state } : { type: "state", state, reason });
  }

  #emit(event: DeviceEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}
