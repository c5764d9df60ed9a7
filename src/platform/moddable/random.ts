// Random bytes from the hardware RNG. A tiny native module (native/random.c) calls
// esp_fill_random() on the ESP32 and getentropy() on the desktop simulator: Math.random()
// gives 31 bits per call on the ESP32 and is an unseeded libc rand() on the simulator.
import fillRandom from "board-random";

export function boardRandom(into: Uint8Array): void {
  fillRandom(into);
}
