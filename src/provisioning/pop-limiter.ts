// How many proof-of-possession guesses the unit allows (issue 14, M3). One limiter lives for the
// whole boot (the lifecycle makes it and hands it to every window), so reopening the window or
// switching transport (BLE, HTTP) gives an attacker nothing back. Time is monotonic: SNTP
// setting the wall clock cannot shorten or stretch a wait.
//
//   - per transport session: `perSession` wrong PoPs, then that session's handshakes are refused
//     until it ends (BLE disconnect, a new HTTP cookie);
//   - globally: a bucket of `burst` wrong PoPs that refills one every `refillMs`. Handshakes are
//     refused only while it is empty, so once the wrong guesses stop the owner waits at most
//     `refillMs`, and a guesser slower than one per `refillMs` never locks anyone out. A success
//     fills it again (whoever knows the PoP needs no guesses).
//
// Sustained guessing is held to one per `refillMs` (8 640 a day at 10 s) against a PoP of at
// least 8 characters (pop-strength.ts; the default is 8 hex digits, 2^32 values).

export interface PopLimitPolicy {
  /** Wrong PoPs one transport session may make before its handshakes are refused; default 3. */
  readonly perSession?: number;
  /** Wrong PoPs allowed in a burst across all sessions and windows; default 5. */
  readonly burst?: number;
  /** One more wrong PoP allowed after this long (monotonic ms); default 10 s. */
  readonly refillMs?: number;
}

export type PopGate =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly reason: "session"; readonly retryInMs?: undefined }
  | { readonly allowed: false; readonly reason: "rate"; readonly retryInMs: number };

export class PopAttemptLimiter {
  readonly #now: () => number;
  readonly #perSession: number;
  readonly #burst: number;
  readonly #refillMs: number;
  #tokens: number;
  #updatedAt: number;
  #failures = 0;
  readonly #sessionFailures = new Map<number, number>();

  /** `now`: monotonic milliseconds (io.clock.monotonic). */
  constructor(now: () => number, policy: PopLimitPolicy = {}) {
    this.#now = now;
    this.#perSession = Math.max(1, policy.perSession ?? 3);
    this.#burst = Math.max(1, policy.burst ?? 5);
    this.#refillMs = Math.max(1, policy.refillMs ?? 10_000);
    this.#tokens = this.#burst;
    this.#updatedAt = now();
  }

  /** Wrong PoPs since boot (for the log and events). */
  get failures(): number {
    return this.#failures;
  }

  /** May `session` attempt a handshake now? */
  check(session: number): PopGate {
    if ((this.#sessionFailures.get(session) ?? 0) >= this.#perSession) return { allowed: false, reason: "session" };
    const tokens = this.#refill();
    if (tokens >= 1) return { allowed: true };
    return { allowed: false, reason: "rate", retryInMs: Math.ceil((1 - tokens) * this.#refillMs) };
  }

  /** A wrong PoP from `session`; returns how long until the next attempt is allowed (0 = now). */
  failed(session: number): number {
    this.#failures++;
    this.#sessionFailures.set(session, (this.#sessionFailures.get(session) ?? 0) + 1);
    const tokens = this.#refill() - 1;
    this.#tokens = Math.max(0, tokens);
    return tokens >= 1 ? 0 : Math.ceil((1 - this.#tokens) * this.#refillMs);
  }

  succeeded(session: number): void {
    this.#sessionFailures.delete(session);
    this.#tokens = this.#burst;
    this.#updatedAt = this.#now();
  }

  /** A transport session began or ended: its own count starts over (session IDs are reused). */
  sessionChanged(session: number): void {
    this.#sessionFailures.delete(session);
  }

  #refill(): number {
    const now = this.#now();
    const elapsed = Math.max(0, now - this.#updatedAt);
    this.#tokens = Math.min(this.#burst, this.#tokens + elapsed / this.#refillMs);
    this.#updatedAt = now;
    return this.#tokens;
  }
}
