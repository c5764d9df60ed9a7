// The factory config's chain → strategy objects, and "stored": what is already in flash.
import type { FactoryConfig, StrategyName } from "../config/factory-config.js";
import type { ChainPolicy } from "./chain.js";
import { BOARD_LIMITS } from "../config/limits.js";
import type { HttpLimits } from "../http/codec.js";
import { bootstrapStrategy } from "./bootstrap.js";
import { hubStrategy } from "./hub/strategy.js";
import { registerStrategy } from "./register.js";
import { sharedStrategy } from "./shared.js";
import { fail, type Strategy } from "./strategy.js";

export const storedStrategy: Strategy = {
  name: "stored",
  obtain(ctx) {
    const mqtt = ctx.record.mqtt;
    if (!mqtt) return Promise.resolve(fail("not-applicable", "no credentials in flash"));
    if (ctx.storedRejected) return Promise.resolve(fail("refused", "the broker refused the stored credentials"));
    return Promise.resolve({ ok: true, credentials: { mqtt, ...(ctx.record.strategy ? { state: ctx.record.strategy.state } : {}) } });
  },
};

export function strategiesFor(config: FactoryConfig): Strategy[] {
  // The factory config's HTTP limits bound every reply a strategy reads (board heap: tens of KB).
  const http: HttpLimits = {
    maxHeaderBytes: config.limits?.httpHeaderBytes ?? BOARD_LIMITS.httpHeaderBytes,
    maxBodyBytes: config.limits?.httpBodyBytes ?? BOARD_LIMITS.httpBodyBytes,
  };
  return config.chain.map((name: StrategyName): Strategy => {
    switch (name) {
      case "stored": return storedStrategy;
      // parseFactoryConfig guarantees the section, and the broker for every strategy but stored/hub.
      case "bootstrap": return bootstrapStrategy(config.bootstrap!, config.broker!, http);
      case "register": return registerStrategy(config.register!, config.broker!, http);
      case "shared": return sharedStrategy(config.shared!, config.broker!);
      case "hub": return hubStrategy(config.hub!);
    }
  });
}

export function chainPolicyFor(config: FactoryConfig): ChainPolicy {
  return {
    attemptsPerStrategy: config.retry.attempts,
    backoff: { initialMs: config.retry.initialMs, maxMs: config.retry.maxMs, minMs: Math.min(1_000, config.retry.initialMs) },
    maxRetryAfterMs: 300_000,
  };
}
