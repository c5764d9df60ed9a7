// AES from @noble/ciphers: a persistent AES-CTR keystream (one stream across many messages, as
// protocomm Security 1 uses it) and one-shot AES-GCM. Others needing other modes (CFB, CBC) use
// @noble/ciphers directly; these wrappers only add what noble does not do by itself.
import { ctr, ecb, gcm } from "@noble/ciphers/aes.js";
import { CryptoError } from "./x25519.js";

/**
 * AES-CTR with a 16-byte initial counter block, incremented as one 128-bit big-endian number
 * (mbedtls aes_crypt_ctr, OpenSSL, Python cryptography). `apply()` encrypts or decrypts (the
 * same operation) and advances the stream by the data length, keeping partial blocks across calls.
 */
export class AesCtrStream {
  readonly #key: Uint8Array;
  readonly #counter: Uint8Array;
  #spare = new Uint8Array(0);
  #used = 0;

  constructor(key: Uint8Array, initialCounter: Uint8Array) {
    if (key.length !== 16 && key.length !== 24 && key.length !== 32) throw new CryptoError("AES key must be 16, 24 or 32 bytes");
    if (initialCounter.length !== 16) throw new CryptoError("AES-CTR counter block must be 16 bytes");
    this.#key = key.slice();
    this.#counter = initialCounter.slice();
  }

  /** Bytes of keystream consumed so far. */
  get position(): number {
    return this.#used;
  }

  apply(data: Uint8Array): Uint8Array {
    const out = new Uint8Array(data.length);
    let at = 0;
    while (at < data.length) {
      if (this.#spare.length === 0) this.#refill(data.length - at);
      const n = Math.min(this.#spare.length, data.length - at);
      for (let i = 0; i < n; i++) out[at + i] = data[at + i]! ^ this.#spare[i]!;
      this.#spare = this.#spare.subarray(n);
      at += n;
    }
    this.#used += data.length;
    return out;
  }

  #refill(wanted: number): void {
    const blocks = Math.max(1, Math.ceil(wanted / 16));
    this.#spare = ctr(this.#key, this.#counter).encrypt(new Uint8Array(blocks * 16));
    // advance the 128-bit big-endian counter by `blocks`
    let carry = blocks;
    for (let i = 15; i >= 0 && carry > 0; i--) {
      const sum = this.#counter[i]! + (carry & 0xff);
      this.#counter[i] = sum & 0xff;
      carry = (carry >>> 8) + (sum >> 8);
    }
  }
}

/** One AES block (ECB); for tests and key checks. */
export function aesEncryptBlock(key: Uint8Array, block: Uint8Array): Uint8Array {
  return ecb(key, { disablePadding: true }).encrypt(block);
}

/** AES-GCM: ciphertext with the 16-byte tag appended. */
export function aesGcmEncrypt(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array {
  return gcm(key, nonce, aad).encrypt(plaintext);
}

/** AES-GCM open; throws CryptoError when the tag does not verify. */
export function aesGcmDecrypt(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Uint8Array {
  if (sealed.length < 16) throw new CryptoError("AES-GCM message shorter than its tag");
  try {
    return gcm(key, nonce, aad).decrypt(sealed);
  } catch {
    throw new CryptoError("AES-GCM tag mismatch");
  }
}
