// Where onboarding inputs come from and what shapes it accepts: the per-unit external key read
// from the unit's NVS, Magistrala v0.30's bootstrap reply (credentials rendered into content), and
// the board's rule that mTLS client keys are PKCS#8 RSA. Runs on Node and inside XS.
import { toBase64, toHex, utf8 } from "../../src/bytes/bytes.js";
import { ConfigError, parseFactoryConfig, type BootstrapConfig } from "../../src/config/factory-config.js";
import { bootstrapRequest, bootstrapStrategy, BootstrapReplyError, credentialsFromReply, parseBootstrapReply } from "../../src/onboarding/bootstrap.js";
import { boardClientKeyProblem } from "../../src/onboarding/client-key.js";
import { ExternalKeyError, resolveExternalKey } from "../../src/onboarding/external-key.js";
import { Logger } from "../../src/log/logger.js";
import { generateIdentity } from "../../src/identity/identity.js";
import { Secret } from "../../src/secrets/secret.js";
import { fromHex, fromUtf8 } from "../../src/bytes/bytes.js";
import { publicKeyOf, sign } from "../../src/identity/ed25519.js";
import { verifyFor } from "../../src/identity/signing.js";
import { nodeIdOf } from "../../src/identity/identity.js";
import { encodeRegistrationRequest, openRegistrationReply, registrationErrorFailure, registrationMessage, replySignedBytes, SharedReplyError } from "../../src/onboarding/shared-register.js";
import { check, checkEqual, checkThrows, type Scenario } from "./harness.js";

const nvsConfig = (key: string): BootstrapConfig => ({ url: "https://cloud:9013", version: "supermq-0.16", generation: "client", externalId: "mac", externalKey: { nvs: key } });

// A PKCS#8 PrivateKeyInfo skeleton with the given algorithm OID (the checker reads structure only).
function pkcs8(oid: readonly number[]): string {
  const alg = [0x30, oid.length + 4, 0x06, oid.length, ...oid, 0x05, 0x00];
  const body = [0x02, 0x01, 0x00, ...alg, 0x04, 0x03, 0x30, 0x01, 0x00];
  const der = Uint8Array.from([0x30, body.length, ...body]);
  return `-----BEGIN PRIVATE KEY-----\n${toBase64(der)}\n-----END PRIVATE KEY-----\n`;
}
const RSA = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const EC = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const ED25519 = [0x2b, 0x65, 0x70];

export const scenarios: Scenario[] = [
  {
    name: "onboarding: per-unit external key from NVS: read through io.storage, missing/garbled ones typed, config validated",
    async run(ctx) {
      const sim = ctx.device();
      const storage = sim.io.storage;
      const missing = checkThrows(() => resolveExternalKey({ nvs: "bs.key" }, storage), ExternalKeyError, "absent key");
      checkEqual([missing.code, missing.problem], ["external-key", "missing"], "typed as missing");
      storage.write("bs.key", utf8("unit-7-key"));
      const key = resolveExternalKey({ nvs: "bs.key" }, storage);
      checkEqual(key.revealString(), "unit-7-key", "read from flash");
      check(String(key) === "[redacted]", "travels as a Secret");
      checkEqual(bootstrapRequest(ctx.crypto, nvsConfig("bs.key"), "AA", undefined, key).authorization.revealString(), "Client unit-7-key", "used in the header");
      checkThrows(() => bootstrapRequest(ctx.crypto, nvsConfig("bs.key"), "AA"), ExternalKeyError, "an NVS source must be resolved first");
      checkEqual(resolveExternalKey("fleet-key", storage).revealString(), "fleet-key", "the literal string still works");
      storage.write("bs.key", Uint8Array.of(0xff, 0xfe));
      checkEqual(checkThrows(() => resolveExternalKey({ nvs: "bs.key" }, storage), ExternalKeyError, "not UTF-8").problem, "malformed", "garbled typed");
      storage.write("bs.key", utf8("key\n"));
      checkEqual(checkThrows(() => resolveExternalKey({ nvs: "bs.key" }, storage), ExternalKeyError, "newline").problem, "malformed", "control characters refused");
      storage.delete("bs.key");
      // The strategy turns the missing key into a typed failure without any network call.
      const identity = generateIdentity(sim.io);
      const result = await bootstrapStrategy(nvsConfig("bs.key"), { url: "mqtts://broker:8883" }).obtain({
        io: sim.io, log: new Logger(sim.io.log, () => 0, "t"), record: { version: 1, identity }, nodeId: "n", mac: "AA:BB:CC:DD:EE:FF", storedRejected: false,
      });
      check(!result.ok && result.failure.kind === "not-applicable" && /NVS key "bs.key"/.test(result.failure.detail), "typed strategy failure");

      const base = { chain: ["bootstrap"], broker: { url: "mqtts://b:8883" } };
      const parsed = parseFactoryConfig({ ...base, bootstrap: { url: "https://c", generation: "client", externalKey: { nvs: "bs.key" } } });
      checkEqual(parsed.bootstrap?.externalKey, { nvs: "bs.key" }, "nvs source parsed");
      for (const [bad, field] of [[{ nvs: "a-key-longer-than-15" }, "bootstrap.externalKey.nvs"], [{ nvs: "cred.a" }, "bootstrap.externalKey.nvs"], [{ file: "x" }, "bootstrap.externalKey"], [7, "bootstrap.externalKey"], ["", "bootstrap.externalKey"]] as const) {
        const e = checkThrows(() => parseFactoryConfig({ ...base, bootstrap: { url: "https://c", generation: "client", externalKey: bad } }), ConfigError, JSON.stringify(bad));
        checkEqual(e.path, field, `field named for ${JSON.stringify(bad)}`);
      }
    },
  },
  {
    name: "onboarding: Magistrala v0.30 reply {id, content, certs}: credentials from the rendered content, malformed ones typed",
    run() {
      const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
      const content = { client_id: "c1", client_secret: "s1", channels: [{ id: "ch-data", metadata: { type: "data" } }, { id: "ch-ctl", metadata: { type: "control" } }], broker_url: "mqtts://m:8884" };
      const r = parseBootstrapReply(JSON.stringify({ id: "cfg-9", content: JSON.stringify(content), ca_cert: CA }), "magistrala-0.30");
      checkEqual([r.configId, r.id, r.key.revealString(), r.channels.length, r.caCert], ["cfg-9", "c1", "s1", 2, CA], "credentials, channels and CA");
      const m = credentialsFromReply(r, { url: "mqtts://fleet:8883" }, { version: "magistrala-0.30", domainId: "dom-1", trust: "verified-tls" });
      checkEqual([m.username, m.clientId, m.brokerUrl, m.topics?.telemetry, m.topics?.command], ["c1", "c1", "mqtts://m:8884", "m/dom-1/c/ch-data", "m/dom-1/c/ch-ctl/req"], "MQTT mapping (0.30 topics m/<domain>/c/<channel>)");
      checkEqual(parseBootstrapReply(JSON.stringify({ client_id: "c1", client_secret: "s1" }), "magistrala-0.20").configId, undefined, "v0.20 shape has no config ID");
      for (const bad of [{ id: "cfg" }, { id: "cfg", content: "device_id: x" }, { id: "cfg", content: "[1]" }, { id: "cfg", content: '{"device_id":"x"}' },
        { id: "cfg", content: '{"client_id":"c","client_secret":""}' }, { id: "cfg", content: JSON.stringify(content), client_cert: "x" }, { id: 5, content: "{}" }]) {
        checkThrows(() => parseBootstrapReply(JSON.stringify(bad), "magistrala-0.30"), BootstrapReplyError, JSON.stringify(bad));
      }
    },
  },
  {
    name: "onboarding: mTLS client keys from a bootstrap reply must be PKCS#8 RSA (board truth)",
    run() {
      checkEqual(boardClientKeyProblem(Secret.fromString(pkcs8(RSA))), undefined, "PKCS#8 RSA accepted");
      check(/EC key/.test(boardClientKeyProblem(Secret.fromString(pkcs8(EC))) ?? ""), "PKCS#8 EC refused");
      check(/not RSA/.test(boardClientKeyProblem(Secret.fromString(pkcs8(ED25519))) ?? ""), "Ed25519 refused");
      check(/PKCS#1/.test(boardClientKeyProblem(Secret.fromString("-----BEGIN RSA PRIVATE KEY-----\nAA==\n-----END RSA PRIVATE KEY-----")) ?? ""), "PKCS#1 refused");
      check(/EC key/.test(boardClientKeyProblem(Secret.fromString("-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----")) ?? ""), "SEC1 EC refused");
      for (const junk of ["", "not a key", "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----", "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----",
        "-----BEGIN PRIVATE KEY-----\nMIIBAAAA\n-----END PRIVATE KEY-----"]) {
        check(boardClientKeyProblem(Secret.fromString(junk)) !== undefined, `junk refused: ${junk.slice(0, 20)}`);
      }
    },
  },
  {
    name: "onboarding: shared register-on-first-connect wire: signed request; H3: replies signed by the pinned cloud key and bound to the nonce, others ignored; malformed ones typed",
    run(ctx) {
      const sim = ctx.device();
      const identity = generateIdentity(sim.io);
      const nodeId = nodeIdOf(ctx.crypto, identity);
      const nonce = Uint8Array.from({ length: 16 }, (_, i) => i);
      const req = JSON.parse(fromUtf8(encodeRegistrationRequest(ctx.crypto, identity, "espAABBCCDDEEFF", nodeId, nonce))) as Record<string, string>;
      checkEqual([req.nodeId, req.nonce, req.publicKey!.length], [nodeId, "000102030405060708090a0b0c0d0e0f", 64], "request fields");
      check(verifyFor(ctx.crypto, identity.publicKey, "shared-register", registrationMessage("espAABBCCDDEEFF", nodeId, req.nonce!), fromHex(req.signature!)), "signature verifies (registration purpose)");
      check(!verifyFor(ctx.crypto, identity.publicKey, "shared-register", registrationMessage("espAABBCCDDEE00", nodeId, req.nonce!), fromHex(req.signature!)), "bound to the client ID");
      // Replies: the envelope of shared-register.ts, signed here with a test cloud key.
      const cloudSecret = new Uint8Array(32).fill(9);
      const cloudKey = publicKeyOf(ctx.crypto, cloudSecret);
      const N = "000102030405060708090a0b0c0d0e0f";
      const expect = { clientId: "C1", nonceHex: N, cloudKey };
      const envelope = (inner: string, o: { key?: Uint8Array; clientId?: string } = {}) =>
        utf8(JSON.stringify({ v: 2, reply: inner, signature: toHex(sign(ctx.crypto, replySignedBytes(o.clientId ?? "C1", inner), o.key ?? cloudSecret)) }));
      const open = (payload: Uint8Array) => openRegistrationReply(ctx.crypto, payload, expect);
      const ok = open(envelope(`{"nonce":"${N}","username":"u1","password":"p1","topics":{"telemetry":"t/x"}}`));
      check(ok.kind === "reply" && ok.reply.ok && ok.reply.username === "u1" && ok.reply.password.revealString() === "p1" && ok.reply.topics?.telemetry === "t/x", "own credentials");
      const refused = open(envelope(`{"nonce":"${N}","error":"client-id-taken","detail":"x"}`));
      check(refused.kind === "reply" && !refused.reply.ok, "refusal parsed");
      if (refused.kind === "reply" && !refused.reply.ok) checkEqual(registrationErrorFailure(refused.reply, "C1"), { kind: "refused", detail: "client ID C1 is registered to another unit" }, "typed refusal");
      checkEqual(registrationErrorFailure({ error: "disabled" }, "C1").kind, "disabled", "disabled");
      // H3: what anyone holding the shared login could publish is ignored, never taken.
      checkEqual(open(utf8('{"v":1,"username":"u","password":"p"}')), { kind: "ignored", reason: "not-signed" }, "H3: the old unsigned reply");
      checkEqual(open(envelope(`{"nonce":"${N}","username":"u","password":"p"}`, { key: new Uint8Array(32).fill(7) })), { kind: "ignored", reason: "bad-signature" }, "H3: signed by another key");
      checkEqual(open(envelope(`{"nonce":"${N}","username":"u","password":"p"}`, { clientId: "C2" })), { kind: "ignored", reason: "bad-signature" }, "H3: signed for another client ID");
      checkEqual(open(envelope(`{"nonce":"ffff0102030405060708090a0b0c0d0e","username":"u","password":"p"}`)), { kind: "ignored", reason: "stale" }, "H3: a reply to another request (stale or planted)");
      checkEqual(open(Uint8Array.of(0xff)), { kind: "ignored", reason: "not-signed" }, "not UTF-8");
      checkEqual(open(envelope("{}")), { kind: "ignored", reason: "stale" }, "signed but for no request");
      for (const bad of ["x", "[]", `{"nonce":"${N}","username":"","password":"p"}`, `{"nonce":"${N}","username":"u"}`,
        `{"nonce":"${N}","error":"NOT A CODE"}`, `{"nonce":"${N}","username":"u","password":"p","topics":{"telemetry":"a/#"}}`, `{"nonce":"${N}","username":"u","password":"p","topics":{"other":"a"}}`]) {
        checkThrows(() => open(envelope(bad)), SharedReplyError, bad);
      }
      const base = { chain: ["shared"], broker: { url: "mqtts://b:8883" } };
      const key = toHex(cloudKey);
      checkEqual(parseFactoryConfig({ ...base, shared: { username: "u", password: "p", registerOnConnect: { cloudKey: key } } }).shared?.registerOnConnect, { timeoutMs: 15_000, cloudKey: key }, "default timeout");
      checkEqual(parseFactoryConfig({ ...base, shared: { username: "u", password: "p" } }).shared?.registerOnConnect, undefined, "off by default");
      checkEqual(checkThrows(() => parseFactoryConfig({ ...base, shared: { username: "u", password: "p", registerOnConnect: true } }), ConfigError, "H3: no key").path, "shared.registerOnConnect", "H3: a cloud key is required");
      checkEqual(checkThrows(() => parseFactoryConfig({ ...base, shared: { username: "u", password: "p", registerOnConnect: { cloudKey: "ab" } } }), ConfigError, "short key").path, "shared.registerOnConnect.cloudKey", "key checked");
      checkEqual(checkThrows(() => parseFactoryConfig({ ...base, shared: { username: "u", password: "p", registerOnConnect: { timeoutMs: 5, cloudKey: key } } }), ConfigError, "too short").path, "shared.registerOnConnect.timeoutMs", "field named");
    },
  },
];
