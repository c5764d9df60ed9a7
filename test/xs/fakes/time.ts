// Fake "time". Mirrors modules/base/time/time.js (+ esp/modTime.c): Time.set(seconds since the
// epoch) sets the wall clock Date.now() reads; Time.ticks is the millisecond tick counter.
import { world } from "./world.js";

const Time = {
  set(seconds: number): void {
    if (!Number.isFinite(seconds)) throw new RangeError("Time.set: seconds");
    world.now = seconds * 1000;
  },
  get ticks(): number {
    return world.ticks;
  },
};
export default Time;
