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
