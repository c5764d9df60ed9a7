// What the hub strategy decodes from the LAN: mDNS/DNS-SD responses (anyone on the network can
// send them), the secure pairing API's JSON replies, and emoncms' text replies. Properties: only
// the decoders' typed errors escape; a DNS message we accept re-encodes to bytes that decode to
// the same message; released credentials are storable (a record holding them survives
// encode → decode) and their topics stay under the base topic.
import { utf8 } from "../../../src/bytes/bytes.js";
import { decodeMessage, DnsError, encodeMessage, encodeQuery, TYPE_A, TYPE_PTR, TYPE_SRV, TYPE_TXT, type DnsMessage } from "../../../src/onboarding/hub/mdns.js";
import { decodePairReply, PairReplyError } from "../../../src/onboarding/hub/pair.js";
import { EmoncmsReplyError, parseEmoncmsReply } from "../../../src/onboarding/hub/emoncms-reply.js";
import { Secret } from "../../../src/secrets/secret.js";
import type { Rand } from "../rand.js";
import { expect, type FuzzTarget } from "../target.js";
import { checkWholeRecord } from "./credential-record.js";
import { mutateJsonBytes } from "./json-mutate.js";
import { sameValue } from "./compare.js";

const IDENTITY = { secretKey: Secret.fromBytes(new Uint8Array(32).fill(7)), publicKey: new Uint8Array(32).fill(9) };

// ---- mDNS / DNS-SD responses

function sampleDnsResponse(r: Rand): Uint8Array {
  const instance = r.pick(["Onboarding-Hub._onboard-hub._tcp.local", "hub-2._onboard-hub._tcp.local"]);
  const host = r.pick(["emonpi.local", "hub.local", "x.y.z.local"]);
  const base = { class: 1, flush: r.bool(), ttl: r.int(0, 4500) };
  const records = [
    { ...base, name: "_onboard-hub._tcp.local", type: TYPE_PTR, target: instance },
    { ...base, name: instance, type: TYPE_SRV, priority: 0, weight: 0, port: r.int(1, 65535), target: host },
    { ...base, name: instance, type: TYPE_TXT, strings: [utf8("v=1")] },
    { ...base, name: host, type: TYPE_A, address: `${r.int(0, 255)}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(0, 255)}` },
  ] as const;
  const chosen = records.filter(() => r.bool(0.7));
  const m: DnsMessage = {
    id: r.int(0, 0xffff),
    flags: 0x8400,
    questions: r.bool() ? [{ name: "_onboard-hub._tcp.local", type: TYPE_PTR }] : [],
    answers: chosen.slice(0, 2),
    authorities: [],
    additionals: chosen.slice(2),
  };
  return encodeMessage(m);
}

/** An empty TXT record is written as one empty string (RFC 6763 §6.1): the same meaning. */
function withoutEmptyTxt(m: DnsMessage): unknown {
  const fix = (records: DnsMessage["answers"]) => records.map((r) => (r.type === TYPE_TXT && "strings" in r ? { ...r, strings: r.strings.filter((s) => s.length > 0) } : r));
  return { ...m, answers: fix(m.answers), authorities: fix(m.authorities), additionals: fix(m.additionals) };
}

export const mdnsResponseTarget: FuzzTarget = {
  name: "mdns-response",
  maxLength: 1500,
  seeds: (r) => [...Array.from({ length: 40 }, () => sampleDnsResponse(r)), encodeQuery(1, "emonpi.local", TYPE_A)],
  run(input) {
    let m: DnsMessage;
    try {
      m = decodeMessage(input);
    } catch (e) {
      if (e instanceof DnsError) return;
      throw e;
    }
    let bytes: Uint8Array;
    try {
      bytes = encodeMessage(m);
    } catch (e) {
      // The encoder (used for our queries) is stricter than the decoder: instance names may hold
      // spaces and UTF-8 on the wire, which we read but never write.
      if (e instanceof DnsError && e.code === "bad-name") return;
      throw e;
    }
    const again = decodeMessage(bytes);
    expect(sameValue(withoutEmptyTxt(again), withoutEmptyTxt(m)), "DNS message changed through encode → decode");
  },
};

// ---- secure pairing API replies (status byte + body)

const PAIR_KEYS = ["status", "pending", "released", "denied", "error", "busy", "pairing_code", "poll_ms", "mqtt", "url", "client_id", "username", "password", "base_topic", "ca", "server_name", "message"];
const STATUSES = [200, 202, 400, 403, 429, 500, 503, 201, 204, 302, 404, 413];

function samplePairBody(r: Rand): Uint8Array {
  const kind = r.pick(["pending", "released", "denied", "error", "busy"] as const);
  const o: Record<string, unknown> = { status: kind };
  if (kind === "pending") { o.pairing_code = `${r.int(100, 999)} ${r.int(100, 999)}`; if (r.bool()) o.poll_ms = r.int(0, 20_000); }
  if (kind === "released") {
    o.mqtt = {
      url: r.pick(["mqtts://127.0.0.1:8883", "mqtts://hub.local:1883", "mqtts://[::1]:8883"]), client_id: r.pick(["0123456789abcdef0123", "node"]),
      username: "hub-0123456789abcdef0123", password: r.pick(["p", "s3cret:with:colons"]), base_topic: r.pick(["emon", "a/b", "hub"]),
      ca: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", ...(r.bool() ? { server_name: "hub" } : {}),
    };
  }
  if (kind === "error") o.message = r.pick(["bad signature", "", "x".repeat(300)]);
  return utf8(JSON.stringify(o));
}

const statusFor = (body: Uint8Array): number => {
  const text = new TextDecoder().decode(body);
  return text.includes('"released"') ? 200 : text.includes('"pending"') ? 202 : text.includes('"denied"') ? 403 : text.includes('"busy"') ? 429 : 400;
};

export const pairReplyTarget: FuzzTarget = {
  name: "hub-pair-reply",
  maxLength: 20_000,
  // First byte picks the HTTP status (sometimes the right one for the body, sometimes not).
  seeds: (r) => Array.from({ length: 40 }, () => { const body = samplePairBody(r); return Uint8Array.from([STATUSES.indexOf(statusFor(body)), ...body]); }),
  generators: [(r) => { const body = mutateJsonBytes(r, samplePairBody(r), PAIR_KEYS); return Uint8Array.from([r.bool(0.8) ? STATUSES.indexOf(statusFor(body)) : r.int(0, 255), ...body]); }],
  run(input) {
    if (input.length === 0) return;
    const status = STATUSES[input[0]! % STATUSES.length]!;
    const headers: Record<string, string> = status === 429 ? { "retry-after": "30" } : {};
    let reply;
    try {
      reply = decodePairReply({ status, reason: "", headers, body: input.subarray(1) }, 0);
    } catch (e) {
      if (e instanceof PairReplyError) return;
      throw e;
    }
    if (reply.status !== "released") return;
    const m = reply.mqtt;
    expect(m.url.startsWith("mqtts://"), "released credentials for a broker without TLS");
    const nodeId = "0123456789abcdef0123";
    checkWholeRecord({ version: 1, identity: IDENTITY, mqtt: {
      brokerUrl: m.url, clientId: m.clientId, username: m.username, password: m.password, ca: m.ca,
      ...(m.serverName !== undefined ? { serverName: m.serverName } : {}),
      topics: { telemetry: `${m.baseTopic}/${nodeId}/telemetry`, status: `${m.baseTopic}/${nodeId}/status`, command: `${m.baseTopic}/${nodeId}/in` },
    } }, "hub-released credentials");
    expect(!/[#+\u0000]/.test(m.baseTopic), "base topic with MQTT wildcards or NUL accepted");
  },
};

// ---- emoncms text replies

const EMONCMS_SAMPLES = ["request registered", "Authentication request registered for IP 192.168.1.103", "emonpi:emonpimqtt2016:emon", "emonpi:emonpimqtt2016:emon:8883",
  "u:p:a:b:c", "Unable to handle authentication requests without redis", "{\"success\":false,\"message\":\"Auth functionality not enabled\"}", "request registered\r\n"];

export const emoncmsReplyTarget: FuzzTarget = {
  name: "hub-emoncms-reply",
  maxLength: 2048,
  seeds: () => EMONCMS_SAMPLES.map((s) => utf8(s)),
  run(input) {
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(input);
    } catch {
      return; // the strategy rejects non-UTF-8 before parsing
    }
    let reply;
    try {
      reply = parseEmoncmsReply(text);
    } catch (e) {
      if (e instanceof EmoncmsReplyError) return;
      throw e;
    }
    if (reply.status !== "released") return;
    expect(!reply.username.includes(":") && !reply.baseTopic.includes(":"), "a field with ':' accepted");
    expect(reply.port === undefined || (Number.isInteger(reply.port) && reply.port > 0 && reply.port < 65536), `port ${reply.port} accepted`);
  },
};
