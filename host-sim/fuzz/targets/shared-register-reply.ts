// The shared login's register-on-first-connect reply (src/onboarding/shared-register.ts, issue 14
// H3): the signed envelope {"v":2,"reply":"<JSON text>","signature"} and the reply text inside.
// Inputs are whole envelopes; one generator mutates the inner text and signs it properly (so the
// inner decoder is reached), another mutates the envelope as it is. Properties: only
// SharedReplyError escapes; a reply is taken only when the signature verifies under the pinned
// key (checked here with node:crypto, not with the device's Ed25519) and the text echoes the
// request's nonce; credentials it takes are storable in the credential record.
import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify } from "node:crypto";
import { fromUtf8, utf8 } from "../../../src/bytes/bytes.js";
import { openRegistrationReply, SharedReplyError } from "../../../src/onboarding/shared-register.js";
import { Secret } from "../../../src/secrets/secret.js";
import { nodeCrypto } from "../../io/node-crypto.js";
import type { Rand } from "../rand.js";
import { expect, type FuzzTarget } from "../target.js";
import { checkWholeRecord } from "./credential-record.js";
import { mutateJsonBytes } from "./json-mutate.js";

const CLIENT_ID = "espAABBCCDDEEFF";
const NONCE = "00112233445566778899aabbccddeeff";
// A fixed test key (RFC 8032 test 1's secret key) as PKCS#8: the fuzzer must be reproducible.
const PRIVATE = createPrivateKey({ key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), Buffer.from("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "hex")]), format: "der", type: "pkcs8" });
const PUBLIC = createPublicKey(PRIVATE);
const CLOUD_KEY = new Uint8Array(Buffer.from(PUBLIC.export({ format: "jwk" }).x!, "base64url"));
const IDENTITY = { secretKey: Secret.fromBytes(new Uint8Array(32).fill(7)), publicKey: new Uint8Array(32).fill(9) };
const INNER_KEYS = ["nonce", "username", "password", "topics", "telemetry", "status", "command", "error", "detail"];
const ENVELOPE_KEYS = ["v", "reply", "signature"];

const signedBytes = (inner: string) => Buffer.from(`onboard-register-reply-v1\n${CLIENT_ID}\n${inner}`, "utf8");

function envelope(inner: string): Uint8Array {
  return utf8(JSON.stringify({ v: 2, reply: inner, signature: cryptoSign(null, signedBytes(inner), PRIVATE).toString("hex") }));
}

function sampleInner(r: Rand): string {
  const nonce = r.bool(0.9) ? NONCE : "ffeeddccbbaa99887766554433221100";
  if (r.bool(0.3)) return JSON.stringify({ nonce, error: r.pick(["client-id-taken", "disabled", "bad-request", "replayed"]), ...(r.bool() ? { detail: "x" } : {}) });
  return JSON.stringify({
    nonce, username: r.pick(["u1", "0b6e-user", "x".repeat(40)]), password: r.pick(["p", "secret-password-123"]),
    ...(r.bool(0.4) ? { topics: { telemetry: `devices/${CLIENT_ID}/telemetry`, ...(r.bool() ? { command: `devices/${CLIENT_ID}/cmd` } : {}) } } : {}),
  });
}

export const sharedRegisterReplyTarget: FuzzTarget = {
  name: "shared-register-reply",
  maxLength: 4096,
  seeds: (r) => Array.from({ length: 30 }, () => envelope(sampleInner(r))),
  generators: [
    (r) => envelope(fromUtf8(mutateJsonBytes(r, utf8(sampleInner(r)), INNER_KEYS))),
    (r) => mutateJsonBytes(r, envelope(sampleInner(r)), ENVELOPE_KEYS),
  ],
  run(input) {
    let opened;
    try {
      opened = openRegistrationReply(nodeCrypto, input, { clientId: CLIENT_ID, nonceHex: NONCE, cloudKey: CLOUD_KEY });
    } catch (e) {
      if (e instanceof SharedReplyError) return;
      throw e;
    }
    if (opened.kind === "ignored") return;
    // Taken: the envelope must be one the pinned key really signed, for our nonce.
    const o = JSON.parse(fromUtf8(input)) as { reply: string; signature: string };
    expect(cryptoVerify(null, signedBytes(o.reply), PUBLIC, Buffer.from(o.signature, "hex")), "took a reply whose signature does not verify");
    expect((JSON.parse(o.reply) as { nonce?: unknown }).nonce === NONCE, "took a reply for another nonce");
    const reply = opened.reply;
    if (!reply.ok) return;
    checkWholeRecord({
      version: 1, identity: IDENTITY,
      mqtt: { brokerUrl: "mqtts://broker.example:8883", clientId: CLIENT_ID, username: reply.username, password: reply.password, topics: { telemetry: "t", status: "s", command: "c", ...reply.topics } },
    }, "registration credentials");
  },
};
