// Fake "gcm" (modules/crypt/etc/gcm.js): AES-GCM with @noble/ciphers, with the SDK's calling
// convention: encrypt returns ciphertext ‖ tag as an ArrayBuffer; decrypt takes a view of
// ciphertext ‖ tag and returns the plaintext, or undefined when the tag does not verify; the IV
// must be an ArrayBuffer (gcm.js calls iv.concat()).
import { gcm } from "@noble/ciphers/aes.js";
import { keyOf, type BlockCipher } from "./crypt.js";
import { bytesOf, world } from "./world.js";

export default class GCM {
  readonly #key: Uint8Array;
  constructor(cipher: BlockCipher, tagLength = 16) {
    if (tagLength !== 16) throw new Error("fake GCM: 16-byte tags only");
    this.#key = keyOf(cipher);
  }
  process(data: ArrayBuffer | Uint8Array, buf: undefined, iv: ArrayBuffer, aad: ArrayBuffer | undefined, encrypt: boolean): ArrayBuffer | undefined {
    if (buf !== undefined) throw new Error("fake GCM: the glue passes no output buffer");
    if (!(iv instanceof ArrayBuffer)) throw new Error("fake GCM: iv.concat is not a function (the IV must be an ArrayBuffer)");
    world.ciphers++;
    const nonce = new Uint8Array(iv.slice(0));
    const extra = aad === undefined ? undefined : bytesOf(aad, "GCM aad");
    if (encrypt) {
      if (!(data instanceof ArrayBuffer)) throw new Error("fake GCM: encrypt takes an ArrayBuffer");
      return gcm(this.#key, nonce, extra).encrypt(new Uint8Array(data)).slice().buffer;
    }
    if (!(data instanceof Uint8Array)) throw new Error("fake GCM: data.subarray is not a function (decrypt takes a view)");
    try {
      return gcm(this.#key, nonce, extra).decrypt(data).slice().buffer;
    } catch {
      return undefined;
    }
  }
}
