// SNTP retried with back-off while the clock is unset (issue 14 M6), on the host simulator's
// manual clock: the attempt is an SNTP stand-in that answers 50 ms later. The expected schedule
// (2 s, 4 s, 8 s … capped) is the policy in src/time/clock-sync.ts, i.e. self-derived.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ManualClock } from "../../host-sim/io/clock.js";
import { ClockSync } from "../../src/time/clock-sync.js";

const SET_AFTER = 1_704_067_200_000;

function rig(answerFrom: number) {
  const clock = new ManualClock(0); // a board at power-on: 1970
  const started: number[] = [];
  const sync = new ClockSync(clock.timers, () => clock.now() > SET_AFTER, (done) => {
    started.push(clock.ticks);
    clock.timers.set(() => {
      if (started.length >= answerFrom) {
        clock.set(1_800_000_000_000);
        done(true);
      } else done(false);
    }, 50);
  }, { initialMs: 2_000, maxMs: 16_000 });
  return { clock, sync, started };
}

test("M6: a failed SNTP attempt is retried with back-off until the clock is set, then never again", () => {
  const { clock, sync, started } = rig(6);
  let reported = 0;
  sync.kick(() => reported++);
  clock.advance(60);
  assert.equal(reported, 1, "the join is reported after the first attempt, even a failed one");
  assert.equal(sync.nextRetryMs, 2_000);
  clock.advance(60_000);
  // attempts at 0, then each 50 ms answer + 2 s, 4 s, 8 s, 16 s (capped), 16 s
  assert.deepEqual(started, [0, 2_050, 6_100, 14_150, 30_200, 46_250]);
  assert.ok(clock.now() > SET_AFTER, "clock set by the sixth attempt");
  assert.equal(sync.nextRetryMs, undefined, "nothing scheduled once set");
  clock.advance(600_000);
  sync.kick();
  assert.equal(started.length, 6, "no attempt once the clock is set, not even on a new join");
});

test("M6: a Wi-Fi join during the back-off neither starts a second attempt nor resets the back-off", () => {
  const { clock, sync, started } = rig(Number.POSITIVE_INFINITY);
  sync.kick();
  clock.advance(3_000); // attempt 1 at 0, attempt 2 at 2 050 → fails at 2 100, retry in 4 s
  assert.equal(started.length, 2);
  let reported = 0;
  sync.kick(() => reported++); // a rejoin: reported at once, no new attempt
  assert.equal(reported, 1);
  assert.equal(started.length, 2);
  assert.equal(sync.nextRetryMs, 4_000);
  sync.kick(() => reported++);
  clock.advance(1);
  assert.equal(started.length, 2, "joins do not hammer the server");
  sync.stop();
  clock.advance(600_000);
  assert.equal(started.length, 2, "stop() ends the retries");
});

test("M6: an attempt that throws counts as failed and is retried (nothing escapes into the SDK's callbacks)", () => {
  const clock = new ManualClock(0);
  let calls = 0;
  const sync = new ClockSync(clock.timers, () => false, () => { calls++; throw new Error("DNS"); }, { initialMs: 1_000, maxMs: 1_000 });
  assert.doesNotThrow(() => sync.kick());
  clock.advance(3_500);
  assert.equal(calls, 4);
});
