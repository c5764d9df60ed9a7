// Fake "crypt": Digest with @noble/hashes; BlockCipher (AES, ECB per block) and Mode("CTR") with
// @noble/ciphers, following modCrypt.c: results are new ArrayBuffers, and CTR keeps its counter and
// its offset into the current block between calls (the board's are C).
import { ecb } from "@noble/ciphers/aes.js";
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import { world, bytesOf } from "./world.js";

export class Digest {
  readonly #hash: (message: Uint8Array) => Uint8Array;
  #parts: Uint8Array[] = [];
  constructor(algorithm: "SHA256" | "SHA384" | "SHA512") {
    if (algorithm === "SHA512") this.#hash = sha512;
    else if (algorithm === "SHA384") this.#hash = sha384;
    else if (algorithm === "SHA256") this.#hash = sha256;
    else throw new Error("Digest: unsupported algorithm");
  }
  write(data: string | ArrayBuffer | ArrayBufferView): void {
    if (typeof data === "string") throw new Error("fake Digest: strings are not used by the glue");
    this.#parts.push(bytesOf(data, "Digest.write"));
  }
  close(): ArrayBuffer {
    world.digests++;
    let length = 0;
    for (const p of this.#parts) length += p.length;
    const all = new Uint8Array(length);
    let o = 0;
    for (const p of this.#parts) { all.set(p, o); o += p.length; }
    this.#parts = [];
    return this.#hash(all).slice().buffer;
  }
}

const cipherKeys = new WeakMap<object, Uint8Array>();

/** The key of a fake BlockCipher, for the fake GCM (the SDK's GCM holds the cipher itself). */
export function keyOf(cipher: BlockCipher): Uint8Array {
  const key = cipherKeys.get(cipher);
  if (key === undefined) throw new Error("fake GCM: not a BlockCipher");
  return key;
}

export class BlockCipher {
  readonly #key: Uint8Array;
  constructor(cipher: "AES", key: ArrayBuffer) {
    if (cipher !== "AES") throw new Error("fake BlockCipher: only AES");
    if (!(key instanceof ArrayBuffer)) throw new Error("fake BlockCipher: key must be an ArrayBuffer");
    if (![16, 24, 32].includes(key.byteLength)) throw new Error("invalid key size");
    this.#key = new Uint8Array(key.slice(0));
    cipherKeys.set(this, this.#key);
  }
  get blockSize(): number {
    return 16;
  }
  encrypt(data: ArrayBuffer): ArrayBuffer {
    const block = bytesOf(data, "BlockCipher.encrypt");
    if (block.length !== 16) throw new Error("fake BlockCipher: one 16-byte block");
    world.ciphers++;
    return ecb(this.#key, { disablePadding: true }).encrypt(block).slice().buffer;
  }
  decrypt(data: ArrayBuffer): ArrayBuffer {
    return ecb(this.#key, { disablePadding: true }).decrypt(bytesOf(data, "BlockCipher.decrypt")).slice().buffer;
  }
}

export class Mode {
  readonly #cipher: BlockCipher;
  readonly #counter = new Uint8Array(16);
  #pad = new Uint8Array(16);
  #offset = 0;
  constructor(mode: "ECB" | "CTR" | "CBC", cipher: BlockCipher, iv?: ArrayBuffer) {
    if (mode !== "CTR") throw new Error("fake Mode: only CTR is used by the glue");
    this.#cipher = cipher;
    if (iv !== undefined) this.setIV(iv);
  }
  setIV(iv: ArrayBuffer): void {
    const bytes = bytesOf(iv, "Mode.setIV");
    this.#counter.fill(0);
    this.#counter.set(bytes.subarray(0, 16), 16 - Math.min(16, bytes.length)); // ctr_setIV: right-aligned
    this.#pad = new Uint8Array(this.#cipher.encrypt(this.#counter.slice().buffer));
    this.#offset = 0;
  }
  encrypt(data: ArrayBuffer): ArrayBuffer {
    const input = bytesOf(data, "Mode.encrypt");
    const out = new Uint8Array(input.length);
    for (let i = 0; i < input.length; i++) {
      if (this.#offset === 16) {
        for (let j = 15; j >= 0; j--) if (++this.#counter[j]! !== 256) break; // 128-bit big-endian increment
        this.#pad = new Uint8Array(this.#cipher.encrypt(this.#counter.slice().buffer));
        this.#offset = 0;
      }
      out[i] = input[i]! ^ this.#pad[this.#offset++]!;
    }
    return out.buffer;
  }
  decrypt(data: ArrayBuffer): ArrayBuffer {
    return this.encrypt(data);
  }
}
