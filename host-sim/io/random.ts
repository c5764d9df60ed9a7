// Random bytes for the I/O object: the host's CSPRNG by default (esp_fill_random on the board),
// or a seeded generator so a test run can be replayed exactly.
import { createHash, randomFillSync } from "node:crypto";

export type RandomSource = (into: Uint8Array) => void;

export const cryptoRandom: RandomSource = (into) => {
  randomFillSync(into);
};

/**
 * A deterministic stream: SHA-256(seed ‖ counter) blocks, concatenated. Same seed, same bytes,
 * on every run and every machine. For tests only: the seed is the whole secret.
 */
export function seededRandom(seed: string | number): RandomSource {
  const seedBytes = Buffer.from(`host-sim seeded random:${String(seed)}`, "utf8");
  let counter = 0;
  let block: Uint8Array = new Uint8Array(0);
  let used = 0;
  return (into) => {
    for (let i = 0; i < into.length; i++) {
      if (used === block.length) {
        block = nextBlock(seedBytes, counter++);
        used = 0;
      }
      into[i] = block[used++]!;
    }
  };
}

function nextBlock(seed: Buffer, counter: number): Uint8Array {
  const index = Buffer.alloc(8);
  index.writeBigUInt64BE(BigInt(counter));
  return new Uint8Array(createHash("sha256").update(seed).update(index).digest());
}
