// The crypto provider on the board: the SDK's native modules (modules/crypt): Digest (SHA-256/512
// in C), BlockCipher("AES") and Mode("CTR") in C, and the SDK's GCM (its CTR mode and GHASH in C).
// Nothing here builds a table in the XS heap; a cipher object is a small host chunk, made per call.
/// <reference path="./types/untyped.d.ts" />
import { BlockCipher, Digest, Mode } from "crypt";
import GCM from "gcm";
import type { CipherStream, CryptoProvider, HashName } from "../../crypto/provider.js";
import { toArrayBuffer } from "./pem.js";
import { boardSignatures } from "./signatures.js";

const DIGEST = { sha256: "SHA256", sha512: "SHA512" } as const;
const BLOCK = { sha256: 64, sha512: 128 } as const;

function digest(hash: HashName, ...parts: Uint8Array[]): Uint8Array {
  const d = new Digest(DIGEST[hash]);
  for (const part of parts) d.write(toArrayBuffer(part));
  return new Uint8Array(d.close());
}

/** RFC 2104 over the native digest (the SDK's own hmac module has broken sign()/verify()). */
function hmac(hash: HashName, key: Uint8Array, data: Uint8Array): Uint8Array {
  const block = BLOCK[hash];
  const k = new Uint8Array(block);
  k.set(key.length > block ? digest(hash, key) : key);
  const inner = new Uint8Array(block);
  const outer = new Uint8Array(block);
  for (let i = 0; i < block; i++) {
    inner[i] = k[i]! ^ 0x36;
    outer[i] = k[i]! ^ 0x5c;
  }
  k.fill(0);
  return digest(hash, outer, digest(hash, inner, data));
}

function aesCfb(key: Uint8Array, iv: Uint8Array, data: Uint8Array, direction: "encrypt" | "decrypt"): Uint8Array {
  const aes = new BlockCipher("AES", toArrayBuffer(key));
  const out = new Uint8Array(data.length);
  let feedback = iv.slice();
  for (let at = 0; at < data.length; at += 16) {
    const pad = new Uint8Array(aes.encrypt(toArrayBuffer(feedback)));
    const n = Math.min(16, data.length - at);
    for (let i = 0; i < n; i++) out[at + i] = data[at + i]! ^ pad[i]!;
    // full-block feedback: the ciphertext block (ours when encrypting, the input when decrypting)
    feedback = (direction === "encrypt" ? out : data).slice(at, at + 16);
  }
  return out;
}

export const boardCrypto: CryptoProvider = Object.freeze({
  verifyRsaPkcs1v15: boardSignatures.verifyRsaPkcs1v15,
  verifyEcdsa: boardSignatures.verifyEcdsa,
  sha256: (data: Uint8Array) => digest("sha256", data),
  sha512: (data: Uint8Array) => digest("sha512", data),
  hmac,
  aesCtr(key: Uint8Array, counter: Uint8Array): CipherStream {
    // Mode("CTR") keeps its counter and the offset into the current block between calls.
    const mode = new Mode("CTR", new BlockCipher("AES", toArrayBuffer(key)), toArrayBuffer(counter));
    return { apply: (data: Uint8Array) => new Uint8Array(mode.encrypt(toArrayBuffer(data))) };
  },
  aesCfb,
  aesGcmSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array {
    const gcm = new GCM(new BlockCipher("AES", toArrayBuffer(key)));
    return new Uint8Array(gcm.process(toArrayBuffer(plaintext), undefined, toArrayBuffer(nonce), aad && toArrayBuffer(aad), true)!);
  },
  aesGcmOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Uint8Array | undefined {
    const gcm = new GCM(new BlockCipher("AES", toArrayBuffer(key)));
    // the SDK's GCM reads the tag through subarray(): give it a view
    const opened = gcm.process(new Uint8Array(toArrayBuffer(sealed)), undefined, toArrayBuffer(nonce), aad && toArrayBuffer(aad), false);
    return opened === undefined ? undefined : new Uint8Array(opened);
  },
});
