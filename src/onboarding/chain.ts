// The strategy chain: try each configured strategy in order; a failure's kind decides whether to
// ask the same strategy again after a delay or to move on. The decision is a pure function
// (decide) so it can be tested without time; runChain is the driver that sleeps on io.timers.
import type { Io } from "../io/io.js";
import { backoffDelay, randomUnit, type BackoffPolicy } from "../mqtt/backoff.js";
import type { ObtainedCredentials, OnboardingContext, Strategy, StrategyFailure } from "./strategy.js";

export interface ChainPolicy {
  /** Attempts per strategy (first try included) for failures worth repeating. */
  readonly attemptsPerStrategy: number;
  readonly backoff: BackoffPolicy;
  /** A Retry-After longer than this is not waited for within one run: move on. */
  readonly maxRetryAfterMs: number;
}

export const DEFAULT_CHAIN_POLICY: ChainPolicy = {
  attemptsPerStrategy: 3,
  backoff: { initialMs: 2_000, maxMs: 60_000, minMs: 1_000 },
  maxRetryAfterMs: 300_000,
};

export type Decision =
  | { readonly action: "retry"; readonly delayMs: number }
  | { readonly action: "next" }
  /** A person said no: trying the other strategies behind their back would defeat the decision. */
  | { readonly action: "stop" };

/**
 * `attempt` is how many times this strategy has failed in this run (1 after the first failure).
 * Unreachable / not-approved are worth repeating (the cause is elsewhere and may pass); a refusal,
 * a disabled unit or a reply we cannot read will not change by asking again now.
 */
export function decide(failure: StrategyFailure, attempt: number, policy: ChainPolicy, unit: number): Decision {
  if (failure.kind === "denied") return { action: "stop" };
  if (failure.kind !== "unreachable" && failure.kind !== "not-approved") return { action: "next" };
  if (attempt >= policy.attemptsPerStrategy) return { action: "next" };
  if (failure.retryAfterMs !== undefined) {
    if (failure.retryAfterMs > policy.maxRetryAfterMs) return { action: "next" };
    // A little jitter on top: units told the same Retry-After must not come back in one burst.
    const spread = Math.floor(unit * Math.min(1_000, failure.retryAfterMs / 10));
    return { action: "retry", delayMs: Math.max(failure.retryAfterMs, policy.backoff.minMs) + spread };
  }
  return { action: "retry", delayMs: backoffDelay(policy.backoff, attempt - 1, unit) };
}

export type ChainEvent =
  | { readonly type: "attempt"; readonly strategy: string; readonly attempt: number }
  | { readonly type: "failed"; readonly strategy: string; readonly failure: StrategyFailure; readonly decision: Decision }
  | { readonly type: "obtained"; readonly strategy: string };

export type ChainOutcome =
  | { readonly ok: true; readonly strategy: string; readonly credentials: ObtainedCredentials }
  | { readonly ok: false; readonly failures: readonly { readonly strategy: string; readonly failure: StrategyFailure }[] };

export async function runChain(
  strategies: readonly Strategy[],
  ctx: OnboardingContext,
  policy: ChainPolicy = DEFAULT_CHAIN_POLICY,
  onEvent: (event: ChainEvent) => void = () => {},
  cancelled: () => boolean = () => false,
): Promise<ChainOutcome> {
  const failures: { strategy: string; failure: StrategyFailure }[] = [];
  for (const strategy of strategies) {
    for (let attempt = 1; ; attempt++) {
      if (cancelled()) return { ok: false, failures };
      onEvent({ type: "attempt", strategy: strategy.name, attempt });
      let result;
      try {
        result = await strategy.obtain(ctx);
      } catch (e) {
        // A strategy must return failures, not throw; if one does, treat it as a bad reply.
        result = { ok: false as const, failure: { kind: "malformed-reply" as const, detail: e instanceof Error ? e.message : "strategy threw" } };
      }
      if (result.ok) {
        onEvent({ type: "obtained", strategy: strategy.name });
        return { ok: true, strategy: strategy.name, credentials: result.credentials };
      }
      const decision = decide(result.failure, attempt, policy, randomUnit(ctx.io.random));
      onEvent({ type: "failed", strategy: strategy.name, failure: result.failure, decision });
      if (decision.action !== "retry") {
        failures.push({ strategy: strategy.name, failure: result.failure });
        if (decision.action === "stop") return { ok: false, failures };
        break;
      }
      await sleep(ctx.io, decision.delayMs);
    }
  }
  return { ok: false, failures };
}

function sleep(io: Io, ms: number): Promise<void> {
  return new Promise((resolve) => { io.timers.set(resolve, ms); });
}
