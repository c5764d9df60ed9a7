// The wall clock. On the board Date.now() is the system clock, which starts at 1970 at power-on
// until SNTP sets it. TLS checks certificate dates against it, so the board syncs before its
// first TLS connection (syncClock, called once the station has an address).
import SNTP from "sntp";
import Time from "time";
import type { Clock } from "../../io/io.js";

// Frozen: preloaded objects that stay mutable cost a RAM pointer each on the board.
export const boardClock: Pick<Clock, "now"> = Object.freeze({ now: () => Date.now() });

// Time.ticks is modMilliseconds() stored as an XS integer (xs_time_ticks → xsmcSetInteger): a
// 32-bit count that wraps (to negative) after ~24.8 days. Unwrap it so durations stay right on a
// unit that runs for months. Made at run time (createBoardIo), so the state lives in RAM.
const TICKS_WRAP = 0x1_0000_0000;

export function createBoardClock(): Clock {
  let last: number | undefined;
  let base = 0;
  return {
    now: () => Date.now(),
    monotonic: () => {
      const t = Time.ticks;
      if (last !== undefined && t < last) base += TICKS_WRAP;
      last = t;
      return base + t;
    },
  };
}

/** 2024-01-01: a clock earlier than this has not been set since power-on. */
const CLOCK_SET_AFTER = 1_704_067_200_000;

export function clockIsSet(): boolean {
  return boardClock.now() > CLOCK_SET_AFTER;
}

/** Ask `host` for the time once; set the system clock and report success, or report failure. */
export function syncClock(host: string, done: (ok: boolean) => void): void {
  let finished = false;
  new SNTP({ host }, (message, value) => {
    if (finished) return;
    if (message === SNTP.time && value !== undefined) {
      finished = true;
      Time.set(value);
      done(true);
    } else if (message === SNTP.error) {
      finished = true;
      done(false);
    }
    // SNTP.retry: the module retries by itself
  });
}
