// The crypto provider in JavaScript (@noble/hashes, @noble/ciphers): for engines without native
// crypto, i.e. the XS engine in CI. Never linked into the board image: @noble/ciphers' AES builds
// its lookup tables when the module loads (1.3 MB of XS chunk heap on the SDK's runtime) and
// @noble/hashes keeps module-level typed arrays, which preloading makes read-only. The board uses
// the SDK's native modules instead (src/platform/moddable/crypto.ts).
import { cfb, ctr, gcm } from "@noble/ciphers/aes.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import type { CipherStream, CryptoProvider, HashName } from "./provider.js";
import { bigintSignatureVerifier } from "./signature-js.js";

const signatures = bigintSignatureVerifier((hash, data) => (hash === "SHA-256" ? sha256(data) : hash === "SHA-384" ? sha384(data) : sha512(data)));

/** CTR keystream made a block batch at a time, with the partial block kept across calls. */
class JsCtrStream implements CipherStream {
  readonly #key: Uint8Array;
  readonly #counter: Uint8Array;
  #spare = new Uint8Array(0);

  constructor(key: Uint8Array, counter: Uint8Array) {
    this.#key = key.slice();
    this.#counter = counter.slice();
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
    return out;
  }

  #refill(wanted: number): void {
    const blocks = Math.max(1, Math.ceil(wanted / 16));
    this.#spare = ctr(this.#key, this.#counter).encrypt(new Uint8Array(blocks * 16));
    let carry = blocks; // advance the 128-bit big-endian counter by `blocks`
    for (let i = 15; i >= 0 && carry > 0; i--) {
      const sum = this.#counter[i]! + (carry & 0xff);
      this.#counter[i] = sum & 0xff;
      carry = (carry >>> 8) + (sum >> 8);
    }
  }
}

export const jsCrypto: CryptoProvider = {
  verifyRsaPkcs1v15: signatures.verifyRsaPkcs1v15,
  verifyEcdsa: signatures.verifyEcdsa,
  sha256: (data) => sha256(data),
  sha512: (data) => sha512(data),
  hmac: (hash: HashName, key, data) => hmac(hash === "sha256" ? sha256 : sha512, key, data),
  aesCtr: (key, counter) => new JsCtrStream(key, counter),
  aesCfb: (key, iv, data, direction) => (direction === "encrypt" ? cfb(key, iv).encrypt(data) : cfb(key, iv).decrypt(data)),
  aesGcmSeal: (key, nonce, plaintext, aad) => gcm(key, nonce, aad).encrypt(plaintext),
  aesGcmOpen(key, nonce, sealed, aad) {
    try {
      return gcm(key, nonce, aad).decrypt(sealed);
    } catch {
      return undefined; // noble throws on a tag mismatch
    }
  },
};
