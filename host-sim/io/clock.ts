// Clocks and timers for the Node implementation of the I/O object.
//
// Two notions of time, as on the board: the wall clock (`now()`, which SNTP sets and which may
// read 1970 before it does) and the monotonic tick count that timers run on. Setting the wall
// clock never makes a timer fire early or late, on the board or here.
import type { Clock, TimerId, Timers } from "../../src/io/io.js";

/** A device clock that can be set, like the board's `Time.set()` after SNTP. */
export interface SettableClock extends Clock {
  /** Jump the wall clock to `epochMs`. Timers are not affected. */
  set(epochMs: number): void;
}

/** Timers that can all be cancelled at once (end of a test, a simulated reboot). */
export interface ClearableTimers extends Timers {
  clearAll(): void;
  /** How many timers are waiting. */
  readonly pending: number;
}

/** The host's wall clock, shifted so the device can start at any time (e.g. 0 = 1970, before SNTP). */
export class RealClock implements SettableClock {
  #offset: number;

  /** `startAt`: what the device clock reads now (ms since the epoch); default the host's time. */
  constructor(startAt?: number) {
    this.#offset = startAt === undefined ? 0 : startAt - Date.now();
  }

  now(): number {
    return Date.now() + this.#offset;
  }

  monotonic(): number {
    return performance.now();
  }

  set(epochMs: number): void {
    this.#offset = epochMs - Date.now();
  }
}

export interface RealTimersOptions {
  /**
   * Let Node exit while timers are pending. Off by default: a device waiting out a reconnect
   * backoff with no socket open must not make the simulator quit.
   */
  readonly unref?: boolean;
}

/** setTimeout-based timers with small numeric ids (Node's own are objects). */
export class RealTimers implements ClearableTimers {
  readonly #handles = new Map<TimerId, NodeJS.Timeout>();
  readonly #unref: boolean;
  #nextId = 1;

  constructor(options: RealTimersOptions = {}) {
    this.#unref = options.unref ?? false;
  }

  set(callback: () => void, ms: number): TimerId {
    const id = this.#nextId++;
    const handle = setTimeout(() => {
      this.#handles.delete(id);
      callback();
    }, delay(ms));
    if (this.#unref) handle.unref();
    this.#handles.set(id, handle);
    return id;
  }

  clear(id: TimerId): void {
    const handle = this.#handles.get(id);
    if (handle === undefined) return;
    clearTimeout(handle);
    this.#handles.delete(id);
  }

  clearAll(): void {
    for (const handle of this.#handles.values()) clearTimeout(handle);
    this.#handles.clear();
  }

  get pending(): number {
    return this.#handles.size;
  }
}

interface ManualTimer {
  readonly id: TimerId;
  readonly due: number; // monotonic ms
  readonly seq: number; // insertion order breaks ties between timers due at the same moment
  readonly callback: () => void;
}

/** Guard against a callback that re-arms a 0 ms timer forever inside one advance(). */
const MAX_FIRINGS_PER_ADVANCE = 100_000;

/**
 * A clock for deterministic tests: time moves only when the test calls `advance(ms)`.
 * Its timers (`clock.timers`) fire during `advance`, in due order, with `now()` reading each
 * timer's due time while its callback runs; timers set by those callbacks fire in the same
 * advance if they fall due within it.
 */
export class ManualClock implements SettableClock {
  readonly timers: ClearableTimers;
  #wall: number;
  #ticks = 0;
  #nextId = 1;
  #nextSeq = 0;
  readonly #queue = new Map<TimerId, ManualTimer>();

  /** `startAt`: the wall clock's initial reading (ms since the epoch); default 0, a board before SNTP. */
  constructor(startAt = 0) {
    this.#wall = startAt;
    const queue = this.#queue;
    this.timers = {
      set: (callback, ms) => this.#schedule(callback, ms),
      clear: (id) => void queue.delete(id),
      clearAll: () => queue.clear(),
      get pending() {
        return queue.size;
      },
    };
  }

  now(): number {
    return this.#wall;
  }

  monotonic(): number {
    return this.#ticks;
  }

  set(epochMs: number): void {
    this.#wall = epochMs;
  }

  /** Milliseconds of monotonic time elapsed since the clock was made. */
  get ticks(): number {
    return this.#ticks;
  }

  /** Milliseconds until the next timer falls due, or undefined when none is pending. */
  nextTimerIn(): number | undefined {
    const next = this.#earliest();
    return next === undefined ? undefined : next.due - this.#ticks;
  }

  /**
   * Move time forward by `ms`, firing every timer that falls due on the way. An exception from a
   * callback propagates to the caller with the clock stopped at that timer's due time.
   */
  advance(ms: number): void {
    const end = this.#ticks + delay(ms);
    for (let fired = 0; ; fired++) {
      const next = this.#earliest();
      if (next === undefined || next.due > end) break;
      if (fired >= MAX_FIRINGS_PER_ADVANCE) {
        throw new Error(`ManualClock.advance: more than ${MAX_FIRINGS_PER_ADVANCE} timers fired; a callback keeps re-arming itself`);
      }
      this.#moveTo(next.due);
      this.#queue.delete(next.id);
      next.callback();
    }
    this.#moveTo(end);
  }

  #schedule(callback: () => void, ms: number): TimerId {
    const id = this.#nextId++;
    this.#queue.set(id, { id, due: this.#ticks + delay(ms), seq: this.#nextSeq++, callback });
    return id;
  }

  /** Wall and monotonic time move together; only set() makes them diverge. */
  #moveTo(ticks: number): void {
    this.#wall += ticks - this.#ticks;
    this.#ticks = ticks;
  }

  #earliest(): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const t of this.#queue.values()) {
      if (best === undefined || t.due < best.due || (t.due === best.due && t.seq < best.seq)) best = t;
    }
    return best;
  }
}

/** Timer delays as the board treats them: negative or non-numbers mean "as soon as possible". */
function delay(ms: number): number {
  return Number.isFinite(ms) && ms > 0 ? ms : 0;
}
