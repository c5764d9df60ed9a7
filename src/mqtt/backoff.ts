// Reconnect delays: exponential growth with "full jitter" (a uniformly random delay below the
// exponential ceiling), so a fleet that lost its broker at the same instant does not come back
// in lock-step. A floor keeps at least `minMs` between CONNECTs with the same client ID (AWS IoT
// allows one per second) and a cap bounds the wait.

export interface BackoffPolicy {
  /** Ceiling of the first retry's delay. */
  readonly initialMs: number;
  /** Largest ceiling. */
  readonly maxMs: number;
  /** Smallest delay ever returned. */
  readonly minMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 2_000, maxMs: 120_000, minMs: 1_000 };

/** `attempt` counts consecutive failures from 0; `unit` is a uniform random number in [0, 1). */
export function backoffDelay(policy: BackoffPolicy, attempt: number, unit: number): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * Math.pow(2, Math.min(attempt, 30)));
  const span = Math.max(0, ceiling - policy.minMs);
  return Math.floor(policy.minMs + unit * span);
}

/** A uniform number in [0, 1) from the I/O random source. */
export function randomUnit(random: (into: Uint8Array) => void): number {
  const bytes = new Uint8Array(4);
  random(bytes);
  return (((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0) / 0x1_0000_0000;
}
