// Fake "crypt": Digest computed with @noble/hashes (the board's is C).
import { sha256, sha512 } from "@noble/hashes/sha2.js";
import { world, bytesOf } from "./world.js";

export class Digest {
  readonly #hash: (message: Uint8Array) => Uint8Array;
  #parts: Uint8Array[] = [];
  constructor(algorithm: "SHA256" | "SHA512") {
    if (algorithm === "SHA512") this.#hash = sha512;
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
    return this.#hash(all).slice().buffer;
  }
}
