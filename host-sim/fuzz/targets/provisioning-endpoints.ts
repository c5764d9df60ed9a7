// Each protocomm endpoint of the provisioning service (prov-config, prov-scan, prov-ctrl,
// proto-ver, prov-session, RainMaker cloud_user_assoc and ch_resp, an unknown one) fed arbitrary
// request bytes in each transport state: no session, session opened but not secured, secured.
// Security 0, so the bytes reach the handlers as sent (security1/security2 cover the ciphers).
// Input: byte 0 picks the state, byte 1 the endpoint, the rest is the request. Properties: only
// ProtocommError escapes; a rejected request changes nothing (the Wi-Fi backend sees no call, the
// session keeps working); a SetConfig answered with an error status applies nothing; a SetConfig
// that is applied is within Wi-Fi's limits; every response decodes as its endpoint's message.
import { utf8 } from "../../../src/bytes/bytes.js";
import { decode, encode, type MessageDef } from "../../../src/protobuf/codec.js";
import { RMakerChRespPayload, RMakerConfigPayload, SessionData, WiFiConfigPayload, WiFiCtrlPayload, WiFiScanPayload } from "../../../src/protobuf/messages.js";
import { ProtocommError } from "../../../src/provisioning/errors.js";
import { ProvisioningService, type WifiBackend, type WifiProvState } from "../../../src/provisioning/service.js";
import type { Rand } from "../rand.js";
import { expect, FuzzFailure, type FuzzTarget } from "../target.js";
import { nodeCrypto } from "../../io/node-crypto.js";

const ENDPOINTS: readonly { name: string; def?: MessageDef }[] = [
  { name: "prov-config", def: WiFiConfigPayload },
  { name: "prov-scan", def: WiFiScanPayload },
  { name: "prov-ctrl", def: WiFiCtrlPayload },
  { name: "cloud_user_assoc", def: RMakerConfigPayload },
  { name: "ch_resp", def: RMakerChRespPayload },
  { name: "prov-session", def: SessionData },
  { name: "proto-ver" },
  { name: "no-such-endpoint" },
];

/** A Wi-Fi backend that records every call that changes something. */
function recordingWifi(calls: string[]): WifiBackend {
  let status: WifiProvState = { state: "idle" };
  let scanned = false;
  return {
    setConfig(c) {
      calls.push(`setConfig ${c.ssid.length}/${c.passphrase.length}/${c.bssid.length}/${c.channel}`);
      status = { state: "idle" };
    },
    apply() { calls.push("apply"); status = { state: "connecting", attemptsRemaining: 2 }; return true; },
    status: () => status,
    scanStart() { calls.push("scanStart"); scanned = true; },
    latestScan: () => (scanned ? { finishedAt: 0, networks: [{ ssid: utf8("net"), bssid: new Uint8Array(6).fill(1), channel: 6, rssi: -50, auth: "wpa2-psk" as const }, { ssid: utf8("other"), bssid: new Uint8Array(6), channel: 1, rssi: -80, auth: "open" as const }] } : undefined),
    reset() { calls.push("reset"); return true; },
    reprovision() { calls.push("reprovision"); return true; },
  };
}

const SESSION = 7;
const HANDSHAKE = encode(SessionData, { sec_ver: 0, sec0: { msg: 0, sc: {} } });

function sample(r: Rand): Uint8Array {
  const e = r.int(0, ENDPOINTS.length - 1);
  const name = ENDPOINTS[e]!.name;
  let body: Uint8Array;
  switch (name) {
    case "prov-config": {
      const msg = r.pick([0, 2, 4, 1, 9]);
      body = encode(WiFiConfigPayload, msg === 2
        ? { msg, cmd_set_config: { ssid: r.bytes(r.pick([0, 1, 8, 32, 33])), passphrase: utf8(r.pick(["p", "a"]).repeat(r.pick([0, 8, 63, 64, 65]))), bssid: r.bytes(r.pick([0, 6, 5])), channel: r.int(-1, 200) } }
        : msg === 4 && r.bool() ? { msg, cmd_apply_config: {} } : { msg });
      break;
    }
    case "prov-scan": {
      const msg = r.pick([0, 2, 4, 7]);
      body = encode(WiFiScanPayload, msg === 4 ? { msg, cmd_scan_result: { start_index: r.int(0, 3), count: r.pick([0, 1, 2, 3, 0xffffffff]) } } : msg === 0 ? { msg, cmd_scan_start: { blocking: r.bool(), period_ms: 120 } } : { msg });
      break;
    }
    case "prov-ctrl": body = encode(WiFiCtrlPayload, { msg: r.pick([1, 3, 0, 5]) }); break;
    case "cloud_user_assoc": body = encode(RMakerConfigPayload, { msg: r.pick([0, 1]), cmd_set_user_mapping: { UserID: r.pick(["", "user-1"]), SecretKey: r.pick(["", "secret"]) } }); break;
    case "ch_resp": body = encode(RMakerChRespPayload, { msg: r.pick([0, 2, 4, 6]), cmdChallengeResponsePayload: { payload: r.bytes(r.pick([0, 16, 64])) } }); break;
    case "prov-session": body = r.bool() ? HANDSHAKE : encode(SessionData, { sec_ver: r.int(0, 2), sec0: { msg: r.int(0, 1) } }); break;
    default: body = r.bytes(r.int(0, 8));
  }
  return Uint8Array.from([r.pick([0, 1, 2, 2, 2]), e, ...body]);
}

export const provisioningEndpointsTarget: FuzzTarget = {
  name: "provisioning-endpoints",
  maxLength: 1024,
  seeds: (r) => Array.from({ length: 60 }, () => sample(r)),
  generators: [sample],
  run(input) {
    if (input.length < 2) return;
    const state = input[0]! % 3;
    const endpoint = ENDPOINTS[input[1]! % ENDPOINTS.length]!;
    const request = input.subarray(2);
    const calls: string[] = [];
    const mappings: string[] = [];
    const service = new ProvisioningService({
      security: { version: 0 },
      random: (into) => into.fill(0x42),
      crypto: nodeCrypto,
      now: () => 0,
      wifi: recordingWifi(calls),
      rainmaker: {
        nodeId: "node-1",
        challengeResponse: true,
        userAssociation: true,
        sign: (challenge) => Uint8Array.from([challenge.length & 0xff, 1, 2]),
        setUserMapping: (userId, secretKey) => { mappings.push(`${userId.length}/${secretKey.length}`); return true; },
      },
    });
    if (state >= 1) service.openSession(SESSION);
    if (state === 2) service.handle(SESSION, "prov-session", HANDSHAKE);
    const what = `${endpoint.name} in state ${["no session", "unsecured session", "secured session"][state]}`;

    let response: Uint8Array;
    try {
      response = service.handle(SESSION, endpoint.name, request);
    } catch (e) {
      if (!(e instanceof ProtocommError)) throw e;
      expect(calls.length === 0 && mappings.length === 0, `${what}: a rejected request (${e.kind}) changed state: ${[...calls, ...mappings].join(", ")}`);
      expect(service.hasSession(SESSION) === state >= 1, `${what}: a rejected request changed the transport session`);
      if (state === 2) {
        // the secured session still serves requests
        const status = decode<{ msg: number }>(WiFiConfigPayload, service.handle(SESSION, "prov-config", encode(WiFiConfigPayload, { msg: 0 })));
        expect(status.msg === 1, `${what}: after a rejected request GetStatus fails`);
      }
      return;
    }
    if (endpoint.def) {
      try {
        decode(endpoint.def, response);
      } catch (e) {
        throw new FuzzFailure(`${what}: the response does not decode as ${endpoint.def.name}: ${String(e)}`);
      }
    }
    if (endpoint.name === "prov-config") {
      const reply = decode<{ msg: number; resp_set_config?: { status: number } }>(WiFiConfigPayload, response);
      if (reply.msg === 3) {
        const applied = calls.filter((c) => c.startsWith("setConfig"));
        if (reply.resp_set_config?.status !== 0) expect(applied.length === 0, `${what}: SetConfig answered ${reply.resp_set_config?.status} but applied ${applied.join(", ")}`);
        for (const c of applied) {
          const [ssid, pass, bssid, channel] = c.slice("setConfig ".length).split("/").map(Number) as [number, number, number, number];
          // 64 only as a raw hex PSK; channel 0 (any) or 1–14
          expect(ssid >= 1 && ssid <= 32 && pass <= 64 && (bssid === 0 || bssid === 6) && channel >= 0 && channel <= 14, `${what}: applied an out-of-range config ${c}`);
        }
      }
    }
  },
};
