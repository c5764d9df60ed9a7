// The device lifecycle, in one place. What the device does, from power-on:
//
//   boot ── read the credential store (reads only: a normal reboot writes nothing to flash)
//    ├─ store empty (first boot) → make the Ed25519 identity, save it once
//    ├─ store unreadable (e.g. written by newer firmware) → "store-unreadable": keep it, wait for a factory reset
//    ├─ radios (config.provisioning given, io.wifi and io.ble present; else this branch is skipped
//    │   and logged: desktop builds go straight on as below):
//    │   ├─ no stored Wi-Fi credentials → "provisioning": the BLE provisioning window is open
//    │   │     ├─ user-mapping-requested → the user ID + secret key pair is saved as pending
//    │   │     ├─ wifi-connected → Wi-Fi credentials saved (one write) → continue as below
//    │   │     ├─ reprovision-requested → stored Wi-Fi credentials dropped; the window stays open
//    │   │     └─ closed{timeout} → "provisioning-idle", reopened after `reopenAfterMs` (0: stays idle)
//    │   └─ stored Wi-Fi credentials → "wifi-joining" (retries with back-off; after `maxFailures`
//    │         failures in a row → the provisioning window again, as Espressif's devices do; when
//    │         it times out, the stored network is tried again) → joined → continue as below
//    │   Wi-Fi lost later (either way of joining) → MQTT stopped (its QoS 1 outbox kept), a running
//    │   chain cancelled → "wifi-joining" as above → joined → MQTT resumes and resends; no flash write
//    ├─ no cloud credentials → "needs-onboarding"
//    │     └─ with a factory config: "onboarding" — run the strategy chain (stored → bootstrap →
//    │        register → shared, as configured); credentials obtained → persist (one atomic
//    │        store write) → connect; every strategy failed → "onboarding-backoff" → run it again;
//    │        after `retry.maxRounds` failed rounds → "onboarding-failed": one round every
//    │        `retry.parkedRetryMs` (reboot or factory reset starts afresh);
//    │        a person denied the unit (hub) → "onboarding-denied": no more asking until reset;
//    │        re-provision or factory reset while it runs → the chain is cancelled, its result unused
//    └─ credentials → "connecting": MQTT over TLS to the stored broker
//          ├─ CONNACK 0 → "online": retained {"online":true} status, telemetry every interval (QoS 1);
//          │     a pending user mapping is published (QoS 1) once the session has had a PUBACK; its
//          │     PUBACK confirms it (one write); a session ending without it takes it back, and after
//          │     `userMapping.maxSessions` such sessions or `maxWaitMs` → "abandoned": no more sending,
//          │     the pair stays in flash, the next boot tries again
//          ├─ the broker closes the connection right after our publishes, `publishRefusal.strikes`
//          │     times in a row with no PUBACK between → "publish-refused": as a refused CONNECT below
//          │     Fresh credentials count as a successful round only once a session has both its
//          │     subscription granted and a PUBACK (a deactivated config connects, then is dropped):
//          │     until then a refusal is a failed round (back-off, park after retry.maxRounds)
//          ├─ broker unreachable / dropped / server unavailable → "backoff" → reconnect (jittered, capped)
//          └─ bad credentials / not authorised / client ID rejected → "needs-onboarding"
//                └─ with a factory config: re-bootstrap — the chain again, "stored" skipped, with
//                   back-off between rounds; the old record stays until new credentials replace it
//   rotation pushed by the cloud on the command topic → "rotating": store the new credentials as
//   pending (known-good ones kept) → reconnect with them → CONNACK 0: commit; refused: roll back
//   and reconnect with the old ones. A boot that finds a pending set resumes the same dance.
//   factory reset → credentials wiped (identity kept; Wi-Fi and user mapping go too) → with radios:
//   the provisioning window; without: "needs-onboarding" (→ "onboarding")
import type { Io, TimerId, WifiFailure } from "../io/io.js";
import { fromUtf8, utf8 } from "../bytes/bytes.js";
import { Secret } from "../secrets/secret.js";
import { Logger } from "../log/logger.js";
import { generateIdentity, nodeIdOf } from "../identity/identity.js";
import { CredentialStore, StoreRefused } from "../storage/credential-store.js";
import { parseBrokerUrl, type CredentialRecord, type MqttCredentials } from "../storage/credential-record.js";
import { MqttClient, type ClientEvent } from "../mqtt/client.js";
import { OutboxFull, refusalNeedsOnboarding, type ConnackReason } from "../mqtt/session.js";
import { MqttInputError } from "../mqtt/input.js";
import { backoffDelay, randomUnit, type BackoffPolicy } from "../mqtt/backoff.js";
import type { FactoryConfig } from "../config/factory-config.js";
import { BOARD_LIMITS } from "../config/limits.js";
import { runChain, type ChainEvent, type ChainOutcome } from "../onboarding/chain.js";
import { chainPolicyFor, strategiesFor } from "../onboarding/strategies.js";
import { openProvisioningWindow, type ProvisioningWindow, type WindowEvent } from "../provisioning/window.js";
import { PopAttemptLimiter, type PopLimitPolicy } from "../provisioning/pop-limiter.js";
import { checkPopStrength, PopTooWeakError } from "../provisioning/pop-strength.js";
import type { SecurityVersion } from "../provisioning/security.js";
import { userMappingTopic } from "../provisioning/user-mapping.js";
import { DEFAULT_WIFI_JOIN, joinWifi, type WifiJoinPolicy } from "./wifi-join.js";
import { scopeIo, type IoScope } from "./io-scope.js";
import { PublishRefusalWatch, type PublishRefusalPolicy } from "./publish-refusal.js";
import { mappingDelivered, mappingMessage, mappingRequested } from "./user-mapping-record.js";

export type DeviceState =
  | "booting"
  | "store-unreadable"
  | "provisioning"
  | "provisioning-idle"
  | "wifi-joining"
  | "needs-onboarding"
  | "onboarding"
  | "onboarding-backoff"
  /** A person denied this unit (hub approval): it stops asking until a factory reset or re-provision. */
  | "onboarding-denied"
  /** `retry.maxRounds` chain rounds failed in a row: parked, one round every `retry.parkedRetryMs`. */
  | "onboarding-failed"
  | "connecting"
  | "rotating"
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
  /** The fleet's factory config: with it, "needs-onboarding" runs the strategy chain by itself. */
  readonly factory?: FactoryConfig;
  /** BLE provisioning and the Wi-Fi join; used only where io.wifi and io.ble exist. */
  readonly provisioning?: ProvisioningConfig;
  /**
   * The pending user-mapping publish: give up (pair kept, no more resending, "abandoned") when the
   * broker has not acknowledged it after `maxSessions` connection sessions (default 5) or
   * `maxWaitMs` since it was first published (default 10 minutes).
   */
  readonly userMapping?: { readonly maxSessions?: number; readonly maxWaitMs?: number };
  /** When publishes cut off by the broker count as refused credentials (see publish-refusal.ts). */
  readonly publishRefusal?: PublishRefusalPolicy;
}

export interface ProvisioningConfig {
  /** Default 2. */
  readonly security?: SecurityVersion;
  /** The unit's proof of possession (NVS on the board, the sim config on the host). */
  readonly pop: Secret;
  /** Close an unused window after this long; default 15 minutes. */
  readonly windowTimeoutMs?: number;
  /** After a window timed out (and no Wi-Fi is stored), open it again after this long; 0 = stay idle. Default 60 s. */
  readonly reopenAfterMs?: number;
  readonly closeAfterSuccessMs?: number;
  /** Join attempts per credentials the app applies, and the pause between them (window defaults: 3, 1 s). */
  readonly connectAttempts?: number;
  readonly retryDelayMs?: number;
  readonly wifiJoin?: WifiJoinPolicy;
  /** Wrong-PoP limits for this boot (pop-limiter.ts defaults: 3 per connection, 5 in a burst, one per 10 s). */
  readonly popLimit?: PopLimitPolicy;
  /** Called with each window as it opens (the host attaches other transports, e.g. HTTP). */
  readonly onWindow?: (window: ProvisioningWindow) => void;
  /** Serve windows over io.ble; default true. False: only the transports `onWindow` attaches. */
  readonly ble?: boolean;
  /**
   * `onWindow` attaches a transport of its own (HTTP, "softap"): the unit provisions without
   * io.ble (the desktop simulator, a board built for SoftAP only). Default false.
   */
  readonly attachesTransport?: boolean;
}

export const DEFAULT_DEVICE_CONFIG: DeviceConfig = { telemetryIntervalMs: 10_000, keepaliveSeconds: 60 };

export type DeviceEvent =
  | { readonly type: "state"; readonly state: DeviceState; readonly reason?: string }
  | { readonly type: "mqtt"; readonly event: ClientEvent }
  | { readonly type: "onboarding"; readonly event: ChainEvent }
  | { readonly type: "provisioning"; readonly event: WindowEvent }
  | { readonly type: "user-mapping"; readonly status: "published" | "delivered" | "abandoned"; readonly userId: string };

/** Why the broker turned the credentials down: a CONNACK code, or publishes cut off (see publishRefusal). */
export type CredentialRefusal = ConnackReason | "publish-refused";

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
  #topics: { telemetry: string; status: string; command: string } | undefined;
  /** Connected (or connecting) with the record's pending credentials, not its known-good ones. */
  #rotating = false;
  #telemetryTimer: TimerId | undefined;
  #telemetrySeq = 0;
  readonly #bootedAt: number;
  /** Why the broker last refused us (re-bootstrap skips "stored", "shared" skips a taken client ID). */
  #refusal: { strategy: string; reason: CredentialRefusal } | undefined;
  /** Chain rounds failed in a row (a round whose fresh credentials the broker refused counts too). */
  #onboardingRound = 0;
  #onboardingTimer: TimerId | undefined;
  /** The running chain's I/O: cancelling it stops its HTTP exchanges and sleeps on the spot. */
  #chainScope: IoScope | undefined;
  /**
   * The credentials in use came from a chain round and have not proved themselves yet. A CONNACK
   * is not proof: a deactivated Mainflux/Magistrala config connects, then is dropped at subscribe
   * or publish. Proof is the command subscription granted and a publish acknowledged in one session.
   */
  #freshCredentials = false;
  #sessionProof = { subscribed: false, acknowledged: false };
  /** A person denied the unit: a Wi-Fi rejoin must not ask again behind their back. */
  #denied = false;
  #generation = 0; // bumped by shutdown: a chain still running from before must not act
  #window: ProvisioningWindow | undefined;
  #windowTimer: TimerId | undefined;
  #cancelWifiJoin: (() => void) | undefined;
  /** Wi-Fi joined (by the stored network or the window) and not lost since. */
  #linked = false;
  /** Message ID of the user-mapping publish in flight in this session (taken back if the session ends). */
  #mappingMessageId: number | undefined;
  /** Sessions the mapping was sent in without a PUBACK (this boot, this pair). */
  #mappingSessions = 0;
  #mappingTimer: TimerId | undefined;
  #mappingAbandoned = false;
  // Publish refusal: strikes in a row, and the current session's facts.
  readonly #publishRefusal: PublishRefusalWatch;
  readonly #popLimiter: PopAttemptLimiter;
  #popTooWeak: PopTooWeakError | undefined;

  constructor(io: Io, config: DeviceConfig = DEFAULT_DEVICE_CONFIG) {
    this.#io = io;
    this.#config = config;
    this.#log = new Logger(io.log, () => io.clock.now(), "device");
    this.#store = new CredentialStore(io.storage);
    this.#bootedAt = io.clock.now();
    this.#publishRefusal = new PublishRefusalWatch(config.publishRefusal);
    // one wrong-PoP allowance per boot: reopening the window or changing transport resets nothing
    this.#popLimiter = new PopAttemptLimiter(() => io.clock.monotonic(), config.provisioning?.popLimit);
  }

  get state(): DeviceState { return this.#state; }
  get nodeId(): string | undefined { return this.#nodeId; }
  get mqtt(): MqttClient | undefined { return this.#client; }
  /** The open provisioning window, if any. */
  get provisioningWindow(): ProvisioningWindow | undefined { return this.#window; }

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
    if (stored.status === "corrupt") {
      // Nothing intact is left: the unit must start over, but not silently.
      this.#log.error("store-corrupt", { damagedSlots: stored.damaged, next: "new identity" });
    }
    if (stored.status === "ok" && stored.skipped) {
      this.#log.warn("store-fallback", { code: stored.skipped.code, detail: stored.skipped.message, next: "older record" });
    }
    if (stored.status === "empty" || stored.status === "corrupt") {
      firstBoot = true;
      this.#record = { version: 1, identity: generateIdentity(this.#io) };
      this.#store.save(this.#record);
    } else {
      this.#record = stored.record;
    }
    this.#nodeId = nodeIdOf(this.#io.crypto, this.#record.identity);
    this.#log.info("boot", { nodeId: this.#nodeId, firstBoot, credentials: this.#record.mqtt ? "stored" : "none", wifi: this.#record.wifi ? "stored" : "none" });
    this.#checkPop();
    if (this.#radios()) {
      if (this.#record.wifi) this.#joinWifi();
      else this.#openWindow("no Wi-Fi credentials");
    } else this.#goOnline();
    return { firstBoot, nodeId: this.#nodeId, state: this.#state };
  }

  /** A PoP below the minimum disables provisioning; logged by rule and length, never the PoP. */
  #checkPop(): void {
    const p = this.#config.provisioning;
    if (p === undefined || (p.security ?? 2) === 0) return;
    try {
      checkPopStrength(p.pop);
    } catch (e) {
      if (!(e instanceof PopTooWeakError)) throw e;
      this.#popTooWeak = e;
      this.#log.error("pop-too-weak", { code: e.code, rule: e.rule, length: e.length, next: "provisioning disabled: write a stronger PoP at the factory" });
    }
  }

  /** With radios, the device provisions and joins Wi-Fi itself; without (desktop builds) it skips both. */
  #radios(): boolean {
    const p = this.#config.provisioning;
    if (p === undefined) return false;
    const ble = (p.ble ?? true) && this.#io.ble !== undefined;
    if (this.#io.wifi !== undefined && (ble || p.attachesTransport === true)) return true;
    this.#log.info("radios-absent", { wifi: this.#io.wifi !== undefined, ble: this.#io.ble !== undefined, next: "skip provisioning and Wi-Fi" });
    return false;
  }

  /** The network is up (or there is none to bring up): the cloud side of the lifecycle. */
  #goOnline(): void {
    const record = this.#record!;
    if (record.pending) {
      // A rotation was under way when the power went: finish it (commit or roll back).
      this.#rotating = true;
      this.#connect(record.pending);
    } else if (record.mqtt) this.#connect(record.mqtt);
    else this.#needsOnboarding("no cloud credentials");
  }

  #joinWifi(reason?: string): void {
    const creds = this.#record!.wifi!;
    const generation = this.#generation;
    this.#cancelWifiJoin?.();
    this.#setState("wifi-joining", reason);
    // The joiner stays on after joining: it watches the link and reports its loss.
    const cancel = joinWifi(this.#io, creds, this.#config.provisioning?.wifiJoin ?? DEFAULT_WIFI_JOIN, this.#log, {
      onConnected: () => {
        if (generation === this.#generation) this.#linkUp();
      },
      onFailed: () => undefined, // logged by the joiner
      onGiveUp: () => {
        if (this.#cancelWifiJoin === cancel) this.#cancelWifiJoin = undefined;
        if (generation === this.#generation) this.#openWindow("stored Wi-Fi network unreachable");
      },
      onLost: (why) => {
        if (this.#cancelWifiJoin === cancel) this.#cancelWifiJoin = undefined;
        if (generation === this.#generation) this.#linkLost(why);
      },
    });
    this.#cancelWifiJoin = cancel;
  }

  /** Wi-Fi is up: carry on where the cloud side left off (a stopped client resumes with its outbox). */
  #linkUp(): void {
    this.#linked = true;
    if (this.#client) {
      this.#setState(this.#rotating ? "rotating" : "connecting", "Wi-Fi joined");
      this.#client.start();
    } else if (this.#denied) {
      this.#setState("onboarding-denied", "Wi-Fi joined; still denied");
    } else this.#goOnline();
  }

  /** The joined network dropped: stop using it (nothing written) and join it again. */
  #linkLost(why: WifiFailure): void {
    this.#linked = false;
    if (this.#window) {
      const w = this.#window;
      this.#window = undefined;
      w.close();
    }
    this.#suspendCloud(false); // readings go on queueing at QoS 1 while the network is away
    this.#joinWifi(`Wi-Fi lost (${why})`);
  }

  /** Stop every network use of the cloud side; the MQTT client object (and its outbox) stays. */
  #suspendCloud(stopTelemetry = true): void {
    this.#cancelChain();
    if (this.#onboardingTimer !== undefined) this.#io.timers.clear(this.#onboardingTimer);
    this.#onboardingTimer = undefined;
    if (stopTelemetry) this.#stopTelemetry();
    this.#client?.stop();
  }

  #cancelChain(): void {
    this.#chainScope?.cancel();
    this.#chainScope = undefined;
  }

  #openWindow(reason: string): void {
    const p = this.#config.provisioning!;
    const generation = this.#generation;
    if (this.#popTooWeak !== undefined) {
      // no window guarded by a guessable PoP (boot logged why); stored Wi-Fi still works
      this.#setState("stopped", this.#popTooWeak.code);
      return;
    }
    this.#setState("provisioning", reason);
    const mapping = this.#config.factory?.userMapping;
    const window = openProvisioningWindow(this.#io, this.#record!.identity, {
      security: p.security ?? 2,
      pop: p.pop,
      ble: p.ble ?? true,
      popLimiter: this.#popLimiter,
      // ch_resp only for a mapping cloud that verifies our signatures, and only until a
      // provisioning has completed (stored Wi-Fi: the mapping was done then; a jammed network
      // reopening the window must not reopen the signing endpoint). Factory reset clears it.
      challengeResponse: mapping?.challengeResponse !== undefined && this.#record!.wifi === undefined,
      userAssociation: mapping?.secretKey ?? true,
      ...(p.windowTimeoutMs !== undefined ? { timeoutMs: p.windowTimeoutMs } : {}),
      ...(p.closeAfterSuccessMs !== undefined ? { closeAfterSuccessMs: p.closeAfterSuccessMs } : {}),
      ...(p.connectAttempts !== undefined ? { connectAttempts: p.connectAttempts } : {}),
      ...(p.retryDelayMs !== undefined ? { retryDelayMs: p.retryDelayMs } : {}),
      onEvent: (e) => {
        if (generation === this.#generation) this.#onWindow(e);
      },
    });
    this.#window = window;
    // The QR payload carries the PoP: it goes to the host (event, display), never into the log.
    this.#log.info("provisioning-open", { deviceName: window.deviceName, security: p.security ?? 2, qr: "see the opened event" });
    p.onWindow?.(window);
  }

  #onWindow(e: WindowEvent): void {
    this.#emit({ type: "provisioning", event: e });
    switch (e.type) {
      case "user-mapping-requested":
        if (!this.#trySave(mappingRequested(this.#record!, e.userId, e.secretKey), "user-mapping")) break;
        this.#log.info("user-mapping-pending", { userId: e.userId, reset: this.#record!.user?.pending?.reset ?? false });
        this.#forgetMappingPublish(); // a new pair (the user retrying) gets its own publish and bounds
        if (this.#state === "online") this.#publishMapping();
        break;
      case "wifi-connected": {
        // The channel is only a hint for the next join: one outside the Wi-Fi bands (1..196) is dropped, not stored.
        const channel = Number.isInteger(e.channel) && e.channel >= 1 && e.channel <= 196 ? e.channel : undefined;
        if (channel === undefined && e.channel !== 0) this.#log.warn("wifi-channel-ignored", { channel: e.channel });
        const wifi = { ssid: e.ssid, passphrase: e.passphrase, ...(e.bssid.length === 6 ? { bssid: e.bssid } : {}), ...(channel !== undefined ? { channel } : {}) };
        if (this.#trySave({ ...this.#record!, wifi }, "wifi")) this.#log.info("wifi-stored", { ip: e.ip });
        this.#linkUp(); // the window closes by itself once the app has read "connected"
        break;
      }
      case "wifi-lost":
        if (this.#linked) this.#linkLost(e.reason);
        break;
      case "wifi-failed":
        this.#log.warn("wifi-rejected", { reason: e.reason, next: "the app may send other credentials" });
        break;
      case "reprovision-requested":
        this.#stopOnlinePath();
        this.#linked = false;
        this.#cancelWifiJoin?.();
        this.#cancelWifiJoin = undefined;
        if (this.#record!.wifi) {
          const { wifi: _dropped, ...rest } = this.#record!;
          this.#record = rest;
          this.#store.save(this.#record);
        }
        this.#setState("provisioning", "re-provision requested");
        break;
      case "closed":
        this.#window = undefined;
        if (e.reason !== "timeout") break;
        if (this.#record!.wifi) {
          this.#joinWifi();
          break;
        }
        {
          const after = this.#config.provisioning!.reopenAfterMs ?? 60_000;
          this.#setState("provisioning-idle", after > 0 ? `window timed out; reopening in ${after} ms` : "window timed out");
          if (after > 0) {
            this.#windowTimer = this.#io.timers.set(() => {
              this.#windowTimer = undefined;
              this.#openWindow("reopen after timeout");
            }, after);
          }
        }
        break;
      default:
        break;
    }
  }

  /** Re-provisioning: the network is going away, so stop using it (the window stays). */
  #stopOnlinePath(): void {
    this.#suspendCloud();
    this.#client = undefined;
    this.#forgetMappingPublish();
  }

  /**
   * Publish the pending mapping pair at QoS 1; its PUBACK ("delivered") confirms it. It goes out only
   * in a session that has already had a PUBACK, and a session that ends without its PUBACK takes it
   * back (no outbox resend): a broker that drops us for this one topic then never looks like a
   * broker that refuses all our publishes. Bounded by `userMapping` (see DeviceConfig).
   */
  #publishMapping(): void {
    if (!this.#client || this.#client.state !== "online" || !this.#publishRefusal.acknowledged) return;
    if (this.#mappingMessageId !== undefined || this.#mappingAbandoned) return;
    const message = mappingMessage(this.#record!, this.#nodeId!);
    if (message === undefined) return;
    try {
      this.#mappingMessageId = this.#publish(message.topic, utf8(message.payload));
    } catch (e) {
      if (!(e instanceof OutboxFull)) throw e;
      this.#log.warn("user-mapping-deferred", { reason: e.message });
      return;
    }
    const userId = this.#record!.user!.pending!.userId;
    if (++this.#mappingSessions > 1) {
      this.#log.info("user-mapping-resent", { userId, session: this.#mappingSessions });
      return;
    }
    const maxWaitMs = this.#config.userMapping?.maxWaitMs ?? 600_000;
    this.#mappingTimer = this.#io.timers.set(() => {
      this.#mappingTimer = undefined;
      this.#abandonMapping(`no PUBACK within ${maxWaitMs} ms`);
    }, maxWaitMs);
    this.#log.info("user-mapping-published", { userId, messageId: this.#mappingMessageId ?? null });
    this.#emit({ type: "user-mapping", status: "published", userId });
  }

  /** Take the in-flight mapping publish back from the outbox. */
  #withdrawMapping(): void {
    if (this.#mappingMessageId !== undefined) this.#client?.discard(this.#mappingMessageId);
    this.#mappingMessageId = undefined;
  }

  /** Stop sending the mapping this boot; the pair stays in flash for the next boot (no write here). */
  #abandonMapping(why: string): void {
    if (this.#mappingTimer !== undefined) this.#io.timers.clear(this.#mappingTimer);
    this.#mappingTimer = undefined;
    this.#withdrawMapping();
    this.#mappingAbandoned = true;
    const userId = this.#record?.user?.pending?.userId;
    if (userId === undefined) return;
    this.#log.warn("user-mapping-abandoned", { userId, why, sessions: this.#mappingSessions, next: "kept for the next boot or a new request" });
    this.#emit({ type: "user-mapping", status: "abandoned", userId });
  }

  /** Forget this boot's mapping publish (and its bounds): the next chance publishes afresh. */
  #forgetMappingPublish(): void {
    if (this.#mappingTimer !== undefined) this.#io.timers.clear(this.#mappingTimer);
    this.#mappingTimer = undefined;
    this.#withdrawMapping();
    this.#mappingSessions = 0;
    this.#mappingAbandoned = false;
  }

  /** Every QoS 1 publish goes through here: the refusal watch needs to know when we last spoke. */
  #publish(topic: string, payload: Uint8Array, retain = false): number {
    const id = this.#client!.publish(topic, payload, { qos: 1, retain });
    if (this.#client!.state === "online") this.#publishRefusal.published(this.#io.clock.now());
    return id;
  }

  /** Publish one telemetry reading now (QoS 1: kept and resent until the broker has it). */
  publishTelemetry(fields: Readonly<Record<string, string | number | boolean>>): number | undefined {
    if (!this.#client || !this.#topics) return undefined;
    try {
      return this.#publish(this.#topics.telemetry, utf8(JSON.stringify(fields)));
    } catch (e) {
      if (!(e instanceof OutboxFull)) throw e;
      this.#log.warn("telemetry-dropped", { reason: e.message });
      return undefined;
    }
  }

  /**
   * The one save of a value that came from outside (a reply, a command, the phone): the store
   * refuses, before writing, a record it could not read back; then nothing changes and false is returned.
   */
  #trySave(next: CredentialRecord, what: string): boolean {
    try {
      this.#store.save(next);
    } catch (e) {
      if (!(e instanceof StoreRefused)) throw e;
      this.#log.error("store-refused", { what, code: e.code, detail: e.message });
      return false;
    }
    this.#record = next;
    return true;
  }

  /** Orderly shutdown: announce offline (retained), disconnect, stop timers. */
  shutdown(): void {
    this.#generation++;
    this.#cancelChain();
    if (this.#onboardingTimer !== undefined) this.#io.timers.clear(this.#onboardingTimer);
    this.#onboardingTimer = undefined;
    if (this.#mappingTimer !== undefined) this.#io.timers.clear(this.#mappingTimer);
    this.#mappingTimer = undefined;
    this.#linked = false;
    if (this.#windowTimer !== undefined) this.#io.timers.clear(this.#windowTimer);
    this.#windowTimer = undefined;
    this.#cancelWifiJoin?.();
    this.#cancelWifiJoin = undefined;
    this.#window?.close();
    this.#window = undefined;
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
    else {
      // A reset from "store-unreadable": nothing of the old record was usable, so a new identity.
      this.#record = { version: 1, identity: generateIdentity(this.#io) };
      this.#store.save(this.#record);
      this.#nodeId = nodeIdOf(this.#io.crypto, this.#record.identity);
    }
    this.#log.warn("factory-reset");
    this.#refusal = undefined;
    this.#onboardingRound = 0;
    this.#freshCredentials = false;
    this.#denied = false;
    this.#publishRefusal.reset();
    this.#mappingMessageId = undefined;
    this.#mappingSessions = 0;
    if (this.#radios()) {
      this.#io.wifi!.disconnect();
      this.#openWindow("factory reset");
    } else this.#needsOnboarding("factory reset");
  }

  #needsOnboarding(reason: string): void {
    this.#setState("needs-onboarding", reason);
    if (this.#config.factory) this.#onboard();
  }

  /** One run of the strategy chain; on success persist and connect, else back off and run again. */
  #onboard(): void {
    const factory = this.#config.factory!;
    const generation = this.#generation;
    // Everything the chain does goes through its own scope: re-provisioning, a factory reset, a
    // lost network or shutdown cancel it, and nothing it would obtain afterwards is used.
    this.#cancelChain();
    const scope = scopeIo(this.#io);
    this.#chainScope = scope;
    const current = () => generation === this.#generation && !scope.cancelled;
    this.#setState("onboarding", `chain ${factory.chain.join(" → ")}`);
    const log = this.#log.child("onboarding");
    const refusal = this.#refusal;
    void runChain(strategiesFor(factory), {
      io: scope.io,
      log,
      record: this.#record!,
      nodeId: this.#nodeId!,
      mac: this.#io.device.mac(),
      storedRejected: refusal !== undefined,
      ...(refusal ? { refusal } : {}),
    }, chainPolicyFor(factory), (event) => {
      if (!current()) return;
      if (event.type === "attempt") log.info("attempt", { strategy: event.strategy, attempt: event.attempt });
      if (event.type === "failed") {
        log.warn("failed", {
          strategy: event.strategy, kind: event.failure.kind, detail: event.failure.detail, status: event.failure.status,
          next: event.decision.action === "retry" ? `retry in ${event.decision.delayMs} ms` : event.decision.action === "stop" ? "stop" : "next strategy",
        });
      }
      if (event.type === "obtained") log.info("obtained", { strategy: event.strategy });
      this.#emit({ type: "onboarding", event });
    }, () => !current()).then((outcome) => {
      if (!current()) return;
      this.#chainScope = undefined;
      scope.cancel(); // a finished chain leaves nothing behind either
      this.#chainDone(outcome, log);
    }, (e: unknown) => {
      if (!current()) return;
      this.#chainScope = undefined;
      scope.cancel();
      log.error("chain-crashed", { detail: e instanceof Error ? e.message : "unknown" });
      this.#roundFailed("the chain failed unexpectedly");
    });
  }

  #chainDone(outcome: ChainOutcome, log: Logger): void {
    if (outcome.ok) {
      const mqtt = outcome.credentials.mqtt;
      const unchanged = outcome.strategy === "stored";
      if (!unchanged) {
        // One store write replaces the old credentials with the new ones, atomically.
        // Wi-Fi and a pending user mapping stay; a stale rotation does not.
        const { pending: _stale, ...kept } = this.#record!;
        if (!this.#trySave({ ...kept, mqtt, strategy: { name: outcome.strategy, state: outcome.credentials.state ?? {} } }, `credentials from ${outcome.strategy}`)) {
          this.#refusal = undefined;
          this.#roundFailed(`${outcome.strategy}: credentials the firmware cannot use`);
          return;
        }
        log.info("persisted", { strategy: outcome.strategy });
      }
      // Counted as a success once the broker takes them: a refusal of fresh credentials is a failed round.
      this.#freshCredentials = !unchanged;
      this.#refusal = undefined;
      this.#connect(mqtt);
      return;
    }
    const denied = outcome.failures.find((f) => f.failure.kind === "denied");
    if (denied) {
      // No timer: asking again on our own would override a person's decision.
      this.#denied = true;
      this.#setState("onboarding-denied", `${denied.strategy}: ${denied.failure.detail}`);
      return;
    }
    // The refusal has had its effect (this round skipped what the broker refused); the next
    // round tries everything again, so a cause fixed meanwhile (ID freed, device re-enabled) heals.
    this.#refusal = undefined;
    this.#roundFailed(outcome.failures.map((f) => `${f.strategy}: ${f.failure.kind}`).join(", ") || "no strategy applicable");
  }

  /** A chain round came to nothing: back off and run again, or park after `retry.maxRounds`. */
  #roundFailed(why: string): void {
    const factory = this.#config.factory!;
    const generation = this.#generation;
    const rounds = ++this.#onboardingRound;
    const maxRounds = factory.retry.maxRounds;
    let delayMs: number;
    if (maxRounds !== undefined && rounds >= maxRounds) {
      delayMs = factory.retry.parkedRetryMs ?? 3_600_000;
      this.#log.warn("onboarding-parked", { rounds, retryInMs: delayMs });
      this.#setState("onboarding-failed", `${why}; ${rounds} rounds failed; one more in ${delayMs} ms`);
    } else {
      delayMs = backoffDelay(chainPolicyFor(factory).backoff, rounds - 1, randomUnit(this.#io.random));
      this.#setState("onboarding-backoff", `${why}; again in ${delayMs} ms`);
    }
    this.#log.info("onboarding-round-failed", { rounds, delayMs });
    this.#onboardingTimer = this.#io.timers.set(() => {
      this.#onboardingTimer = undefined;
      if (generation === this.#generation) this.#onboard();
    }, delayMs);
  }

  #connect(mqtt: MqttCredentials): void {
    const { host, port } = parseBrokerUrl(mqtt.brokerUrl);
    const nodeId = this.#nodeId!;
    this.#topics = {
      telemetry: mqtt.topics?.telemetry ?? `devices/${nodeId}/telemetry`,
      status: mqtt.topics?.status ?? `devices/${nodeId}/status`,
      command: mqtt.topics?.command ?? `devices/${nodeId}/cmd`,
    };
    let client: MqttClient;
    try {
      client = this.#newClient(mqtt, host, port);
    } catch (e) {
      if (!(e instanceof MqttInputError)) throw e;
      // Credentials the client cannot even encode (stored by older firmware): as good as refused.
      this.#log.error("credentials-unusable", { code: e.code, detail: e.message });
      const reason: ConnackReason = e.code === "bad-client-id" ? "identifier-rejected" : "bad-credentials";
      if (this.#rotating) this.#rollBack(reason);
      else this.#credentialsRejected(reason);
      return;
    }
    client.on((event) => {
      if (this.#client === client) this.#onMqtt(event);
    });
    this.#client = client;
    this.#publishRefusal.connecting();
    this.#setState(this.#rotating ? "rotating" : "connecting");
    client.start();
  }

  #newClient(mqtt: MqttCredentials, host: string, port: number): MqttClient {
    return new MqttClient(this.#io, {
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
      will: { topic: this.#topics!.status, payload: utf8('{"online":false}'), qos: 1, retain: true },
      ...(this.#config.backoff ? { backoff: this.#config.backoff } : {}),
      ...(this.#config.maxOutbox !== undefined ? { maxOutbox: this.#config.maxOutbox } : {}),
      maxPacketSize: this.#config.factory?.limits?.mqttPacketBytes ?? BOARD_LIMITS.mqttPacketBytes,
    });
  }

  #onMqtt(event: ClientEvent): void {
    this.#emit({ type: "mqtt", event });
    switch (event.type) {
      case "dialing":
        this.#log.info("dialing", { host: event.host, port: event.port, attempt: event.attempt });
        if (this.#state !== "connecting" && this.#state !== "rotating") this.#setState(this.#rotating ? "rotating" : "connecting");
        break;
      case "transport-up":
        this.#log.info("tls-up", { clientId: this.#record?.mqtt?.clientId });
        break;
      case "online":
        this.#log.info("online", { sessionPresent: event.sessionPresent, resent: event.resent, ...(event.discarded ? { discarded: event.discarded } : {}) });
        if (this.#rotating) {
          this.#record = this.#store.commitRotation(this.#record!);
          this.#rotating = false;
          this.#log.info("rotation-committed", { clientId: this.#record.mqtt?.clientId, username: this.#record.mqtt?.username });
        }
        this.#sessionProof = { subscribed: false, acknowledged: false };
        this.#publishRefusal.sessionOnline(this.#io.clock.now());
        this.#setState("online");
        this.#client!.subscribe(this.#topics!.command, 1);
        this.#publish(this.#topics!.status, utf8('{"online":true}'), true);
        this.#startTelemetry();
        break;
      case "offline":
        this.#log.warn("offline", { reason: event.reason, detail: event.detail });
        if (this.#sessionEnded(event.reason)) return;
        break;
      case "backoff":
        this.#log.info("backoff", { delayMs: event.delayMs, attempt: event.attempt });
        this.#setState("backoff", `retry in ${event.delayMs} ms`);
        break;
      case "refused":
        this.#log.warn("refused", { reason: event.reason, willRetry: event.willRetry });
        if (event.willRetry) break;
        if (this.#rotating) this.#rollBack(event.reason);
        else this.#credentialsRejected(event.reason);
        break;
      case "message":
        // Next turn: the session acknowledges the message first, so the broker does not redeliver it.
        if (event.topic === this.#topics?.command) {
          this.#io.timers.set(() => {
            try {
              this.#onCommand(event.payload);
            } catch (e) {
              // A timer callback must not throw (on the board: abort, restart); the command is dropped.
              this.#log.error("command-failed", { code: typeof (e as { code?: unknown })?.code === "string" ? (e as { code: string }).code : "exception" });
            }
          }, 0);
        }
        break;
      case "fault":
        this.#log.error("mqtt-fault", { where: event.where, code: event.code });
        break;
      case "subscribed":
        // The device subscribes to its command topic only; a refused one (0x80) proves nothing.
        if (event.granted.some((code) => code === 0x80)) break;
        this.#sessionProof.subscribed = true;
        this.#proved();
        break;
      case "delivered":
        this.#log.debug("delivered", { messageId: event.messageId, topic: event.topic });
        this.#publishRefusal.acknowledge();
        this.#sessionProof.acknowledged = true;
        this.#proved();
        if (event.messageId === this.#mappingMessageId && event.topic === userMappingTopic(this.#nodeId!) && this.#record?.user?.pending) {
          if (this.#mappingTimer !== undefined) this.#io.timers.clear(this.#mappingTimer);
          this.#mappingTimer = undefined;
          this.#mappingMessageId = undefined;
          const userId = this.#record.user.pending.userId;
          this.#record = mappingDelivered(this.#record);
          this.#store.save(this.#record);
          this.#log.info("user-mapping-delivered", { userId });
          this.#emit({ type: "user-mapping", status: "delivered", userId });
        } else this.#publishMapping(); // the session has proved itself: the mapping may go out
        break;
      default:
        break;
    }
  }

  /** The session served us (subscription granted, publish acknowledged): the round that got these credentials succeeded. */
  #proved(): void {
    if (!this.#sessionProof.subscribed || !this.#sessionProof.acknowledged) return;
    this.#onboardingRound = 0;
    this.#freshCredentials = false;
  }

  /**
   * Commands from the cloud. Only rotation so far: {"rotate":{"username":…,"password":…}} (and
   * optionally "clientId"). Anything malformed is logged and ignored: a bad command must never
   * cost the device its working credentials.
   */
  #onCommand(payload: Uint8Array): void {
    let rotate: { username?: unknown; password?: unknown; clientId?: unknown } | undefined;
    try {
      const json = JSON.parse(fromUtf8(payload)) as { rotate?: unknown };
      if (typeof json === "object" && json !== null && typeof json.rotate === "object" && json.rotate !== null) rotate = json.rotate as typeof rotate;
    } catch {
      rotate = undefined;
    }
    const current = this.#record?.mqtt;
    if (!rotate || !current || typeof rotate.username !== "string" || typeof rotate.password !== "string" || rotate.username === "" ||
      (rotate.clientId !== undefined && (typeof rotate.clientId !== "string" || rotate.clientId === ""))) {
      this.#log.warn("command-ignored", { reason: "not a well-formed rotate command" });
      return;
    }
    if (rotate.username === current.username || this.#rotating || this.#state !== "online") {
      this.#log.info("command-ignored", { reason: rotate.username === current.username ? "rotation already applied" : "not online" });
      return;
    }
    const pending = {
      ...current,
      username: rotate.username,
      password: Secret.fromString(rotate.password),
      ...(typeof rotate.clientId === "string" ? { clientId: rotate.clientId } : {}),
    };
    try {
      this.#record = this.#store.beginRotation(this.#record!, pending);
    } catch (e) {
      if (!(e instanceof StoreRefused)) throw e;
      this.#log.warn("command-ignored", { reason: "rotation credentials the firmware cannot use", code: e.code, detail: e.message });
      return;
    }
    this.#log.info("rotation-pending", { username: pending.username });
    this.#stopTelemetry();
    this.#client?.stop();
    this.#rotating = true;
    this.#connect(pending);
  }

  #rollBack(reason: ConnackReason): void {
    this.#stopTelemetry();
    this.#client?.stop();
    this.#client = undefined;
    this.#rotating = false;
    this.#record = this.#store.rollbackRotation(this.#record!);
    this.#log.warn("rotation-rolled-back", { reason });
    if (this.#record.mqtt) this.#connect(this.#record.mqtt);
    else this.#needsOnboarding("rotation refused and no known-good credentials");
  }

  /**
   * A session ended. Takes back an unacknowledged mapping publish (and gives up on it after
   * `maxSessions`), and watches for a broker that drops us for publishing. True when the device has
   * moved on (re-onboarding).
   */
  #sessionEnded(reason: string): boolean {
    if (this.#mappingMessageId !== undefined) {
      this.#withdrawMapping();
      const maxSessions = this.#config.userMapping?.maxSessions ?? 5;
      if (this.#mappingSessions >= maxSessions) this.#abandonMapping(`no PUBACK in ${this.#mappingSessions} sessions`);
    }
    const verdict = this.#publishRefusal.sessionEnded(reason, this.#io.clock.now(), this.#client?.outboxSize ?? 0);
    if (verdict.kind === "ignored") return false;
    this.#log.warn("closed-after-publish", { strikes: verdict.strikes, of: verdict.of, sincePublishMs: verdict.sincePublishMs });
    if (verdict.kind === "strike") return false;
    this.#log.warn("publish-refused", { strikes: verdict.strikes, next: "re-onboarding" });
    this.#credentialsRejected("publish-refused");
    return true;
  }

  #credentialsRejected(reason: CredentialRefusal): void {
    this.#stopTelemetry();
    this.#client?.stop();
    this.#client = undefined;
    this.#forgetMappingPublish();
    // The stored record stays as it is: only a successful re-onboarding replaces it, so a broker
    // that refuses by mistake cannot destroy working credentials.
    this.#refusal = { strategy: this.#record?.strategy?.name ?? "stored", reason };
    const why = reason === "publish-refused" || refusalNeedsOnboarding(reason) ? `credentials rejected: ${reason}` : `broker refused: ${reason}`;
    if (this.#freshCredentials && this.#config.factory) {
      // The round's own credentials were turned down: that round failed. The first time, the next
      // round runs at once (it learns from the refusal, e.g. a taken client ID); a repeat backs off
      // (or parks), so a cloud that hands out credentials its broker refuses is not hammered.
      this.#freshCredentials = false;
      if (this.#onboardingRound === 0) this.#log.info("onboarding-round-failed", { rounds: 1, delayMs: 0 });
      if (this.#onboardingRound++ > 0) {
        this.#setState("needs-onboarding", why);
        this.#onboardingRound--; // #roundFailed counts it
        this.#roundFailed(why);
        return;
      }
    }
    this.#needsOnboarding(why);
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
