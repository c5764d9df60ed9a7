// The protocomm endpoint dispatcher and the standard + RainMaker endpoint handlers, sans I/O.
// Transports (GATT in gatt.ts, HTTP in host-sim/provisioning/) call `handle()` with a session
// ID, an endpoint name and the request bytes; the result is the response bytes, or a thrown
// ProtocommError meaning "no response" (what Espressif's protocomm does on a handler error).
import { utf8 } from "../bytes/bytes.js";
import { decode, encode, ProtobufError, type ProtoObject } from "../protobuf/codec.js";
import {
  ChRespMsg,
  ChRespStatus,
  ConfigMsg,
  CtrlMsg,
  RMakerChRespPayload,
  RMakerConfigPayload,
  RMakerConfigStatus,
  ScanMsg,
  Status,
  WiFiConfigPayload,
  WiFiCtrlPayload,
  WiFiScanPayload,
  WifiStationState,
} from "../protobuf/messages.js";
import type { WifiAuthMode, WifiNetwork } from "../io/io.js";
import { ChallengeGate, type ChallengeRateLimit } from "./challenge-response.js";
import { ProtocommError } from "./errors.js";
import { PopAttemptLimiter } from "./pop-limiter.js";
import type { CryptoProvider } from "../crypto/provider.js";
import { createSecuritySession, type SecurityConfig, type SecuritySession } from "./security.js";

/** Standard endpoints and their BLE 16-bit IDs; custom ones get FF54, FF55, … in order. */
export const STANDARD_ENDPOINTS: readonly { readonly name: string; readonly id: number }[] = [
  { name: "prov-ctrl", id: 0xff4f },
  { name: "prov-scan", id: 0xff50 },
  { name: "prov-session", id: 0xff51 },
  { name: "prov-config", id: 0xff52 },
  { name: "proto-ver", id: 0xff53 },
];

export type WifiProvState =
  | { readonly state: "idle" }
  | { readonly state: "connecting"; readonly attemptsRemaining?: number }
  | { readonly state: "connected"; readonly ip: string; readonly ssid: Uint8Array; readonly bssid: Uint8Array; readonly channel: number; readonly auth: WifiAuthMode }
  | { readonly state: "failed"; readonly reason: "auth-error" | "network-not-found" };

export interface ScanSnapshot {
  readonly networks: readonly WifiNetwork[];
  readonly finishedAt: number;
}

/** What prov-config / prov-scan / prov-ctrl act on (the window implements it over io.wifi). */
export interface WifiBackend {
  setConfig(config: { ssid: Uint8Array; passphrase: Uint8Array; bssid: Uint8Array; channel: number }): void;
  /** false when there is nothing to apply. */
  apply(): boolean;
  status(): WifiProvState;
  /** Start a scan unless one is running; its results become `latestScan()` when it finishes. */
  scanStart(): void;
  /** The last finished scan and when it finished (on `now()`'s clock), if any. */
  latestScan(): ScanSnapshot | undefined;
  /** prov-ctrl reset: after a failure, clear the credentials and wait again. false = invalid state. */
  reset(): boolean;
  /** prov-ctrl reprov: re-enter provisioning even after success. */
  reprovision(): boolean;
}

export interface RainMakerBackend {
  readonly nodeId: string;
  /**
   * Serve `ch_resp` (challenge-response mapping) and advertise it in proto-ver. Only when the
   * factory config names a mapping cloud that verifies our signatures (issue 15 item 4).
   */
  readonly challengeResponse: boolean;
  /** ch_resp signatures per window and their spacing (default DEFAULT_CHALLENGE_RATE). */
  readonly challengeRate?: ChallengeRateLimit;
  /** Serve `cloud_user_assoc` (user ID + secret key mapping). */
  readonly userAssociation: boolean;
  /** Sign a ch_resp challenge (already checked by ChallengeGate) for the "rmaker-challenge" purpose only. */
  sign(challenge: Uint8Array): Uint8Array;
  /** Store the pair for the publish once online; false = could not store. */
  setUserMapping(userId: string, secretKey: string): boolean;
  onChallengeSigned?(): void;
}

/**
 * The former per-window lockout's knobs, kept for callers that tune them: `freeAttempts` wrong
 * PoPs pass without delay (the limiter's burst is one more) and `baseDelayMs` is its refill period.
 */
export interface LockoutPolicy {
  readonly freeAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs?: number;
}

export interface ProvisioningServiceOptions {
  readonly security: SecurityConfig;
  readonly random: (into: Uint8Array) => void;
  readonly crypto: CryptoProvider;
  /** Monotonic milliseconds (io.clock.monotonic): lockouts and scan ages must not follow SNTP. */
  readonly now: () => number;
  readonly wifi: WifiBackend;
  readonly rainmaker?: RainMakerBackend;
  /** Wrong-PoP limits; pass the boot's limiter so windows and transports share it (default: a new one). */
  readonly popLimiter?: PopAttemptLimiter;
  /** `prov.ver` in proto-ver. */
  readonly version?: string;
  /**
   * A blocking CmdScanStart is answered from a finished scan at most this old (default 30 s);
   * otherwise a new scan starts and the answer waits for it where the transport can wait (HTTP).
   */
  readonly scanMaxAgeMs?: number;
  /** Largest accepted request (HTTP: 4096; BLE: the stack's write buffer). */
  readonly maxRequestBytes?: number;
  readonly onEvent?: (event: ServiceEvent) => void;
}

export type ServiceEvent =
  | { readonly type: "session-started"; readonly session: number }
  | { readonly type: "session-established"; readonly session: number; readonly security: number }
  | { readonly type: "wrong-pop"; readonly failures: number; readonly lockedForMs: number }
  /** A SetConfig field (or an Apply with nothing valid to apply) was refused; never the value. */
  | { readonly type: "config-rejected"; readonly field: "ssid" | "passphrase" | "bssid" | "channel" | "apply" }
  | { readonly type: "request-failed"; readonly endpoint: string; readonly kind: string; readonly message: string };

type Handler = (request: Uint8Array) => Uint8Array;

const AUTH_CODES: Record<WifiAuthMode, number> = {
  open: 0,
  wep: 1,
  "wpa-psk": 2,
  "wpa2-psk": 3,
  "wpa-wpa2-psk": 4,
  "wpa2-enterprise": 5,
  "wpa3-psk": 6,
  "wpa2-wpa3-psk": 7,
};

export function authModeCode(mode: WifiAuthMode): number {
  return AUTH_CODES[mode];
}

function parse<T>(def: Parameters<typeof decode>[0], bytes: Uint8Array, what: string): T {
  try {
    return decode<T>(def, bytes);
  } catch (e) {
    if (e instanceof ProtobufError) throw new ProtocommError("malformed", `${what}: ${e.message}`);
    throw e;
  }
}

export class ProvisioningService {
  readonly #o: ProvisioningServiceOptions;
  readonly #handlers = new Map<string, Handler>();
  readonly #endpoints: { name: string; id: number }[] = [...STANDARD_ENDPOINTS];
  #sessionId: number | undefined;
  #session: SecuritySession | undefined;
  readonly #pop: PopAttemptLimiter;
  #challenges: ChallengeGate | undefined;
  #closed = false;
  /** The last SetConfig/Apply was refused: GetStatus reports this failure until a valid SetConfig. */
  #configRejected: "auth-error" | "network-not-found" | undefined;
  /** What scan status/results page through: fixed at CmdScanStart so pages never mix two scans. */
  #scanView: readonly WifiNetwork[] | undefined;
  /** A CmdScanStart waiting for a scan that finishes after `since`. */
  #scanAwaited: { readonly since: number; readonly blocking: boolean } | undefined;
  readonly #closeListeners: (() => void)[] = [];
  /** Requests handled and bytes in/out, for the figures. */
  readonly stats = { requests: 0, bytesIn: 0, bytesOut: 0 };

  constructor(options: ProvisioningServiceOptions) {
    this.#o = options;
    this.#pop = options.popLimiter ?? new PopAttemptLimiter(options.now);
    this.#handlers.set("prov-config", (r) => this.#config(r));
    this.#handlers.set("prov-scan", (r) => this.#scan(r));
    this.#handlers.set("prov-ctrl", (r) => this.#ctrl(r));
    const rm = options.rainmaker;
    let next = 0xff54;
    if (rm?.userAssociation) {
      this.#endpoints.push({ name: "cloud_user_assoc", id: next++ });
      this.#handlers.set("cloud_user_assoc", (r) => this.#userAssoc(r, rm));
    }
    if (rm?.challengeResponse) {
      this.#challenges = new ChallengeGate(rm.challengeRate);
      this.#endpoints.push({ name: "ch_resp", id: next++ });
      this.#handlers.set("ch_resp", (r) => this.#chResp(r, rm));
    }
  }

  /** Endpoint names and 16-bit IDs, in declaration order (for the GATT table). */
  get endpoints(): readonly { readonly name: string; readonly id: number }[] {
    return this.#endpoints;
  }

  /** The proto-ver JSON, consistent with what this service implements. */
  versionJson(): string {
    const sec = this.#o.security;
    const ver = this.#o.version ?? "v1.1";
    // What each generation announces (reference §1.5): IDF wifi_provisioning "v1.1" lists only
    // wifi_scan, network_provisioning also wifi_prov (esp_prov takes its Wi-Fi path on it). Both
    // serve prov-ctrl reset (after a failure only) and reprov, as this service does.
    const cap: string[] = ver.startsWith("netprov-") ? ["wifi_prov", "wifi_scan"] : ["wifi_scan"];
    if (sec.version === 0) cap.push("no_sec");
    if (sec.version === 1 && (sec.pop?.length ?? 0) === 0) cap.push("no_pop");
    const prov: Record<string, unknown> = { ver, sec_ver: sec.version };
    if (sec.version === 2) prov.sec_patch_ver = sec.patchVersion ?? 1;
    prov.cap = cap;
    const out: Record<string, unknown> = {};
    if (this.#o.rainmaker?.challengeResponse) out.rmaker_extra = { ver: "1.0", cap: ["ch_resp"] };
    out.prov = prov;
    return JSON.stringify(out);
  }

  /**
   * Stop serving for good (window closed, or provisioning succeeded): the session is dropped and
   * every later request, on any transport, is refused with ProtocommError "closed". Transports
   * hear about it through `onClose` (the HTTP transport drops its connections).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#sessionId = undefined;
    this.#session = undefined;
    for (const listener of this.#closeListeners.splice(0)) listener();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Called once when the service closes (at once if it already has). */
  onClose(listener: () => void): void {
    if (this.#closed) listener();
    else this.#closeListeners.push(listener);
  }

  /** A transport session begins (BLE connect, new HTTP cookie). Replaces any other session; none once closed. */
  openSession(id: number): void {
    if (this.#closed) return;
    this.#pop.sessionChanged(id);
    this.#sessionId = id;
    this.#session = createSecuritySession(this.#o.security, this.#o.random, this.#o.crypto);
    this.#o.onEvent?.({ type: "session-started", session: id });
  }

  /** A transport session ends (BLE disconnect): all cipher state is dropped. */
  closeSession(id: number): void {
    if (this.#sessionId !== id) return;
    this.#sessionId = undefined;
    this.#session = undefined;
  }

  hasSession(id: number): boolean {
    return this.#sessionId === id;
  }

  handle(sessionId: number, endpoint: string, request: Uint8Array): Uint8Array {
    try {
      const out = this.#handle(sessionId, endpoint, request);
      this.stats.requests++;
      this.stats.bytesIn += request.length;
      this.stats.bytesOut += out.length;
      return out;
    } catch (e) {
      if (e instanceof ProtocommError) this.#o.onEvent?.({ type: "request-failed", endpoint, kind: e.kind, message: e.message });
      throw e;
    }
  }

  #handle(sessionId: number, endpoint: string, request: Uint8Array): Uint8Array {
    if (this.#closed) throw new ProtocommError("closed", "provisioning is closed");
    if (request.length > (this.#o.maxRequestBytes ?? 4096)) throw new ProtocommError("invalid", `request of ${request.length} bytes is too large`);
    if (endpoint === "proto-ver") return utf8(this.versionJson());
    if (this.#sessionId !== sessionId || this.#session === undefined) throw new ProtocommError("no-session", "not the current transport session");
    const session = this.#session;
    if (endpoint === "prov-session") return this.#handshake(session, sessionId, request);
    const handler = this.#handlers.get(endpoint);
    if (handler === undefined) throw new ProtocommError("unknown-endpoint", `no endpoint ${endpoint}`);
    if (!session.established) throw new ProtocommError("no-session", "security session not established");
    const plain = session.decrypt(request); // advances the cipher even if the handler then fails
    return session.encrypt(handler(plain));
  }

  #handshake(session: SecuritySession, sessionId: number, request: Uint8Array): Uint8Array {
    const gate = this.#pop.check(sessionId);
    if (!gate.allowed) {
      throw new ProtocommError("locked-out", gate.reason === "session" ? "too many wrong PoP attempts on this connection; reconnect" : `too many wrong PoP attempts; retry in ${gate.retryInMs} ms`);
    }
    try {
      const out = session.handshake(request);
      if (session.established) {
        this.#pop.succeeded(sessionId);
        this.#o.onEvent?.({ type: "session-established", session: sessionId, security: this.#o.security.version });
      }
      return out;
    } catch (e) {
      if (e instanceof ProtocommError && e.kind === "wrong-pop") {
        const wait = this.#pop.failed(sessionId);
        this.#o.onEvent?.({ type: "wrong-pop", failures: this.#pop.failures, lockedForMs: wait });
      }
      throw e;
    }
  }

  // ---- prov-config

  #config(request: Uint8Array): Uint8Array {
    const m = parse<{ msg: number; cmd_set_config?: { ssid: Uint8Array; passphrase: Uint8Array; bssid: Uint8Array; channel: number } }>(WiFiConfigPayload, request, "prov-config");
    const wifi = this.#o.wifi;
    switch (m.msg) {
      case ConfigMsg.CmdGetStatus: {
        // A refused SetConfig/Apply shows as a failed connection: iOS ignores the refusal's status
        // and polls GetStatus, which would otherwise say "Connecting" until the window closes.
        const rejected = this.#configRejected;
        return encode(WiFiConfigPayload, { msg: ConfigMsg.RespGetStatus, resp_get_status: statusMessage(rejected !== undefined ? { state: "failed", reason: rejected } : wifi.status()) });
      }
      case ConfigMsg.CmdSetConfig: {
        const c = m.cmd_set_config;
        if (c === undefined) throw new ProtocommError("invalid", "SetConfig without cmd_set_config");
        const refused = wifiConfigProblem(c);
        if (refused !== undefined) {
          this.#configRejected = refused.reason;
          this.#o.onEvent?.({ type: "config-rejected", field: refused.field });
        } else {
          this.#configRejected = undefined;
          wifi.setConfig(c);
        }
        return encode(WiFiConfigPayload, { msg: ConfigMsg.RespSetConfig, resp_set_config: { status: refused === undefined ? Status.Success : Status.InvalidArgument } });
      }
      case ConfigMsg.CmdApplyConfig: {
        // esp_prov sends msg only (08 04); Android sets the empty oneof: both are accepted.
        // After a refused SetConfig nothing is applied (not an older accepted network either).
        const applied = this.#configRejected === undefined && wifi.apply();
        if (!applied) {
          this.#configRejected ??= "network-not-found";
          this.#o.onEvent?.({ type: "config-rejected", field: "apply" });
        }
        const status = applied ? Status.Success : Status.InvalidArgument;
        return encode(WiFiConfigPayload, { msg: ConfigMsg.RespApplyConfig, resp_apply_config: { status } });
      }
      default:
        throw new ProtocommError("invalid", `prov-config: unknown msg ${m.msg}`);
    }
  }

  // ---- prov-scan

  #scan(request: Uint8Array): Uint8Array {
    const m = parse<{ msg: number; cmd_scan_start?: { blocking: boolean }; cmd_scan_result?: { start_index: number; count: number } }>(WiFiScanPayload, request, "prov-scan");
    const wifi = this.#o.wifi;
    switch (m.msg) {
      case ScanMsg.CmdScanStart: {
        // Espressif answers a blocking start once the scan is done, and the clients then read the
        // status once. A GATT read cannot be delayed, so the window keeps a scan that is never
        // older than scanMaxAgeMs; without one, a new scan starts and the status reports it pending.
        const blocking = m.cmd_scan_start?.blocking ?? false;
        const latest = wifi.latestScan();
        const now = this.#o.now();
        if (blocking && latest !== undefined && now - latest.finishedAt <= (this.#o.scanMaxAgeMs ?? 30_000)) {
          this.#scanView = latest.networks;
          this.#scanAwaited = undefined;
        } else {
          this.#scanView = undefined;
          this.#scanAwaited = { since: now, blocking };
          wifi.scanStart();
        }
        return encode(WiFiScanPayload, { msg: ScanMsg.RespScanStart, status: Status.Success, resp_scan_start: {} });
      }
      case ScanMsg.CmdScanStatus: {
        const results = this.#currentScan();
        return encode(WiFiScanPayload, { msg: ScanMsg.RespScanStatus, status: Status.Success, resp_scan_status: { scan_finished: results !== undefined, result_count: results?.length ?? 0 } });
      }
      case ScanMsg.CmdScanResult: {
        const results = this.#currentScan();
        const want = m.cmd_scan_result ?? { start_index: 0, count: 0 };
        if (results === undefined || want.start_index + want.count > results.length) {
          return encode(WiFiScanPayload, { msg: ScanMsg.RespScanResult, status: Status.InvalidArgument, resp_scan_result: { entries: [] } });
        }
        const entries: ProtoObject[] = results.slice(want.start_index, want.start_index + want.count).map((n) => ({ ssid: n.ssid, channel: n.channel, rssi: n.rssi, bssid: n.bssid, auth: authModeCode(n.auth) }));
        return encode(WiFiScanPayload, { msg: ScanMsg.RespScanResult, status: Status.Success, resp_scan_result: { entries } });
      }
      default:
        throw new ProtocommError("invalid", `prov-scan: unknown msg ${m.msg}`);
    }
  }

  /** The scan the client asked for, once finished (adopting the awaited one when it lands). */
  #currentScan(): readonly WifiNetwork[] | undefined {
    const awaited = this.#scanAwaited;
    if (awaited !== undefined) {
      const latest = this.#o.wifi.latestScan();
      if (latest !== undefined && latest.finishedAt >= awaited.since) {
        this.#scanView = latest.networks;
        this.#scanAwaited = undefined;
      }
    }
    return this.#scanView;
  }

  /**
   * True while a blocking CmdScanStart was answered before its scan finished. A transport that
   * can hold a response (HTTP) sends the RespScanStart only once this is false, as Espressif's
   * device does; its bytes do not depend on the scan, so holding them is enough.
   */
  get blockingScanPending(): boolean {
    return this.#scanAwaited?.blocking === true && this.#currentScan() === undefined;
  }

  // ---- prov-ctrl

  #ctrl(request: Uint8Array): Uint8Array {
    const m = parse<{ msg: number }>(WiFiCtrlPayload, request, "prov-ctrl");
    switch (m.msg) {
      case CtrlMsg.CmdCtrlReset: {
        // a refused config is a failure like a failed join: reset clears it and waits again
        const wasRejected = this.#configRejected !== undefined;
        this.#configRejected = undefined;
        const ok = this.#o.wifi.reset() || wasRejected;
        return encode(WiFiCtrlPayload, { msg: CtrlMsg.RespCtrlReset, status: ok ? Status.Success : Status.InternalError, resp_ctrl_reset: {} });
      }
      case CtrlMsg.CmdCtrlReprov:
        return encode(WiFiCtrlPayload, { msg: CtrlMsg.RespCtrlReprov, status: this.#o.wifi.reprovision() ? Status.Success : Status.InternalError, resp_ctrl_reprov: {} });
      default:
        throw new ProtocommError("invalid", `prov-ctrl: unknown msg ${m.msg}`);
    }
  }

  // ---- RainMaker: cloud_user_assoc

  #userAssoc(request: Uint8Array, rm: RainMakerBackend): Uint8Array {
    const m = parse<{ msg: number; cmd_set_user_mapping?: { UserID: string; SecretKey: string } }>(RMakerConfigPayload, request, "cloud_user_assoc");
    if (m.msg !== 0) return new Uint8Array(0); // other msg values: OK with no output (as esp_rmaker_user_mapping.c)
    const c = m.cmd_set_user_mapping;
    let status: number = RMakerConfigStatus.Success;
    if (c === undefined || c.UserID.length === 0 || c.SecretKey.length === 0 || !rm.setUserMapping(c.UserID, c.SecretKey)) status = RMakerConfigStatus.InvalidParam;
    return encode(RMakerConfigPayload, { msg: 1, resp_set_user_mapping: { Status: status, NodeId: rm.nodeId } });
  }

  // ---- RainMaker: ch_resp

  /** The mapping is done (the window saw credentials after a signature): ch_resp answers Disabled from now on. */
  endChallengeResponse(): void {
    this.#challenges?.disable();
  }

  /** ch_resp signatures given in this window (0 when ch_resp is not served). */
  get challengeSignatures(): number {
    return this.#challenges?.signatures ?? 0;
  }

  #chResp(request: Uint8Array, rm: RainMakerBackend): Uint8Array {
    const gate = this.#challenges!;
    const m = parse<{ msg: number; cmdChallengeResponsePayload?: { payload: Uint8Array } }>(RMakerChRespPayload, request, "ch_resp");
    switch (m.msg) {
      case ChRespMsg.CmdChallengeResponse: {
        const challenge = m.cmdChallengeResponsePayload?.payload;
        if (challenge === undefined || challenge.length === 0) throw new ProtocommError("invalid", "ch_resp: empty challenge");
        const refuse = (status: number) => encode(RMakerChRespPayload, { msg: ChRespMsg.RespChallengeResponse, status });
        switch (gate.admit(challenge, this.#o.now())) {
          case "disabled": return refuse(ChRespStatus.Disabled);
          case "bad-format": return refuse(ChRespStatus.InvalidParam);
          case "too-soon": return refuse(ChRespStatus.Fail);
          default: break;
        }
        const signature = rm.sign(challenge);
        rm.onChallengeSigned?.();
        return encode(RMakerChRespPayload, { msg: ChRespMsg.RespChallengeResponse, status: ChRespStatus.Success, respChallengeResponsePayload: { payload: signature, node_id: rm.nodeId } });
      }
      case ChRespMsg.CmdGetNodeID:
        return encode(RMakerChRespPayload, { msg: ChRespMsg.RespGetNodeID, status: ChRespStatus.Success, respGetNodeIDPayload: { node_id: rm.nodeId } });
      case ChRespMsg.CmdDisableChalResp:
        gate.disable();
        return encode(RMakerChRespPayload, { msg: ChRespMsg.RespDisableChalResp, status: ChRespStatus.Success, respDisableChalRespPayload: {} });
      default:
        throw new ProtocommError("invalid", `ch_resp: unknown msg ${m.msg}`);
    }
  }
}

/**
 * Why a SetConfig cannot be used, as the failure the apps show: a bad SSID, BSSID or channel is
 * "network not found", a bad passphrase an authentication error. SSID 1–32 bytes; passphrase
 * up to 63 bytes, or exactly 64 hex digits (a raw WPA PSK, which the ESP32 accepts); BSSID empty
 * or 6 bytes; channel 0 (any) or 1–14 (the ESP32's 2.4 GHz band).
 */
function wifiConfigProblem(c: { ssid: Uint8Array; passphrase: Uint8Array; bssid: Uint8Array; channel: number }): { field: "ssid" | "passphrase" | "bssid" | "channel"; reason: "auth-error" | "network-not-found" } | undefined {
  if (c.ssid.length === 0 || c.ssid.length > 32) return { field: "ssid", reason: "network-not-found" };
  if (c.bssid.length !== 0 && c.bssid.length !== 6) return { field: "bssid", reason: "network-not-found" };
  if (!Number.isInteger(c.channel) || c.channel < 0 || c.channel > 14) return { field: "channel", reason: "network-not-found" };
  const p = c.passphrase;
  if (p.length > 64 || (p.length === 64 && !p.every(isHexDigit))) return { field: "passphrase", reason: "auth-error" };
  return undefined;
}

function isHexDigit(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}

function statusMessage(s: WifiProvState): ProtoObject {
  switch (s.state) {
    case "connected":
      return { status: Status.Success, sta_state: WifiStationState.Connected, connected: { ip4_addr: s.ip, auth_mode: authModeCode(s.auth), ssid: s.ssid, bssid: s.bssid, channel: s.channel } };
    case "failed":
      return { status: Status.Success, sta_state: WifiStationState.ConnectionFailed, fail_reason: s.reason === "network-not-found" ? 1 : 0 };
    case "connecting":
      return s.attemptsRemaining !== undefined
        ? { status: Status.Success, sta_state: WifiStationState.Connecting, attempt_failed: { attempts_remaining: s.attemptsRemaining } }
        : { status: Status.Success, sta_state: WifiStationState.Connecting };
    default:
      // nothing applied yet: "Connecting" rather than Disconnected, which Android treats as fatal
      return { status: Status.Success, sta_state: WifiStationState.Connecting };
  }
}
