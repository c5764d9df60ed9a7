// AES as the core uses it, on top of the platform's provider (io.crypto): the sizes are checked
// here once, so every provider sees well-formed input and a bad key or nonce is a typed
// CryptoError on every engine.
import type { CipherStream, CryptoProvider } from "./provider.js";
import { CryptoError } from "./x25519.js";

function checkKey(key: Uint8Array): void {
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) throw new CryptoError("AES key must be 16, 24 or 32 bytes");
}

/**
 * A persistent AES-CTR keystream (one stream across many messages, as protocomm Security 1 uses
 * it). `apply()` encrypts or decrypts (the same operation) and advances by the data length.
 */
export class AesCtrStream {
  readonly #stream: CipherStream;
  #used = 0;

  constructor(crypto: CryptoProvider, key: Uint8Array, initialCounter: Uint8Array) {
    checkKey(key);
    if (initialCounter.length !== 16) throw new CryptoError("AES-CTR counter block must be 16 bytes");
    this.#stream = crypto.aesCtr(key, initialCounter);
  }

  /** Bytes of keystream consumed so far. */
  get position(): number {
    return this.#used;
  }

  apply(data: Uint8Array): Uint8Array {
    const out = this.#stream.apply(data);
    this.#used += data.length;
    return out;
  }
}

/** AES-GCM: ciphertext with the 16-byte tag appended. */
export function aesGcmEncrypt(crypto: CryptoProvider, key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array {
  checkKey(key);
  if (nonce.length === 0) throw new CryptoError("AES-GCM nonce is empty");
  return crypto.aesGcmSeal(key, nonce, plaintext, aad);
}

/** AES-GCM open; throws CryptoError when the tag does not verify. */
export function aesGcmDecrypt(crypto: CryptoProvider, key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Uint8Array {
  checkKey(key);
  if (nonce.length === 0) throw new CryptoError("AES-GCM nonce is empty");
  if (sealed.length < 16) throw new CryptoError("AES-GCM message shorter than its tag");
  const opened = crypto.aesGcmOpen(key, nonce, sealed, aad);
  if (opened === undefined) throw new CryptoError("AES-GCM tag mismatch");
  return opened;
}

/** AES-CFB128 of one message. */
export function aesCfb(crypto: CryptoProvider, key: Uint8Array, iv: Uint8Array, data: Uint8Array, direction: "encrypt" | "decrypt"): Uint8Array {
  checkKey(key);
  if (iv.length !== 16) throw new CryptoError("AES-CFB IV must be 16 bytes");
  return crypto.aesCfb(key, iv, data, direction);
}
