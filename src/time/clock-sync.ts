// Getting the wall clock set (issue 14 M6). TLS checks certificate dates against it, and a board
// starts at 1970: until the time is known every TLS connection is refused. One SNTP attempt per
// Wi-Fi join left a unit whose first attempt failed (a lost UDP packet, a slow DNS) offline until
// Wi-Fi happened to rejoin. Here attempts repeat with exponential back-off for as long as the
// clock is unset, and stop for good once it is set. Engine-neutral: the platform supplies the
// attempt (SNTP on the board) and the check; timers come from the Io.
import type { TimerId, Timers } from "../io/io.js";

export interface ClockSyncPolicy {
  /** Wait after the first failed attempt. */
  readonly initialMs: number;
  /** The wait doubles per failure up to this. */
  readonly maxMs: number;
}

export const DEFAULT_CLOCK_SYNC: ClockSyncPolicy = Object.freeze({ initialMs: 2_000, maxMs: 300_000 });

/** One attempt: report true once the clock has been set, false when it could not be. Must call `done` once. */
export type SyncAttempt = (done: (ok: boolean) => void) => void;

export class ClockSync {
  readonly #timers: Timers;
  readonly #isSet: () => boolean;
  readonly #attempt: SyncAttempt;
  readonly #policy: ClockSyncPolicy;
  #inFlight = false;
  #retry: TimerId | undefined;
  #failures = 0;
  #attempts = 0;
  #waiters: (() => void)[] = [];
  #stopped = false;

  constructor(timers: Timers, isSet: () => boolean, attempt: SyncAttempt, policy: ClockSyncPolicy = DEFAULT_CLOCK_SYNC) {
    this.#timers = timers;
    this.#isSet = isSet;
    this.#attempt = attempt;
    this.#policy = policy;
  }

  /** Attempts started so far. */
  get attempts(): number {
    return this.#attempts;
  }

  /** The wait before the next attempt while one is scheduled, else undefined. */
  get nextRetryMs(): number | undefined {
    return this.#retry === undefined ? undefined : this.#delay();
  }

  /**
   * The network is up (a Wi-Fi join): make sure the clock is being set. Starts an attempt unless
   * one is running or a retry is already scheduled (a join does not reset the back-off, so a
   * flapping link cannot hammer the server). `then` runs once, when the attempt that is running
   * or just started finishes, or at once if the clock is set or a retry is only scheduled.
   */
  kick(then?: () => void): void {
    if (this.#stopped || this.#isSet()) {
      this.#cancelRetry();
      then?.();
      return;
    }
    if (this.#inFlight) {
      if (then) this.#waiters.push(then);
      return;
    }
    if (this.#retry !== undefined) {
      then?.();
      return;
    }
    if (then) this.#waiters.push(then);
    this.#run();
  }

  /** No more attempts (the device is shutting down). */
  stop(): void {
    this.#stopped = true;
    this.#cancelRetry();
    this.#release();
  }

  #run(): void {
    this.#inFlight = true;
    this.#attempts++;
    let answered = false;
    const done = (ok: boolean): void => {
      if (answered) return;
      answered = true;
      this.#inFlight = false;
      if (ok || this.#isSet()) {
        this.#failures = 0;
      } else if (!this.#stopped) {
        this.#failures++;
        this.#retry = this.#timers.set(() => {
          this.#retry = undefined;
          if (!this.#stopped && !this.#isSet()) this.#run();
        }, this.#delay());
      }
      this.#release();
    };
    try {
      this.#attempt(done);
    } catch {
      done(false); // an attempt that throws is a failed attempt, never an escape into the SDK
    }
  }

  #delay(): number {
    const exponent = Math.min(Math.max(this.#failures - 1, 0), 20);
    return Math.min(this.#policy.maxMs, this.#policy.initialMs * 2 ** exponent);
  }

  #cancelRetry(): void {
    if (this.#retry !== undefined) this.#timers.clear(this.#retry);
    this.#retry = undefined;
  }

  #release(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}
