// Fake of the SDK's "timer" module on the world's manual clock. Mirrors modules/base/timer/modTimer.c:
// set(callback, delay = 0, repeat = 0); clear() of undefined, of a fired one-shot timer or of
// anything that is not a timer returns silently (xsGetHostDataIf). An exception escaping a callback
// is fxAbort on the board (xsBeginHost/xsEndHost); here it propagates and fails the check.
import { addTimer, world, type FakeTimer } from "./world.js";

export default class Timer {
  static set(callback: (timer: FakeTimer) => void, delay = 0, repeat = 0): FakeTimer {
    if (typeof callback !== "function") throw new TypeError("Timer.set: callback is not a function");
    return addTimer(callback, delay, repeat);
  }
  static clear(timer: FakeTimer | undefined): void {
    if (timer === undefined || !world.timers.includes(timer)) return;
    timer.cleared = true;
  }
}
