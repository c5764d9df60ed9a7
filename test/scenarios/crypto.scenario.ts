// Crypto wrappers on every engine: RFC 7748 X25519 vectors, the persistent AES-CTR stream, GCM
// round trip and tamper detection, SRP-6a client/server agreement. (Node cross-checks against
// node:crypto and an independent SRP computation are in test/node/crypto.test.ts.)
import { fromHex, toHex, utf8 } from "../../src/bytes/bytes.js";
import { AesCtrStream, aesGcmDecrypt, aesGcmEncrypt } from "../../src/crypto/aes.js";
import { SrpClient, SrpServer, srpVerifier } from "../../src/crypto/srp.js";
import { CryptoError, x25519, x25519PublicKey } from "../../src/crypto/x25519.js";
import { providerMismatches } from "./provider-vectors.js";
import { check, checkEqual, checkThrows, type Scenario } from "./harness.js";

export const RFC7748 = {
  // §5.2 single scalar multiplications
  scalar1: "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
  u1: "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
  out1: "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
  // §6.1 Diffie-Hellman
  alicePriv: "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
  alicePub: "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
  bobPriv: "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
  bobPub: "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
  shared: "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742",
};

export const scenarios: Scenario[] = [
  {
    name: "crypto: the engine's provider (io.crypto) gives the published answers (FIPS 180, RFC 4231, SP 800-38A CTR/CFB, GCM)",
    run(ctx) {
      checkEqual(providerMismatches(ctx.crypto), [], "provider known answers");
      check(ctx.device().io.crypto === ctx.crypto, "devices use the engine's provider");
    },
  },
  {
    name: "crypto: X25519 RFC 7748 vectors; low-order key refused",
    run() {
      const v = RFC7748;
      checkEqual(toHex(x25519(fromHex(v.scalar1), fromHex(v.u1))), v.out1, "§5.2 vector");
      checkEqual(toHex(x25519PublicKey(fromHex(v.alicePriv))), v.alicePub, "Alice public");
      checkEqual(toHex(x25519PublicKey(fromHex(v.bobPriv))), v.bobPub, "Bob public");
      checkEqual(toHex(x25519(fromHex(v.alicePriv), fromHex(v.bobPub))), v.shared, "shared (Alice)");
      checkEqual(toHex(x25519(fromHex(v.bobPriv), fromHex(v.alicePub))), v.shared, "shared (Bob)");
      checkThrows(() => x25519(fromHex(v.alicePriv), new Uint8Array(32)), CryptoError, "all-zero point");
      checkThrows(() => x25519(fromHex(v.alicePriv), new Uint8Array(31)), CryptoError, "short key");
    },
  },
  {
    name: "crypto: SHA-256/512 known answers; AES-CTR stream independent of message boundaries; GCM",
    run(ctx) {
      checkEqual(toHex(ctx.crypto.sha256(utf8("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "SHA-256(abc)");
      checkEqual(toHex(ctx.crypto.sha512(utf8("abc"))).slice(0, 32), "ddaf35a193617abacc417349ae204131", "SHA-512(abc)");
      const io = ctx.device().io;
      const key = new Uint8Array(32);
      io.random(key);
      const iv = new Uint8Array(16).fill(0xff); // counter wraps across all 128 bits
      const data = new Uint8Array(100);
      io.random(data);
      const whole = new AesCtrStream(ctx.crypto, key, iv).apply(data);
      const split = new AesCtrStream(ctx.crypto, key, iv);
      const parts = [split.apply(data.subarray(0, 7)), split.apply(data.subarray(7, 40)), split.apply(data.subarray(40))];
      checkEqual(toHex(Uint8Array.from(parts.flatMap((p) => [...p]))), toHex(whole), "same keystream in pieces");
      checkEqual(split.position, 100, "position");
      const nonce = new Uint8Array(12);
      const sealed = aesGcmEncrypt(ctx.crypto, key, nonce, data);
      checkEqual(sealed.length, 116, "tag appended");
      checkEqual(toHex(aesGcmDecrypt(ctx.crypto, key, nonce, sealed)), toHex(data), "GCM round trip");
      sealed[3]! ^= 1;
      checkThrows(() => aesGcmDecrypt(ctx.crypto, key, nonce, sealed), CryptoError, "tampered GCM");
    },
  },
  {
    name: "crypto: SRP-6a (3072/SHA-512) client and server agree; wrong password fails",
    run(ctx) {
      const io = ctx.device().io;
      const I = utf8("wifiprov");
      const salt = new Uint8Array(16);
      io.random(salt);
      const v = srpVerifier(ctx.crypto, I, utf8("abcd1234"), salt);
      const server = new SrpServer(ctx.crypto, I, salt, v, io.random);
      const client = new SrpClient(ctx.crypto, I, utf8("abcd1234"), io.random);
      checkEqual(client.publicKey.length, 384, "A is 384 bytes");
      server.setClientPublicKey(client.publicKey);
      const M = client.processChallenge(server.salt, server.publicKey);
      const hamk = server.verifyClientProof(M);
      check(hamk !== undefined, "server accepts the proof");
      check(client.verifyServerProof(hamk!), "client accepts H_AMK");
      checkEqual(toHex(client.sessionKey), toHex(server.sessionKey), "same K");
      const server2 = new SrpServer(ctx.crypto, I, salt, v, io.random);
      const wrong = new SrpClient(ctx.crypto, I, utf8("abcd1235"), io.random);
      server2.setClientPublicKey(wrong.publicKey);
      check(server2.verifyClientProof(wrong.processChallenge(server2.salt, server2.publicKey)) === undefined, "wrong password rejected");
    },
  },
];
