// Byte-level mutations shared by every target: flips, interesting values, insertions, deletions,
// duplicated and spliced ranges. Lengths are capped so one input's work stays bounded.
import type { Rand } from "./rand.js";

const INTERESTING = [0x00, 0x01, 0x02, 0x7f, 0x80, 0x81, 0xfe, 0xff, 0x20, 0x30, 0x22, 0x7b, 0x7d, 0x5c];

export function mutate(r: Rand, input: Uint8Array, maxLength: number, other?: Uint8Array): Uint8Array {
  let bytes = Array.from(input);
  for (let n = r.int(1, 4); n > 0; n--) {
    const at = bytes.length === 0 ? 0 : r.int(0, bytes.length - 1);
    switch (r.int(0, 8)) {
      case 0: if (bytes.length) bytes[at] = bytes[at]! ^ (1 << r.int(0, 7)); break;
      case 1: if (bytes.length) bytes[at] = r.int(0, 255); break;
      case 2: if (bytes.length) bytes[at] = r.pick(INTERESTING); break;
      case 3: bytes.splice(at, 0, ...Array.from(r.bytes(r.int(1, 8)))); break;
      case 4: bytes.splice(at, r.int(1, 8)); break;
      case 5: bytes = bytes.slice(0, r.int(0, bytes.length)); break; // truncate
      case 6: { // duplicate a range
        const end = Math.min(bytes.length, at + r.int(1, 32));
        bytes.splice(r.int(0, bytes.length), 0, ...bytes.slice(at, end));
        break;
      }
      case 7: if (bytes.length) bytes[at] = (bytes[at]! + r.pick([1, -1, 16, -16, 128])) & 0xff; break;
      case 8: if (other && other.length) { // splice in part of another seed
        const from = r.int(0, other.length - 1);
        bytes.splice(at, r.int(0, 16), ...Array.from(other.subarray(from, from + r.int(1, 64))));
        break;
      }
    }
  }
  return Uint8Array.from(bytes.slice(0, maxLength));
}
