// The phone-app half of protocomm (what the ESP BLE Provisioning app, esp_prov and RainMaker's
// rmaker_prov do), engine-neutral so the same code drives the device in Node tests, on XS, and
// in the CLI. A `ProtocommTransport` carries one request blob to one endpoint and returns the
// response blob (BLE: write then read the characteristic; HTTP: POST /<endpoint>).
import { equalBytes, fromUtf8, utf8 } from "../bytes/bytes.js";
import { AesCtrStream, aesGcmDecrypt, aesGcmEncrypt } from "../crypto/aes.js";
import type { CryptoProvider } from "../crypto/provider.js";
import { jsCrypto } from "../crypto/js-provider.js";
import { SrpClient } from "../crypto/srp.js";
import { x25519, x25519KeyPair } from "../crypto/x25519.js";
import { decode, encode, type ProtoObject } from "../protobuf/codec.js";
import {
  ChRespMsg,
  ConfigMsg,
  CtrlMsg,
  RMakerChRespPayload,
  RMakerConfigPayload,
  ScanMsg,
  SessionData,
  WiFiConfigPayload,
  WiFiCtrlPayload,
  WiFiScanPayload,
} from "../protobuf/messages.js";
import { incrementCounter, type SecurityVersion } from "./security.js";

export interface ProtocommTransport {
  send(endpoint: string, data: Uint8Array): Promise<Uint8Array>;
}

export class ProvisioningClientError extends Error {
  override readonly name = "ProvisioningClientError";
  constructor(message: string) {
    super(message);
  }
}

export interface VersionInfo {
  readonly ver: string;
  readonly secVer: number | undefined;
  readonly secPatchVer: number;
  readonly cap: readonly string[];
  readonly raw: Record<string, unknown>;
}

export interface StatusReport {
  readonly state: "connected" | "connecting" | "disconnected" | "failed";
  readonly failReason?: "auth-error" | "network-not-found";
  readonly ip?: string;
  readonly attemptsRemaining?: number;
}

export interface ScanEntry {
  readonly ssid: Uint8Array;
  readonly channel: number;
  readonly rssi: number;
  readonly bssid: Uint8Array;
  readonly auth: number;
}

/** Counts what crosses the link, for the figures in the report. */
export interface TrafficCounter {
  requests: number;
  bytesSent: number;
  bytesReceived: number;
}

export class ProvisioningClient {
  readonly traffic: TrafficCounter = { requests: 0, bytesSent: 0, bytesReceived: 0 };
  #encrypt: (d: Uint8Array) => Uint8Array = (d) => d;
  #decrypt: (d: Uint8Array) => Uint8Array = (d) => d;
  #secured = false;

  readonly #sleep: (ms: number) => Promise<void>;

  /** `sleep` paces status polling (scan results, connection status); default: no wait. */
  constructor(
    readonly transport: ProtocommTransport,
    readonly random: (into: Uint8Array) => void,
    sleep?: (ms: number) => Promise<void>,
    /** The phone's crypto; default: JavaScript (this module is the phone side, never on the board). */
    readonly crypto: CryptoProvider = jsCrypto,
  ) {
    this.#sleep = sleep ?? (() => Promise.resolve());
  }

  /** Poll prov-config status until connected or failed (Android polls every 5 s; `intervalMs` here). */
  async waitForConnection(intervalMs = 500, maxPolls = 120, onStatus?: (s: StatusReport) => void): Promise<StatusReport> {
    for (let i = 0; i < maxPolls; i++) {
      const s = await this.getStatus();
      onStatus?.(s);
      if (s.state === "connected" || s.state === "failed" || s.state === "disconnected") return s;
      await this.#sleep(intervalMs);
    }
    throw new ProvisioningClientError("no connection result in time");
  }

  async #raw(endpoint: string, data: Uint8Array): Promise<Uint8Array> {
    this.traffic.requests++;
    this.traffic.bytesSent += data.length;
    const out = await this.transport.send(endpoint, data);
    this.traffic.bytesReceived += out.length;
    return out;
  }

  /** An encrypted request to a REQ endpoint (after the handshake). */
  async request(endpoint: string, plain: Uint8Array): Promise<Uint8Array> {
    if (!this.#secured) throw new ProvisioningClientError("no session: call establishSession() first");
    const response = await this.#raw(endpoint, this.#encrypt(plain));
    return this.#decrypt(response);
  }

  async version(probe = "ESP"): Promise<VersionInfo> {
    const text = fromUtf8(await this.#raw("proto-ver", utf8(probe)));
    const raw = JSON.parse(text) as Record<string, unknown>;
    const prov = (raw.prov ?? {}) as { ver?: string; sec_ver?: number; sec_patch_ver?: number; cap?: string[] };
    return { ver: prov.ver ?? "", secVer: prov.sec_ver, secPatchVer: prov.sec_patch_ver ?? 0, cap: prov.cap ?? [], raw };
  }

  async establishSession(security: SecurityVersion, options: { pop?: string; username?: string; secPatchVer?: number } = {}): Promise<void> {
    this.#secured = false;
    if (security === 0) {
      const r = decode<{ sec_ver: number; sec0?: { msg: number } }>(SessionData, await this.#raw("prov-session", encode(SessionData, { sec_ver: 0, sec0: { msg: 0, sc: {} } })));
      if (r.sec_ver !== 0 || r.sec0 === undefined) throw new ProvisioningClientError("device did not answer Security 0");
      this.#encrypt = (d) => d;
      this.#decrypt = (d) => d;
    } else if (security === 1) {
      await this.#security1(utf8(options.pop ?? ""));
    } else {
      await this.#security2(utf8(options.username ?? "wifiprov"), utf8(options.pop ?? ""), options.secPatchVer ?? 1);
    }
    this.#secured = true;
  }

  async #security1(pop: Uint8Array): Promise<void> {
    const pair = x25519KeyPair(this.random);
    const r0 = decode<{ sec1?: { msg: number; sr0?: { status: number; device_pubkey: Uint8Array; device_random: Uint8Array } } }>(
      SessionData,
      await this.#raw("prov-session", encode(SessionData, { sec_ver: 1, sec1: { msg: 0, sc0: { client_pubkey: pair.publicKey } } })),
    );
    const sr0 = r0.sec1?.sr0;
    if (sr0 === undefined || sr0.status !== 0 || sr0.device_pubkey.length !== 32 || sr0.device_random.length !== 16) throw new ProvisioningClientError("bad SessionResp0");
    const key = x25519(pair.secretKey, sr0.device_pubkey);
    if (pop.length > 0) {
      const h = this.crypto.sha256(pop);
      for (let i = 0; i < 32; i++) key[i]! ^= h[i]!;
    }
    const stream = new AesCtrStream(this.crypto, key, sr0.device_random);
    const verify = stream.apply(sr0.device_pubkey);
    let resp1: Uint8Array;
    try {
      resp1 = await this.#raw("prov-session", encode(SessionData, { sec_ver: 1, sec1: { msg: 2, sc1: { client_verify_data: verify } } }));
    } catch (e) {
      throw new ProvisioningClientError(`session refused (wrong PoP?): ${e instanceof Error ? e.message : String(e)}`);
    }
    const r1 = decode<{ sec1?: { sr1?: { status: number; device_verify_data: Uint8Array } } }>(SessionData, resp1);
    const sr1 = r1.sec1?.sr1;
    if (sr1 === undefined || sr1.status !== 0) throw new ProvisioningClientError("bad SessionResp1");
    if (!equalBytes(stream.apply(sr1.device_verify_data), pair.publicKey)) throw new ProvisioningClientError("device failed to prove the key (wrong PoP?)");
    this.#encrypt = (d) => stream.apply(d);
    this.#decrypt = (d) => stream.apply(d);
  }

  async #security2(username: Uint8Array, password: Uint8Array, patch: number): Promise<void> {
    const srp = new SrpClient(this.crypto, username, password, this.random);
    const r0 = decode<{ sec2?: { sr0?: { status: number; device_pubkey: Uint8Array; device_salt: Uint8Array } } }>(
      SessionData,
      await this.#raw("prov-session", encode(SessionData, { sec_ver: 2, sec2: { msg: 0, sc0: { client_username: username, client_pubkey: srp.publicKey } } })),
    );
    const sr0 = r0.sec2?.sr0;
    if (sr0 === undefined || sr0.status !== 0) throw new ProvisioningClientError("bad S2SessionResp0");
    const proof = srp.processChallenge(sr0.device_salt, sr0.device_pubkey);
    let resp1: Uint8Array;
    try {
      resp1 = await this.#raw("prov-session", encode(SessionData, { sec_ver: 2, sec2: { msg: 2, sc1: { client_proof: proof } } }));
    } catch (e) {
      throw new ProvisioningClientError(`session refused (wrong PoP?): ${e instanceof Error ? e.message : String(e)}`);
    }
    const r1 = decode<{ sec2?: { sr1?: { status: number; device_proof: Uint8Array; device_nonce: Uint8Array } } }>(SessionData, resp1);
    const sr1 = r1.sec2?.sr1;
    if (sr1 === undefined || sr1.status !== 0 || sr1.device_nonce.length !== 12) throw new ProvisioningClientError("bad S2SessionResp1");
    if (!srp.verifyServerProof(sr1.device_proof)) throw new ProvisioningClientError("device failed the SRP proof");
    const key = srp.sessionKey.subarray(0, 32);
    const nonce = sr1.device_nonce.slice();
    const step = (): Uint8Array => {
      const used = nonce.slice();
      if (patch === 1) incrementCounter(nonce);
      return used;
    };
    this.#encrypt = (d) => aesGcmEncrypt(this.crypto, key, step(), d);
    this.#decrypt = (d) => aesGcmDecrypt(this.crypto, key, step(), d);
  }

  // ---- prov-config

  async setConfig(ssid: Uint8Array | string, passphrase: string, extra: { bssid?: Uint8Array; channel?: number } = {}): Promise<number> {
    const body = encode(WiFiConfigPayload, {
      msg: ConfigMsg.CmdSetConfig,
      cmd_set_config: { ssid: typeof ssid === "string" ? utf8(ssid) : ssid, passphrase: utf8(passphrase), bssid: extra.bssid ?? new Uint8Array(0), channel: extra.channel ?? 0 },
    });
    const r = decode<{ msg: number; resp_set_config?: { status: number } }>(WiFiConfigPayload, await this.request("prov-config", body));
    if (r.msg !== ConfigMsg.RespSetConfig) throw new ProvisioningClientError(`unexpected config reply msg ${r.msg}`);
    return r.resp_set_config?.status ?? 0;
  }

  /** Apply, sent as esp_prov does: msg only (`08 04`), no oneof. */
  async applyConfig(): Promise<number> {
    const r = decode<{ msg: number; resp_apply_config?: { status: number } }>(WiFiConfigPayload, await this.request("prov-config", encode(WiFiConfigPayload, { msg: ConfigMsg.CmdApplyConfig })));
    if (r.msg !== ConfigMsg.RespApplyConfig) throw new ProvisioningClientError(`unexpected config reply msg ${r.msg}`);
    return r.resp_apply_config?.status ?? 0;
  }

  async getStatus(): Promise<StatusReport> {
    const r = decode<{ msg: number; resp_get_status?: { status: number; sta_state: number; fail_reason?: number; connected?: { ip4_addr: string }; attempt_failed?: { attempts_remaining: number } } }>(
      WiFiConfigPayload,
      await this.request("prov-config", encode(WiFiConfigPayload, { msg: ConfigMsg.CmdGetStatus, cmd_get_status: {} })),
    );
    const s = r.resp_get_status;
    if (r.msg !== ConfigMsg.RespGetStatus || s === undefined) throw new ProvisioningClientError("bad status reply");
    switch (s.sta_state) {
      case 0:
        return { state: "connected", ip: s.connected?.ip4_addr ?? "" };
      case 1:
        return s.attempt_failed !== undefined ? { state: "connecting", attemptsRemaining: s.attempt_failed.attempts_remaining } : { state: "connecting" };
      case 2:
        return { state: "disconnected" };
      default:
        return { state: "failed", failReason: s.fail_reason === 1 ? "network-not-found" : "auth-error" };
    }
  }

  // ---- prov-scan

  /**
   * Scan and page the results. `statusReads: 1` reads the status once after the start, as
   * esp_prov and the phone apps do (they rely on a blocking start being answered when done).
   */
  async scan(pageSize = 4, options: { readonly blocking?: boolean; readonly statusReads?: number } = {}): Promise<ScanEntry[]> {
    const scan = async (m: ProtoObject): Promise<{ msg: number; status: number; resp_scan_status?: { scan_finished: boolean; result_count: number }; resp_scan_result?: { entries: ScanEntry[] } }> => {
      const r = decode<{ msg: number; status: number; resp_scan_status?: { scan_finished: boolean; result_count: number }; resp_scan_result?: { entries: ScanEntry[] } }>(WiFiScanPayload, await this.request("prov-scan", encode(WiFiScanPayload, m)));
      if (r.status !== 0) throw new ProvisioningClientError(`scan status ${r.status}`);
      return r;
    };
    await scan({ msg: ScanMsg.CmdScanStart, cmd_scan_start: { blocking: options.blocking ?? true, passive: false, group_channels: 0, period_ms: 120 } });
    let count = 0;
    const reads = options.statusReads ?? 100;
    for (let i = 0; i < reads; i++) {
      const st = await scan({ msg: ScanMsg.CmdScanStatus }); // msg only, as esp_prov
      if (st.resp_scan_status?.scan_finished) {
        count = st.resp_scan_status.result_count;
        break;
      }
      if (i + 1 < reads) await this.#sleep(50);
    }
    const out: ScanEntry[] = [];
    for (let start = 0; start < count; start += pageSize) {
      const r = await scan({ msg: ScanMsg.CmdScanResult, cmd_scan_result: { start_index: start, count: Math.min(pageSize, count - start) } });
      out.push(...(r.resp_scan_result?.entries ?? []));
    }
    return out;
  }

  // ---- prov-ctrl

  async ctrl(which: "reset" | "reprov"): Promise<number> {
    const msg = which === "reset" ? CtrlMsg.CmdCtrlReset : CtrlMsg.CmdCtrlReprov;
    const r = decode<{ msg: number; status: number }>(WiFiCtrlPayload, await this.request("prov-ctrl", encode(WiFiCtrlPayload, { msg })));
    if (r.msg !== msg + 1) throw new ProvisioningClientError(`unexpected ctrl reply msg ${r.msg}`);
    return r.status;
  }

  // ---- RainMaker

  /** cloud_user_assoc: returns the device's status and node ID. */
  async setUserMapping(userId: string, secretKey: string): Promise<{ status: number; nodeId: string }> {
    const r = decode<{ msg: number; resp_set_user_mapping?: { Status: number; NodeId: string } }>(
      RMakerConfigPayload,
      await this.request("cloud_user_assoc", encode(RMakerConfigPayload, { msg: 0, cmd_set_user_mapping: { UserID: userId, SecretKey: secretKey } })),
    );
    const resp = r.resp_set_user_mapping;
    if (r.msg !== 1 || resp === undefined) throw new ProvisioningClientError("bad cloud_user_assoc reply");
    return { status: resp.Status, nodeId: resp.NodeId };
  }

  /** ch_resp: relay the cloud's challenge; returns the raw signature and node ID. */
  async challengeResponse(challenge: string): Promise<{ status: number; signature: Uint8Array; nodeId: string }> {
    const r = decode<{ msg: number; status: number; respChallengeResponsePayload?: { payload: Uint8Array; node_id: string } }>(
      RMakerChRespPayload,
      await this.request("ch_resp", encode(RMakerChRespPayload, { msg: ChRespMsg.CmdChallengeResponse, status: 0, cmdChallengeResponsePayload: { payload: utf8(challenge) } })),
    );
    if (r.msg !== ChRespMsg.RespChallengeResponse) throw new ProvisioningClientError("bad ch_resp reply");
    return { status: r.status, signature: r.respChallengeResponsePayload?.payload ?? new Uint8Array(0), nodeId: r.respChallengeResponsePayload?.node_id ?? "" };
  }

  async disableChallengeResponse(): Promise<number> {
    const r = decode<{ msg: number; status: number }>(RMakerChRespPayload, await this.request("ch_resp", encode(RMakerChRespPayload, { msg: ChRespMsg.CmdDisableChalResp, cmdDisableChalRespPayload: {} })));
    return r.status;
  }
}
