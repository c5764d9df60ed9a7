// Fake of our native "board-random" module. Mirrors src/platform/moddable/native/ (ours, not the
// SDK's: esp_fill_random into the buffer): deterministic bytes, buffer shapes checked like
// xsmcGetBufferWritable does (an ArrayBuffer or a view).
import { world } from "./world.js";

let state = 0x2545f491;

export default function fillRandom(into: ArrayBuffer | ArrayBufferView): void {
  const bytes = into instanceof ArrayBuffer ? new Uint8Array(into)
    : ArrayBuffer.isView(into) ? new Uint8Array(into.buffer, into.byteOffset, into.byteLength)
    : undefined;
  if (bytes === undefined) throw new TypeError("fillRandom: expected a buffer");
  for (let i = 0; i < bytes.length; i++) {
    state ^= state << 13; state ^= state >>> 17; state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  world.randomBytes += bytes.length;
}
