// Hub pairing with bytes alone (both engines): the signed request, the pairing code computed here
// independently from the protocol text, the secure replies of PROTOCOL.md §2 (every status,
// malformed and oversize bodies), the emoncms text replies of §3, and the hub factory config.
import { concat, fromHex, fromUtf8, toHex, utf8 } from "../../src/bytes/bytes.js";
import { ConfigError, parseFactoryConfig } from "../../src/config/factory-config.js";
import type { HttpResponse } from "../../src/http/codec.js";
import { verify } from "../../src/identity/ed25519.js";
import { generateIdentity, nodeIdOf } from "../../src/identity/identity.js";
import { signFor } from "../../src/identity/signing.js";
import { EmoncmsReplyError, parseEmoncmsReply } from "../../src/onboarding/hub/emoncms-reply.js";
import { decodePairReply, encodePairRequest, MAX_REPLY_BYTES, PairReplyError, type PairReply } from "../../src/onboarding/hub/pair.js";
import { pairingCode } from "../../src/onboarding/hub/pairing-code.js";
import type { CryptoProvider } from "../../src/crypto/provider.js";
import { check, checkEqual, checkThrows, type Scenario } from "./harness.js";

function reply(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, reason: "", headers, body: typeof body === "string" ? utf8(body) : utf8(JSON.stringify(body)) };
}

function decoded(r: HttpResponse): PairReply | string {
  try {
    return decodePairReply(r, 1_000_000);
  } catch (e) {
    if (e instanceof PairReplyError) return `${e.code}: ${e.message}`;
    throw e;
  }
}

const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const released = {
  status: "released",
  mqtt: { url: "mqtts://192.168.1.5:8883", client_id: "d0123456789abcdef0123", username: "node-1", password: "s3cr3t:pw", base_topic: "emon", ca: CA, server_name: "hub.local" },
};

/** PROTOCOL.md's formula, written out again here rather than calling pairingCode. */
function codeByHand(crypto: CryptoProvider, hubKey: Uint8Array, publicKey: Uint8Array, nonce: Uint8Array): string {
  const h = crypto.sha256(concat(utf8("onboard-hub-pairing-v1"), hubKey, publicKey, nonce));
  const first = ((h[0]! << 24) >>> 0) + (h[1]! << 16) + (h[2]! << 8) + h[3]!;
  const six = String(first % 1_000_000);
  const padded = "000000".slice(six.length) + six;
  return padded.slice(0, 3) + " " + padded.slice(3);
}

export const scenarios: Scenario[] = [
  {
    name: "hub pairing: the request is signed over node ID, nonce and hub key; the code matches the formula",
    run(ctx) {
      const d = ctx.device();
      const identity = generateIdentity(d.io);
      const nodeId = nodeIdOf(ctx.crypto, identity);
      const nonce = new Uint8Array(16);
      const hubKey = new Uint8Array(32);
      d.io.random(nonce);
      d.io.random(hubKey);
      const body = encodePairRequest({ nodeId, publicKey: identity.publicKey, name: "ESP32-A1B2C3", nonce, hubKey }, (m) => signFor(ctx.crypto, identity, "hub-pair", m));
      const json = JSON.parse(fromUtf8(body)) as Record<string, unknown>;
      checkEqual(Object.keys(json).sort(), ["name", "node_id", "nonce", "public_key", "signature", "v"], "fields");
      checkEqual([json.v, json.node_id, json.public_key, json.name, json.nonce], [2, nodeId, toHex(identity.publicKey), "ESP32-A1B2C3", toHex(nonce)], "values");
      // PROTOCOL.md §2 by hand: "onboard-sig-v1" NUL "hub-pair" NUL, then the lines (name last).
      const framed = (key: Uint8Array, name = "ESP32-A1B2C3") => utf8(`onboard-sig-v1\u0000hub-pair\u0000onboard-hub-pair-v2\n${nodeId}\n${toHex(nonce)}\n${toHex(key)}\n${name}`);
      const signed = framed(hubKey);
      const signature = fromHex(json.signature as string);
      check(verify(ctx.crypto, signature, signed, identity.publicKey), "signature verifies over the protocol's text");
      const otherHub = hubKey.slice();
      otherHub[0] = otherHub[0]! ^ 1;
      check(!verify(ctx.crypto, signature, framed(otherHub), identity.publicKey), "and not for another hub key");
      check(!verify(ctx.crypto, signature, framed(hubKey, "Rogue name"), identity.publicKey), "M4: and not under another display name");
      checkEqual(nodeId, toHex(sha512First10(ctx.crypto, identity.publicKey)), "node ID is the first 10 bytes of SHA-512(public key)");

      for (let i = 0; i < 8; i++) {
        d.io.random(nonce);
        checkEqual(pairingCode(ctx.crypto, hubKey, identity.publicKey, nonce), codeByHand(ctx.crypto, hubKey, identity.publicKey, nonce), `code ${i}`);
      }
      check(/^\d{3} \d{3}$/.test(pairingCode(ctx.crypto, hubKey, identity.publicKey, nonce)), "ddd ddd");
      check(pairingCode(ctx.crypto, otherHub, identity.publicKey, nonce) !== pairingCode(ctx.crypto, hubKey, identity.publicKey, nonce), "another hub key, another code");
      checkThrows(() => encodePairRequest({ nodeId, publicKey: identity.publicKey, name: "x".repeat(33), nonce, hubKey }, () => new Uint8Array(64)), PairReplyError, "33-character name");
    },
  },
  {
    name: "hub pairing: every reply of the protocol's table decodes to its typed form",
    run() {
      checkEqual(decoded(reply(202, { status: "pending", pairing_code: "012 345", poll_ms: 5000 })), { status: "pending", pairingCode: "012 345", pollMs: 5000 }, "202");
      const r = decoded(reply(200, released));
      check(typeof r !== "string" && r.status === "released", `200: ${String(r)}`);
      checkEqual([r.mqtt.url, r.mqtt.clientId, r.mqtt.username, r.mqtt.baseTopic, r.mqtt.serverName, r.mqtt.password.revealString()],
        ["mqtts://192.168.1.5:8883", "d0123456789abcdef0123", "node-1", "emon", "hub.local", "s3cr3t:pw"], "released fields");
      checkEqual(decoded(reply(403, { status: "denied" })), { status: "denied" }, "403");
      checkEqual(decoded(reply(400, { status: "error", message: "bad signature\n" })), { status: "error", message: "bad signature?" }, "400 (control characters masked)");
      checkEqual(decoded(reply(429, { status: "busy" }, { "retry-after": "30" })), { status: "busy", retryAfterMs: 30_000 }, "429 + Retry-After");
      checkEqual(decoded(reply(429, { status: "busy" })), { status: "busy" }, "429 without Retry-After");
      checkEqual(decoded(reply(503, "<html>down</html>")), { status: "server-error", httpStatus: 503 }, "5xx, any body");
    },
  },
  {
    name: "hub pairing: malformed and oversize replies are typed errors that never echo the password",
    run() {
      const bad: [HttpResponse, string][] = [
        [reply(202, "not json"), "malformed-reply"],
        [reply(202, [1, 2]), "malformed-reply"],
        [reply(202, { status: "released" }), "malformed-reply"],
        [reply(202, { status: "pending", pairing_code: "12345" }), "malformed-reply"],
        [reply(202, { status: "pending", pairing_code: "123 456", poll_ms: -1 }), "malformed-reply"],
        [reply(200, { status: "released" }), "malformed-reply"],
        [reply(200, { ...released, mqtt: { ...released.mqtt, url: "mqtt://192.168.1.5:1883" } }), "malformed-reply"],
        [reply(200, { ...released, mqtt: { ...released.mqtt, ca: "not pem" } }), "malformed-reply"],
        [reply(200, { ...released, mqtt: { ...released.mqtt, base_topic: "emon/#" } }), "malformed-reply"],
        [reply(200, { ...released, mqtt: { ...released.mqtt, client_id: "bad id" } }), "malformed-reply"],
        [reply(200, { ...released, mqtt: { ...released.mqtt, password: "" } }), "malformed-reply"],
        [reply(403, "Forbidden"), "malformed-reply"],
        [reply(403, { status: "pending" }), "malformed-reply"],
        [reply(400, { status: "denied" }), "malformed-reply"],
        [reply(302, { status: "pending" }), "malformed-reply"],
        [{ status: 202, reason: "", headers: {}, body: new Uint8Array([0x7b, 0xff, 0x7d]) }, "malformed-reply"],
        [reply(202, { status: "pending", pairing_code: "123 456", pad: "x".repeat(MAX_REPLY_BYTES) }), "oversize"],
      ];
      bad.forEach(([r, code], i) => {
        const out = decoded(r);
        check(typeof out === "string" && out.startsWith(`${code}:`), `case ${i}: expected ${code}, got ${JSON.stringify(out)}`);
        check(!out.includes("s3cr3t"), `case ${i}: the password is not in the message`);
      });
    },
  },
  {
    name: "hub emoncms: pending texts, user:password:basetopic[:port], and a clear error for ':' in a password",
    run() {
      checkEqual(parseEmoncmsReply("request registered"), { status: "pending" }, "2017 text");
      checkEqual(parseEmoncmsReply("Authentication request registered for IP 192.168.1.77"), { status: "pending" }, "2018 text");
      const three = parseEmoncmsReply("emonpi:emonpimqtt2016:emon\n");
      check(three.status === "released" && three.username === "emonpi" && three.password.revealString() === "emonpimqtt2016" && three.baseTopic === "emon" && three.port === undefined, "3 fields");
      const four = parseEmoncmsReply("u:p:base:8884");
      check(four.status === "released" && four.port === 8884, "4 fields: the port");
      const colon = checkThrows(() => parseEmoncmsReply("u:pa:ss:word:emon"), EmoncmsReplyError, "5 fields");
      checkEqual(colon.code, "colon-in-field", "typed");
      check(/password/.test(colon.message) && /":"/.test(colon.message), `the message says why: ${colon.message}`);
      check(!colon.message.includes("ss:word"), "and does not quote the reply");
      checkEqual(checkThrows(() => parseEmoncmsReply("u:pa:ss:emon"), EmoncmsReplyError, "4th field not a port").code, "colon-in-field", "4th field not a port");
      for (const text of ['{"success":false,"message":"Auth functionality not enabled"}', "Unable to handle authentication requests without redis", "", "u:p", "<html>", ":p:emon", "u:p:emon/#", "u:p:base:0"]) {
        const e = checkThrows(() => parseEmoncmsReply(text), EmoncmsReplyError, JSON.stringify(text));
        check(e.code === "malformed-reply" || (text === "u:p:base:0" && e.code === "colon-in-field"), `${JSON.stringify(text)}: ${e.code}`);
      }
      checkEqual(checkThrows(() => parseEmoncmsReply("x".repeat(2000)), EmoncmsReplyError, "long").code, "malformed-reply", "oversize");
    },
  },
  {
    name: "hub config: defaults, every key validated, broker optional only for stored/hub chains",
    run() {
      const c = parseFactoryConfig({ chain: ["stored", "hub"], hub: { trustOnFirstUse: true } });
      checkEqual(c.broker, undefined, "no top-level broker needed");
      checkEqual(c.hub, {
        mode: "secure", hostName: "emonpi.local", service: "_onboard-hub._tcp", mdnsServer: { address: "224.0.0.251", port: 5353 },
        udpPort: 5005, port: 8443, discoveryTimeoutMs: 10_000, pollIntervalMs: 10_000, approvalTimeoutMs: 600_000, namePrefix: "ESP32-", trustOnFirstUse: true,
      }, "defaults");
      const KEY = "ab".repeat(32);
      checkEqual(parseFactoryConfig({ chain: ["hub"], hub: { hubKey: KEY } }).hub?.hubKey, KEY, "M5: a hub key pinned at the factory");
      const e = parseFactoryConfig({ chain: ["hub"], hub: { mode: "emoncms", service: "", udpPort: 0, address: "10.0.0.2", broker: { ca: CA } } }).hub!;
      checkEqual([e.port, e.broker, e.service, e.udpPort, e.address], [80, { port: 8883, ca: CA }, "", 0, "10.0.0.2"], "emoncms defaults");
      const errors: [unknown, string][] = [
        [{ chain: ["hub", "register"], hub: { trustOnFirstUse: true }, register: { url: "https://r/x" } }, "broker"],
        [{ chain: ["hub"] }, "hub"],
        [{ chain: ["hub"], hub: { mode: "plain" } }, "hub.mode"],
        [{ chain: ["hub"], hub: { mdnsServer: "224.0.0.251" } }, "hub.mdnsServer"],
        [{ chain: ["hub"], hub: { mdnsServer: "mdns.local:5353" } }, "hub.mdnsServer"],
        [{ chain: ["hub"], hub: { udpPort: 70000 } }, "hub.udpPort"],
        [{ chain: ["hub"], hub: { port: 0 } }, "hub.port"],
        [{ chain: ["hub"], hub: { address: "hub local" } }, "hub.address"],
        [{ chain: ["hub"], hub: { address: "10.0.0.256" } }, "hub.address"],
        [{ chain: ["hub"], hub: { service: "onboard" } }, "hub.service"],
        [{ chain: ["hub"], hub: { hostName: "bad name" } }, "hub.hostName"],
        [{ chain: ["hub"], hub: { pollIntervalMs: 1.5 } }, "hub.pollIntervalMs"],
        [{ chain: ["hub"], hub: { namePrefix: "x".repeat(27) } }, "hub.namePrefix"],
        [{ chain: ["hub"], hub: { broker: { port: 8883 } } }, "hub.broker"],
        [{ chain: ["hub"], hub: { mode: "emoncms", broker: { ca: "nope" } } }, "hub.broker.ca"],
        [{ chain: ["hub"], hub: { pollIntervalMS: 5 } }, "hub"],
        [{ chain: ["hub"], hub: {} }, "hub"], // M5: secure mode needs a pinned key or an explicit trust on first use
        [{ chain: ["hub"], hub: { hubKey: "AB".repeat(32) } }, "hub.hubKey"],
        [{ chain: ["hub"], hub: { hubKey: "ab".repeat(32), trustOnFirstUse: true } }, "hub.trustOnFirstUse"],
        [{ chain: ["hub"], hub: { mode: "emoncms", hubKey: "ab".repeat(32) } }, "hub.hubKey"],
      ];
      for (const [input, path] of errors) {
        const error = checkThrows(() => parseFactoryConfig(input), ConfigError, JSON.stringify(input));
        checkEqual(error.path, path, `${JSON.stringify(input)}: ${error.message}`);
      }
      const missing = checkThrows(() => parseFactoryConfig({ chain: ["hub", "shared"], hub: { trustOnFirstUse: true }, shared: { username: "u", password: "p" } }), ConfigError, "shared needs a broker");
      check(/shared/.test(missing.message) && /stored and hub/.test(missing.message), `clear message: ${missing.message}`);
    },
  },
];

function sha512First10(crypto: CryptoProvider, publicKey: Uint8Array): Uint8Array {
  // Independent of nodeIdOf: the crypto module's SHA-512, not identity's.
  return crypto.sha512(publicKey).subarray(0, 10);
}
