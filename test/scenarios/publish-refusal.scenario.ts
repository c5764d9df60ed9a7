// The publish-refusal watch on its own (no broker, no time): which ended sessions count as the
// broker refusing our publishes, and what breaks the row.
import { PublishRefusalWatch } from "../../src/lifecycle/publish-refusal.js";
import { checkEqual, type Scenario } from "./harness.js";

/** One session: online at t, a publish at t + 10, the broker closes at t + 10 + after. */
function session(w: PublishRefusalWatch, t: number, end: { reason?: string; after?: number; acked?: boolean; waiting?: number } = {}) {
  w.connecting();
  w.sessionOnline(t);
  w.published(t + 10);
  if (end.acked) w.acknowledge();
  return w.sessionEnded(end.reason ?? "transport", t + 10 + (end.after ?? 50), end.waiting ?? 1);
}

export const scenarios: Scenario[] = [
  {
    name: "publish refusal: three closes right after a publish with no PUBACK → refused; anything else breaks the row",
    run() {
      const w = new PublishRefusalWatch({ strikes: 3, windowMs: 1_000 });
      checkEqual(session(w, 0), { kind: "strike", strikes: 1, of: 3, sincePublishMs: 50 }, "first");
      checkEqual(session(w, 10_000).kind, "strike", "second");
      checkEqual(session(w, 20_000), { kind: "refused", strikes: 3, of: 3, sincePublishMs: 50 }, "third → refused");
      checkEqual(session(w, 30_000), { kind: "strike", strikes: 1, of: 3, sincePublishMs: 50 }, "the count starts again after a verdict");

      const broken = (end: Parameters<typeof session>[2], why: string) => {
        const v = new PublishRefusalWatch({ strikes: 2, windowMs: 1_000 });
        checkEqual(session(v, 0).kind, "strike", `${why}: first strike`);
        checkEqual(session(v, 10_000, end).kind, "ignored", `${why}: not a strike`);
        checkEqual(session(v, 20_000).kind, "strike", `${why}: the row starts again`);
      };
      broken({ acked: true }, "a PUBACK in the session");
      broken({ after: 5_000 }, "the close long after the publish");
      broken({ waiting: 0 }, "nothing unacknowledged");
      broken({ reason: "keepalive" }, "a keep-alive timeout, not a close");

      const stopped = new PublishRefusalWatch({ strikes: 2 });
      checkEqual(session(stopped, 0).kind, "strike", "strike before a stop");
      checkEqual(session(stopped, 10_000, { reason: "stopped" }).kind, "ignored", "our own stop is not the broker's doing");
      checkEqual(session(stopped, 20_000).kind, "refused", "…and does not break the row");

      const never = new PublishRefusalWatch();
      never.connecting();
      checkEqual(never.sessionEnded("transport", 100, 1).kind, "ignored", "a session that never came online");
      checkEqual(never.acknowledged, false, "no PUBACK yet");
      never.sessionOnline(0);
      never.acknowledge();
      checkEqual(never.acknowledged, true, "a PUBACK seen");
      const reset = new PublishRefusalWatch({ strikes: 2 });
      session(reset, 0);
      reset.reset();
      checkEqual(session(reset, 10_000).kind, "strike", "reset forgets the row");
    },
  },
];
