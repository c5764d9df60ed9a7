// Crypto wrappers cross-checked on Node: X25519 against node:crypto, AES-CTR/GCM and SHA against
// node:crypto, and SRP-6a against an independent computation written here (separate BigInt
// code, node:crypto hashes, the RFC 3526/5054 prime from node:crypto's modp15 group).
import assert from "node:assert/strict";
import { createCipheriv, createDecipheriv, createHash, createPrivateKey, createPublicKey, diffieHellman, getDiffieHellman, randomBytes, randomInt } from "node:crypto";
import { test } from "node:test";
import { AesCtrStream, aesGcmDecrypt, aesGcmEncrypt } from "../../src/crypto/aes.js";
import { sha256, sha512 } from "../../src/crypto/hash.js";
import { SRP_N, SrpClient, SrpServer, srpVerifier } from "../../src/crypto/srp.js";
import { x25519, x25519PublicKey } from "../../src/crypto/x25519.js";

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
    assert.deepEqual(sha256(m), u8(createHash("sha256").update(m).digest()));
    assert.deepEqual(sha512(m), u8(createHash("sha512").update(m).digest()));
  }
});

test("crypto: AES-256-CTR stream agrees with node:crypto across arbitrary message splits and counter wrap", () => {
  for (let i = 0; i < 50; i++) {
    const key = randomBytes(32);
    const iv = i % 5 === 0 ? Buffer.from("ffffffffffffffffffffffffffffff" + "fe", "hex") : randomBytes(16);
    const data = randomBytes(randomInt(0, 700));
    const expected = u8(createCipheriv("aes-256-ctr", key, iv).update(data));
    const stream = new AesCtrStream(key, iv);
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
    assert.deepEqual(aesGcmEncrypt(key, nonce, data), u8(expected));
    const d = createDecipheriv("aes-256-gcm", key, nonce);
    d.setAuthTag(expected.subarray(-16));
    assert.deepEqual(u8(Buffer.concat([d.update(expected.subarray(0, -16)), d.final()])), aesGcmDecrypt(key, nonce, expected));
  }
});

// ---- independent SRP-6a (esp_srp.c / esp_prov srp6a.py formulas), written separately
const H = (...parts: (Uint8Array | Buffer)[]): Buffer => createHash("sha512").update(Buffer.concat(parts)).digest();
const N = BigInt("0x" + getDiffieHellman("modp15").getPrime("hex"));
const g = 5n;
const toBig = (b: Uint8Array): bigint => (b.length === 0 ? 0n : BigInt("0x" + Buffer.from(b).toString("hex")));
const toBuf = (n: bigint, len?: number): Buffer => {
  let hex = n.toString(16);
  if (hex.length % 2) hex = "0" + hex;
  const b = Buffer.from(hex, "hex");
  return len === undefined ? b : Buffer.concat([Buffer.alloc(len - b.length), b]);
};
function powmod(b: bigint, e: bigint, m: bigint): bigint {
  // left-to-right binary method (ours is right-to-left)
  let r = 1n;
  for (const bit of e.toString(2)) {
    r = (r * r) % m;
    if (bit === "1") r = (r * b) % m;
  }
  return r;
}

test("crypto: SRP-6a matches an independent computation (RFC 5054 3072-bit group, SHA-512)", () => {
  assert.equal(SRP_N, N, "group prime is RFC 3526/5054's 3072-bit prime");
  const I = Buffer.from("wifiprov");
  const P = Buffer.from("abcd1234");
  const s = randomBytes(16);
  const x = toBig(H(s, H(I, Buffer.from(":"), P)));
  const v = powmod(g, x, N);
  assert.deepEqual(srpVerifier(I, P, s), u8(toBuf(v)), "verifier");
  const k = toBig(H(toBuf(N, 384), toBuf(g, 384)));

  // deterministic randomness: the server draws b, the client draws a
  const bBytes = randomBytes(32);
  const aBytes = randomBytes(32);
  const server = new SrpServer(I, s, srpVerifier(I, P, s), (into) => into.set(bBytes.subarray(0, into.length)));
  const b = toBig(bBytes);
  const B = (k * v + powmod(g, b, N)) % N;
  assert.deepEqual(server.publicKey, u8(toBuf(B)), "B = k·v + g^b");

  let aUsed = 0n;
  const client = new SrpClient(I, P, (into) => {
    into.set(aBytes.subarray(0, into.length));
    aUsed = toBig(into);
    aBytes[0] = (aBytes[0]! + 1) & 0xff; // a re-roll gets a different a
  });
  const A = powmod(g, aUsed, N);
  assert.deepEqual(client.publicKey, u8(toBuf(A, 384)), "A = g^a");
  const u = toBig(H(toBuf(A, 384), toBuf(B, 384)));
  const Sclient = powmod((B - ((k * powmod(g, x, N)) % N) + N) % N, aUsed + u * x, N);
  const Sserver = powmod((A * powmod(v, u, N)) % N, b, N);
  assert.equal(Sclient, Sserver, "independent S agrees with itself");
  const K = H(toBuf(Sserver));
  const hx = Buffer.from(H(toBuf(N)).map((byte, i) => byte ^ H(toBuf(g))[i]!));
  const M = H(hx, H(I), s, toBuf(A), toBuf(B), K);
  const HAMK = H(toBuf(A), M, K);

  server.setClientPublicKey(client.publicKey);
  const ourM = client.processChallenge(s, server.publicKey);
  assert.deepEqual(ourM, u8(M), "client proof M");
  assert.deepEqual(client.sessionKey, u8(K), "client K = H(S)");
  assert.deepEqual(server.sessionKey, u8(K), "server K");
  assert.deepEqual(server.verifyClientProof(u8(M)), u8(HAMK), "server H_AMK");
});
