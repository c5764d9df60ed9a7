// A server-side rate limit for the cloud's onboarding endpoints (register, bootstrap): at most
// `perSecond` requests are admitted in any sliding one-second window. A refused client (keyed by
// its serial or external ID) is given a slot in a queue spaced 1/perSecond apart and told to come
// back then (429 + Retry-After); asking again early does not move it back in the queue, at its
// slot it goes before clients that never waited, and one that comes late gets the next free slot. So a storm of N devices drains in about
// N / perSecond seconds whatever their retry policy, and retries cannot grow the queue.

export interface RateLimitOptions {
  readonly perSecond: number;
  /** Monotonic milliseconds; default performance.now(). */
  readonly now?: () => number;
}

export type RateDecision = { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number };

export interface RateLimitStats {
  readonly requests: number;
  readonly admitted: number;
  readonly refused: number;
  /** Most requests seen in any one-second window (admitted or not). */
  readonly peakRequestsPerSecond: number;
  /** Most requests admitted in any one-second window (≤ perSecond by construction). */
  readonly peakAdmittedPerSecond: number;
  /** Clients holding a slot right now, and the most that ever did. */
  readonly waiting: number;
  readonly peakWaiting: number;
}

/** Counts events in a sliding one-second window and keeps the highest count seen. */
export class PeakRate {
  readonly #times: number[] = [];
  #head = 0;
  peak = 0;

  hit(now: number): void {
    this.#times.push(now);
    this.peak = Math.max(this.peak, this.count(now));
  }

  /** Events in the second up to `now`. */
  count(now: number): number {
    while (this.#head < this.#times.length && this.#times[this.#head]! <= now - 1000) this.#head++;
    if (this.#head > 4096) {
      this.#times.splice(0, this.#head);
      this.#head = 0;
    }
    return this.#times.length - this.#head;
  }
}

export class RateLimit {
  readonly perSecond: number;
  readonly #now: () => number;
  /** client key → its slot (ms, monotonic). */
  readonly #slots = new Map<string, number>();
  /** The last slot handed out. */
  #lastSlot = -Infinity;
  readonly #requests = new PeakRate();
  readonly #admitted = new PeakRate();
  #counts = { requests: 0, admitted: 0, refused: 0, peakWaiting: 0 };

  constructor(options: RateLimitOptions) {
    if (!(options.perSecond > 0)) throw new RangeError(`rate limit must be > 0 per second, got ${options.perSecond}`);
    this.perSecond = options.perSecond;
    this.#now = options.now ?? (() => performance.now());
  }

  /** `key` identifies the client (serial, external ID); without one every request queues anew. */
  take(key?: string): RateDecision {
    const now = this.#now();
    this.#counts.requests++;
    this.#requests.hit(now);
    const slot = key === undefined ? undefined : this.#slots.get(key);
    const room = this.#admitted.count(now) < this.perSecond;
    // Someone who waited goes in at (or after) their slot; a newcomer only when nobody waits.
    const admit = room && (slot !== undefined ? slot <= now : this.#lastSlot <= now);
    if (admit) {
      if (key !== undefined) this.#slots.delete(key);
      this.#counts.admitted++;
      this.#admitted.hit(now);
      return { ok: true };
    }
    this.#counts.refused++;
    let at = slot;
    // No slot yet, or its slot came and went while the window was full (it came late): the next
    // free slot. Telling a late client "1 s" instead would let late clients pile up and storm.
    if (at === undefined || at <= now) {
      at = Math.max(this.#lastSlot, now) + 1000 / this.perSecond;
      this.#lastSlot = at;
      if (key !== undefined) this.#slots.set(key, at);
      this.#counts.peakWaiting = Math.max(this.#counts.peakWaiting, this.#slots.size);
    }
    // Whole seconds, rounded up: the client comes back at or just after its slot.
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((at - now) / 1000)) };
  }

  get stats(): RateLimitStats {
    return {
      requests: this.#counts.requests, admitted: this.#counts.admitted, refused: this.#counts.refused,
      peakRequestsPerSecond: this.#requests.peak, peakAdmittedPerSecond: this.#admitted.peak,
      waiting: this.#slots.size, peakWaiting: this.#counts.peakWaiting,
    };
  }
}
