// Fake of the SDK's "timer" module on the world's manual clock.
import { addTimer, world, type FakeTimer } from "./world.js";

export default class Timer {
  static set(callback: (timer: FakeTimer) => void, delay = 0, repeat = 0): FakeTimer {
    if (typeof callback !== "function") throw new TypeError("Timer.set: callback is not a function");
    return addTimer(callback, delay, repeat);
  }
  static clear(timer: FakeTimer | undefined): void {
    if (timer === undefined) return;
    if (!world.timers.includes(timer) && !timer.cleared) throw new Error("Timer.clear: not a timer");
    timer.cleared = true;
  }
}
