// The cryptographic primitives the core uses, served by the platform through the Io object
// (`io.crypto`), so each engine runs them where they are cheapest:
//   - the board: the SDK's native `crypt` modules (Digest, BlockCipher/Mode, GCM, HMAC) —
//     src/platform/moddable/crypto.ts; no JavaScript tables in the firmware's heap;
//   - Node.js: node:crypto — host-sim/io/node-crypto.ts;
//   - XS in CI: JavaScript implementations — src/crypto/js-provider.ts (never linked into the board).
// The core validates sizes before it calls a provider (src/crypto/aes.ts), so a provider may assume
// well-formed arguments. Outputs are fresh arrays the caller owns.
//
// Adding a primitive: declare it here (one method, bytes in → bytes out), implement it in the three
// providers above, and add a known-answer check to test/scenarios/crypto.scenario.ts (runs on Node
// and XS) and to the board glue's checks (test/xs/fakes/guest.mts).

import type { SignatureVerifier } from "./signature.js";

export type HashName = "sha256" | "sha512";

/** A persistent keystream: `apply()` XORs the next `data.length` bytes of it into a copy of `data`. */
export interface CipherStream {
  apply(data: Uint8Array): Uint8Array;
}

export interface CryptoProvider {
  // ---- hashes and MACs
  sha256(data: Uint8Array): Uint8Array;
  sha512(data: Uint8Array): Uint8Array;
  hmac(hash: HashName, key: Uint8Array, data: Uint8Array): Uint8Array;

  // ---- AES (key 16, 24 or 32 bytes)
  /**
   * AES-CTR from a 16-byte initial counter block, incremented as one 128-bit big-endian number
   * (mbedtls, OpenSSL, the SDK's Mode("CTR")); the stream keeps partial blocks across calls.
   */
  aesCtr(key: Uint8Array, initialCounter: Uint8Array): CipherStream;
  /** AES-CFB with full 128-bit feedback (CFB128), one message; `iv` is 16 bytes. */
  aesCfb(key: Uint8Array, iv: Uint8Array, data: Uint8Array, direction: "encrypt" | "decrypt"): Uint8Array;
  /** AES-GCM with a 16-byte tag: ciphertext ‖ tag. */
  aesGcmSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array;
  /** AES-GCM open of ciphertext ‖ tag (at least 16 bytes); undefined when the tag does not verify. */
  aesGcmOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Uint8Array | undefined;

  // ---- signature verification (src/crypto/signature.ts: RSA PKCS#1 v1.5 and ECDSA P-256/P-384
  // over SHA-256/384/512), for the firmware's own TLS verifier (src/tls/). The SDK's native
  // modular and elliptic-curve arithmetic on the board, OpenSSL on Node, BigInt JavaScript on XS.
  verifyRsaPkcs1v15: SignatureVerifier["verifyRsaPkcs1v15"];
  verifyEcdsa: SignatureVerifier["verifyEcdsa"];
}
