// Timers on the SDK's Timer module. Timer handles are objects; the core deals in numbers, so each
// live timer gets an id. A fired one-shot timer is forgotten (the SDK frees it after the callback).
import Timer from "timer";
import type { TimerId, Timers } from "../../io/io.js";

export class BoardTimers implements Timers {
  readonly #live = new Map<TimerId, Timer>();
  #next = 1;

  set(callback: () => void, ms: number): TimerId {
    const id = this.#next++;
    const timer = Timer.set(() => {
      this.#live.delete(id);
      callback();
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
