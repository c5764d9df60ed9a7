// The provisioning window: a self-contained module the lifecycle opens when the store has no
// valid Wi-Fi credentials (or after factory reset / re-provision). It advertises the protocomm
// GATT service over io.ble, runs the security handshake and the endpoints, drives io.wifi with
// the credentials it receives, and reports progress as events. It closes by itself after a
// successful connection (once the app had time to read "Connected") or after `timeoutMs`.
//
//   const w = openProvisioningWindow(io, identity, { security: 2, onEvent });
//   // events: opened → session-established → user-mapping-requested / challenge-signed →
//   //         credentials-received → wifi-connecting → wifi-connected → closed{success}
//   //         (→ wifi-lost, if the joined link drops later)
//   w.close();
import { toHex, utf8 } from "../bytes/bytes.js";
import { srpSalt, srpVerifier } from "../crypto/srp.js";
import { nodeIdOf } from "../identity/identity.js";
import { signFor } from "../identity/signing.js";
import type { ChallengeRateLimit } from "./challenge-response.js";
import type { Io, WifiAuthMode, WifiEvent, WifiFailure } from "../io/io.js";
import { Logger } from "../log/logger.js";
import { Secret } from "../secrets/secret.js";
import type { DeviceIdentity } from "../storage/credential-record.js";
import { buildGattService } from "./gatt.js";
import { PopAttemptLimiter } from "./pop-limiter.js";
import { qrPayload } from "./qr.js";
import type { SecurityConfig, SecurityVersion } from "./security.js";
import { ProvisioningService, type LockoutPolicy, type ScanSnapshot, type WifiBackend, type WifiProvState } from "./service.js";
import { DEFAULT_SERVICE_UUID } from "./uuid.js";

export interface ProvisioningWindowOptions {
  /** Default 2 (what current apps use). */
  readonly security?: SecurityVersion;
  /** Proof of possession; default: 8 random hex characters (RainMaker style). Security 0 ignores it. */
  readonly pop?: Secret;
  /** Security 2 username; default "wifiprov". */
  readonly username?: string;
  /** Default `PROV_` + the last 3 MAC bytes in hex. */
  readonly deviceName?: string;
  readonly serviceUuid?: string;
  /** Close (and report `closed{timeout}`) after this long; default 15 minutes. */
  readonly timeoutMs?: number;
  /** After the app has read status "Connected", close after this long (as IDF's cleanup delay); default 1000. */
  readonly closeAfterSuccessMs?: number;
  /** Connection attempts per apply before ConnectionFailed; default 3 (retries report attempt_failed). */
  readonly connectAttempts?: number;
  readonly retryDelayMs?: number;
  /**
   * The window scans for networks when it opens and again this long after each scan while it
   * stays open and no join is under way (default 20 s), so a blocking CmdScanStart is answered
   * from a finished scan at most `scanMaxAgeMs` old (default 30 s) — the GATT glue cannot hold a read.
   */
  readonly scanRefreshMs?: number;
  readonly scanMaxAgeMs?: number;
  /**
   * RainMaker `ch_resp` (challenge-response mapping): off by default. Turn it on only for a
   * mapping cloud that verifies this unit's Ed25519 signatures (the factory config's
   * `userMapping.challengeResponse`); the ESP RainMaker cloud does not (README, "ESP RainMaker apps").
   */
  readonly challengeResponse?: boolean;
  readonly challengeRate?: ChallengeRateLimit;
  /** RainMaker `cloud_user_assoc` (user ID + secret key, confirmed over MQTT once online); default on. */
  readonly userAssociation?: boolean;
  /** Tunes a limiter of this window's own (tests); ignored when `popLimiter` is given. */
  readonly lockout?: LockoutPolicy;
  /** The boot's wrong-PoP limiter (the lifecycle's), shared by every window and transport. */
  readonly popLimiter?: PopAttemptLimiter;
  /** Use the BLE transport from io.ble (default true when io.ble exists). HTTP is attached by the host. */
  readonly ble?: boolean;
  readonly onEvent?: (event: WindowEvent) => void;
}

export type WindowEvent =
  | { readonly type: "opened"; readonly deviceName: string; readonly qr: string; readonly nodeId: string }
  | { readonly type: "session-established"; readonly security: number }
  | { readonly type: "wrong-pop"; readonly failures: number; readonly lockedForMs: number }
  | { readonly type: "challenge-signed" }
  | { readonly type: "user-mapping-requested"; readonly userId: string; readonly secretKey: Secret }
  | { readonly type: "scan-finished"; readonly networks: number }
  | { readonly type: "credentials-received"; readonly ssid: Uint8Array }
  | { readonly type: "wifi-connecting"; readonly attempt: number }
  | { readonly type: "wifi-connected"; readonly ssid: Uint8Array; readonly passphrase: Secret; readonly bssid: Uint8Array; readonly channel: number; readonly ip: string }
  | { readonly type: "wifi-failed"; readonly reason: "auth-error" | "network-not-found" }
  /** The link joined through this window dropped (reported after a successful close too). */
  | { readonly type: "wifi-lost"; readonly reason: WifiFailure }
  | { readonly type: "reprovision-requested" }
  | { readonly type: "closed"; readonly reason: "success" | "timeout" | "closed" };

export interface ProvisioningWindow {
  readonly deviceName: string;
  readonly nodeId: string;
  readonly qr: string;
  /** The PoP (also the SRP password); for printing on the label / QR at boot. */
  readonly pop: Secret;
  /** The endpoint dispatcher; the host attaches extra transports (HTTP) to it. */
  readonly service: ProvisioningService;
  readonly isOpen: boolean;
  close(): void;
}

export function openProvisioningWindow(io: Io, identity: DeviceIdentity, options: ProvisioningWindowOptions = {}): ProvisioningWindow {
  const log = new Logger(io.log, () => io.clock.now(), "provisioning");
  const emit = (e: WindowEvent): void => options.onEvent?.(e);
  const security = options.security ?? 2;
  const username = options.username ?? "wifiprov";
  const nodeId = nodeIdOf(io.crypto, identity);
  io.wifi?.start();
  const pop = options.pop ?? randomPop(io.random);
  const deviceName = options.deviceName ?? defaultDeviceName(io);
  const serviceUuid = options.serviceUuid ?? DEFAULT_SERVICE_UUID;

  let securityConfig: SecurityConfig;
  if (security === 2) {
    const salt = srpSalt(io.random);
    const password = pop.revealBytes();
    securityConfig = { version: 2, patchVersion: 1, srp: { username: utf8(username), salt, verifier: srpVerifier(io.crypto, utf8(username), password, salt) } };
    password.fill(0);
  } else if (security === 1) {
    securityConfig = { version: 1, pop: pop.revealBytes() };
  } else {
    securityConfig = { version: 0 };
  }

  let open = true;
  const timers = new Set<number>();
  const later = (fn: () => void, ms: number): void => {
    const id = io.timers.set(() => {
      timers.delete(id);
      if (open) fn();
    }, ms);
    timers.add(id);
  };

  // ---- Wi-Fi side
  let pending: { ssid: Uint8Array; passphrase: Secret; bssid: Uint8Array; channel: number } | undefined;
  let state: WifiProvState = { state: "idle" };
  let latestScan: ScanSnapshot | undefined;
  let scanning = false;
  let attempt = 0;
  let closing = false;
  let linked = false; // the current attempt reached "connected"
  let closedBy: "success" | "timeout" | "closed" | undefined;
  let generation = 0; // ignore events from superseded attempts
  const maxAttempts = Math.max(1, options.connectAttempts ?? 3);

  const connect = (): void => {
    const creds = pending;
    const wifi = io.wifi;
    if (creds === undefined || wifi === undefined) return;
    attempt++;
    linked = false;
    const gen = ++generation;
    emit({ type: "wifi-connecting", attempt });
    log.info("wifi-connecting", { attempt });
    wifi.connect({ ssid: creds.ssid, passphrase: creds.passphrase, ...(creds.bssid.length === 6 ? { bssid: creds.bssid } : {}), ...(creds.channel > 0 ? { channel: creds.channel } : {}) }, (e: WifiEvent) => {
      if (gen !== generation) return;
      // The link this window made outlives a successful window: its loss still goes to the lifecycle.
      if (e.type === "disconnected" && linked) {
        linked = false;
        if (open && state.state === "connected") state = { state: "failed", reason: e.reason === "auth-error" ? "auth-error" : "network-not-found" };
        if (open || closedBy === "success") {
          log.warn("wifi-lost", { reason: e.reason });
          emit({ type: "wifi-lost", reason: e.reason });
        }
        return;
      }
      if (!open) return;
      if (e.type === "connected") {
        linked = true;
        const net = latestScan?.networks.find((n) => sameBytes(n.ssid, creds.ssid));
        const auth: WifiAuthMode = net?.auth ?? (creds.passphrase.byteLength > 0 ? "wpa2-psk" : "open");
        state = { state: "connected", ip: e.ip, ssid: creds.ssid, bssid: net?.bssid ?? creds.bssid, channel: net?.channel ?? creds.channel, auth };
        log.info("wifi-connected", { ip: e.ip });
        emit({ type: "wifi-connected", ssid: creds.ssid, passphrase: creds.passphrase, bssid: state.bssid, channel: state.channel, ip: e.ip });
        // close once the app has read "Connected" (see status()), or after 30 s if it never asks
        later(() => finish("success"), Math.max(30_000, options.closeAfterSuccessMs ?? 1000));
      } else if (e.type === "disconnected") {
        const reason = e.reason === "auth-error" ? "auth-error" : "network-not-found";
        const remaining = maxAttempts - attempt;
        if (remaining > 0) {
          state = { state: "connecting", attemptsRemaining: remaining };
          later(connect, options.retryDelayMs ?? 1000);
        } else {
          state = { state: "failed", reason };
          log.warn("wifi-failed", { reason });
          emit({ type: "wifi-failed", reason });
        }
      }
    });
  };

  // ---- background scan: at open, then refreshed while the window stays open
  const scan = (): void => {
    const wifi = io.wifi;
    if (wifi === undefined || scanning || !open) return;
    scanning = true;
    try {
      wifi.scan((networks) => {
        scanning = false;
        if (!open) return;
        latestScan = { networks, finishedAt: io.clock.monotonic() };
        emit({ type: "scan-finished", networks: networks.length });
        later(refresh, options.scanRefreshMs ?? 20_000);
      });
    } catch (e) {
      scanning = false;
      log.warn("scan-failed", { error: e instanceof Error ? e.message : String(e) });
    }
  };
  // no refresh while a join is under way (the radio is busy with it); the next request rescans
  const refresh = (): void => {
    if (state.state === "idle" || state.state === "failed") scan();
  };

  const wifiBackend: WifiBackend = {
    setConfig(c) {
      // The apps send Wi-Fi only after the cloud verified the signature: the mapping is done.
      if (service.challengeSignatures > 0) service.endChallengeResponse();
      pending = { ssid: c.ssid.slice(), passphrase: Secret.fromBytes(c.passphrase), bssid: c.bssid.slice(), channel: c.channel };
      emit({ type: "credentials-received", ssid: c.ssid.slice() });
      log.info("credentials-received", { ssidLength: c.ssid.length });
    },
    apply() {
      if (pending === undefined || io.wifi === undefined) return false;
      attempt = 0;
      state = { state: "connecting" };
      connect();
      return true;
    },
    status() {
      if (state.state === "connected" && !closing) {
        closing = true;
        later(() => finish("success"), options.closeAfterSuccessMs ?? 1000);
      }
      return state;
    },
    scanStart: () => scan(),
    latestScan: () => latestScan,
    reset() {
      if (state.state !== "failed") return false;
      pending = undefined;
      state = { state: "idle" };
      generation++;
      return true;
    },
    reprovision() {
      pending = undefined;
      state = { state: "idle" };
      generation++;
      io.wifi?.disconnect();
      emit({ type: "reprovision-requested" });
      return true;
    },
  };

  const service = new ProvisioningService({
    security: securityConfig,
    random: io.random,
    crypto: io.crypto,
    now: () => io.clock.monotonic(),
    wifi: wifiBackend,
    ...(options.scanMaxAgeMs !== undefined ? { scanMaxAgeMs: options.scanMaxAgeMs } : {}),
    rainmaker: {
      nodeId,
      challengeResponse: options.challengeResponse ?? false,
      ...(options.challengeRate !== undefined ? { challengeRate: options.challengeRate } : {}),
      userAssociation: options.userAssociation ?? true,
      sign: (challenge) => signFor(io.crypto, identity, "rmaker-challenge", challenge),
      setUserMapping(userId, secretKey) {
        emit({ type: "user-mapping-requested", userId, secretKey: Secret.fromString(secretKey) });
        return true;
      },
      onChallengeSigned: () => emit({ type: "challenge-signed" }),
    },
    popLimiter: options.popLimiter ?? new PopAttemptLimiter(() => io.clock.monotonic(), options.lockout !== undefined ? { burst: options.lockout.freeAttempts + 1, refillMs: options.lockout.baseDelayMs } : {}),
    maxRequestBytes: 4096,
    onEvent(e) {
      if (e.type === "session-established") {
        log.info("session-established", { security: e.security });
        emit({ type: "session-established", security: e.security });
      } else if (e.type === "wrong-pop") {
        log.warn("wrong-pop", { failures: e.failures, lockedForMs: e.lockedForMs });
        emit({ type: "wrong-pop", failures: e.failures, lockedForMs: e.lockedForMs });
      } else if (e.type === "config-rejected") {
        log.warn("config-rejected", { field: e.field });
      } else if (e.type === "request-failed") {
        log.warn("request-failed", { endpoint: e.endpoint, kind: e.kind });
      }
    },
  });

  // The peripheral is the unit's one GATT server (src/io/io.ts): this window opens advertising and
  // sessions on it and close() ends them; a peripheral that refuses (e.g. another GATT table than
  // the first window's) leaves the window to its other transports rather than failing the boot.
  let useBle = (options.ble ?? true) && io.ble !== undefined;
  if (useBle) {
    try {
      io.ble!.start({
        deviceName,
        advertisedService: serviceUuid,
        services: [buildGattService(service, serviceUuid)],
        onConnect: (c) => service.openSession(c.id),
        onDisconnect: (c) => service.closeSession(c.id),
      });
    } catch (e) {
      useBle = false;
      log.error("ble-unavailable", { error: e instanceof Error ? e.message : "unknown", code: String((e as { code?: unknown }).code ?? "") });
    }
  }

  const finish = (reason: "success" | "timeout" | "closed"): void => {
    if (!open) return;
    open = false;
    closedBy = reason;
    for (const id of timers) io.timers.clear(id);
    timers.clear();
    service.close();
    if (useBle) io.ble!.stop();
    log.info("closed", { reason });
    emit({ type: "closed", reason });
  };

  scan();
  const qr = qrPayload({ name: deviceName, pop: security === 0 ? "" : pop.revealString(), transport: useBle ? "ble" : "softap", security, username });
  later(() => finish("timeout"), options.timeoutMs ?? 15 * 60_000);
  log.info("opened", { deviceName, security, nodeId });
  emit({ type: "opened", deviceName, qr, nodeId });

  return {
    deviceName,
    nodeId,
    qr,
    pop,
    service,
    get isOpen() {
      return open;
    },
    close: () => finish("closed"),
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function randomPop(random: (into: Uint8Array) => void): Secret {
  const b = new Uint8Array(4);
  random(b);
  const pop = Secret.fromString(toHex(b));
  b.fill(0);
  return pop;
}

function defaultDeviceName(io: Io): string {
  const mac = io.device.mac();
  if (mac !== undefined) return "PROV_" + mac.split(":").slice(3).join("").toLowerCase();
  const b = new Uint8Array(3);
  io.random(b);
  return "PROV_" + toHex(b);
}
