// Timers on the SDK's Timer module. Timer handles are objects; the core deals in numbers, so each
// live timer gets an id. A fired one-shot timer is forgotten (the SDK frees it after the callback).
// A callback that throws is caught here and reported: an exception that reaches the SDK's timer
// service aborts XS, and on an ESP32 fxAbort restarts the chip.
import Timer from "timer";
import type { TimerId, Timers } from "../../io/io.js";

export class BoardTimers implements Timers {
  readonly #live = new Map<TimerId, Timer>();
  readonly #report: (error: unknown) => void;
  #next = 1;

  /** `report`: told of an exception a callback threw (it must not throw itself; guarded anyway). */
  constructor(report: (error: unknown) => void = () => {}) {
    this.#report = report;
  }

  set(callback: () => void, ms: number): TimerId {
    const id = this.#next++;
    const timer = Timer.set(() => {
      this.#live.delete(id);
      try {
        callback();
      } catch (error) {
        try { this.#report(error); } catch { /* nothing left to tell */ }
      }
    }, Math.max(0, ms));
    this.#live.set(id, timer);
    return id;
  }

  clear(id: TimerId): void {
    const timer = this.#live.get(id);
    if (timer === undefined) return;
    this.#live.delete(id);
    Timer.clear(timer);
  }

  /** Timers still pending (for tests and diagnostics). */
  get pending(): number { return this.#live.size; }
}
