// Crypto wrappers cross-checked on Node: X25519 against node:crypto, AES-CTR/GCM and SHA against
// node:crypto, SRP-6a's group against node:crypto's modp15 and its protocol against handshakes
// computed by Espressif's own client (the device side of those vectors is a scenario, both engines).
import assert from "node:assert/strict";
import { createCipheriv, createDecipheriv, createHash, createPrivateKey, createPublicKey, diffieHellman, getDiffieHellman, randomBytes, randomInt } from "node:crypto";
import { test } from "node:test";
import { AesCtrStream, aesGcmDecrypt, aesGcmEncrypt } from "../../src/crypto/aes.js";
import { SRP_N, SrpClient, SrpServer, srpSalt, srpVerifier } from "../../src/crypto/srp.js";
import { ESPRESSIF_SEC2_VECTORS } from "../scenarios/espressif-sec2-vectors.js";
import { x25519, x25519PublicKey } from "../../src/crypto/x25519.js";
import { jsCrypto } from "../../src/crypto/js-provider.js";

const u8 = (b: Buffer | Uint8Array): Uint8Array => new Uint8Array(b);

test("crypto: X25519 agrees with node:crypto on random keys", () => {
  for (let i = 0; i < 20; i++) {
    const a = randomBytes(32);
    const b = randomBytes(32);
    const ka = createPrivateKey({ key: Buffer.concat([Buffer.from("302e020100300506032b656e04220420", "hex"), a]), format: "der", type: "pkcs8" });
    const kb = createPrivateKey({ key: Buffer.concat([Buffer.from("302e020100300506032b656e04220420", "hex"), b]), format: "der", type: "pkcs8" });
    const pubB = createPublicKey(kb).export({ format: "der", type: "spki" }).subarray(-32);
    assert.deepEqual(x25519PublicKey(u8(b)), u8(pubB), "public key");
    const shared = diffieHellman({ privateKey: ka, publicKey: createPublicKey(kb) });
    assert.deepEqual(x25519(u8(a), u8(pubB)), u8(shared), "shared secret");
  }
});

test("crypto: SHA-256/512 agree with node:crypto", () => {
  for (const n of [0, 1, 55, 56, 63, 64, 111, 112, 127, 128, 1000, randomInt(0, 5000)]) {
    const m = randomBytes(n);
    assert.deepEqual(jsCrypto.sha256(m), u8(createHash("sha256").update(m).digest()));
    assert.deepEqual(jsCrypto.sha512(m), u8(createHash("sha512").update(m).digest()));
  }
});

test("crypto: AES-256-CTR stream agrees with node:crypto across arbitrary message splits and counter wrap", () => {
  for (let i = 0; i < 50; i++) {
    const key = randomBytes(32);
    const iv = i % 5 === 0 ? Buffer.from("ffffffffffffffffffffffffffffff" + "fe", "hex") : randomBytes(16);
    const data = randomBytes(randomInt(0, 700));
    const expected = u8(createCipheriv("aes-256-ctr", key, iv).update(data));
    const stream = new AesCtrStream(jsCrypto, key, iv);
    const out: number[] = [];
    for (let at = 0; at < data.length; ) {
      const n = Math.min(randomInt(0, 70), data.length - at);
      out.push(...stream.apply(data.subarray(at, at + n)));
      at += n;
      if (n === 0 && at < data.length) out.push(...stream.apply(data.subarray(at, ++at)));
    }
    assert.deepEqual(Uint8Array.from(out), expected);
  }
});

test("crypto: AES-256-GCM agrees with node:crypto", () => {
  for (let i = 0; i < 30; i++) {
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    const data = randomBytes(randomInt(0, 500));
    const c = createCipheriv("aes-256-gcm", key, nonce);
    const expected = Buffer.concat([c.update(data), c.final(), c.getAuthTag()]);
    assert.deepEqual(aesGcmEncrypt(jsCrypto, key, nonce, data), u8(expected));
    const d = createDecipheriv("aes-256-gcm", key, nonce);
    d.setAuthTag(expected.subarray(-16));
    assert.deepEqual(u8(Buffer.concat([d.update(expected.subarray(0, -16)), d.final()])), aesGcmDecrypt(jsCrypto, key, nonce, expected));
  }
});

// ---- SRP-6a: the group from node:crypto, the protocol from Espressif's own client (vectors)
test("crypto: the SRP group prime is RFC 3526/5054's 3072-bit prime (node:crypto modp15)", () => {
  assert.equal(SRP_N, BigInt("0x" + getDiffieHellman("modp15").getPrime("hex")));
});

test("crypto: our SRP client half reproduces esp_prov's A, M and accepts its H_AMK (Espressif vectors)", () => {
  for (const v of ESPRESSIF_SEC2_VECTORS) {
    const client = new SrpClient(jsCrypto, Buffer.from(v.username), Buffer.from(v.password), (into) => into.set(Buffer.from(v.client_secret_a, "hex")));
    assert.equal(Buffer.from(client.publicKey).toString("hex"), v.A, "A");
    assert.equal(Buffer.from(client.processChallenge(Buffer.from(v.salt, "hex"), Buffer.from(v.B, "hex"))).toString("hex"), v.client_proof_M, "M");
    assert.equal(Buffer.from(client.sessionKey).toString("hex"), v.session_key_K, "K");
    assert.ok(client.verifyServerProof(Buffer.from(v.device_proof_HAMK, "hex")), "H_AMK");
  }
});

test("crypto: SRP server and client agree on random salts and secrets; a wrong password never verifies", () => {
  for (let i = 0; i < 3; i++) {
    const I = Buffer.from("wifiprov");
    const s = srpSalt((into) => into.set(randomBytes(into.length)));
    const server = new SrpServer(jsCrypto, I, s, srpVerifier(jsCrypto, I, Buffer.from("pop-" + i), s), (into) => into.set(randomBytes(into.length)));
    const good = new SrpClient(jsCrypto, I, Buffer.from("pop-" + i), (into) => into.set(randomBytes(into.length)));
    server.setClientPublicKey(good.publicKey);
    const hamk = server.verifyClientProof(good.processChallenge(s, server.publicKey));
    assert.ok(hamk !== undefined && good.verifyServerProof(hamk));
    assert.deepEqual(server.sessionKey, good.sessionKey);
    const other = new SrpServer(jsCrypto, I, s, srpVerifier(jsCrypto, I, Buffer.from("pop-" + i), s), (into) => into.set(randomBytes(into.length)));
    const bad = new SrpClient(jsCrypto, I, Buffer.from("pop-x"), (into) => into.set(randomBytes(into.length)));
    other.setClientPublicKey(bad.publicKey);
    assert.equal(other.verifyClientProof(bad.processChallenge(s, other.publicKey)), undefined);
  }
});
