// "shared": one username/password for a whole device class (MyQttHub "bootstrap auth"); each
// unit tells itself apart with a client ID derived from its MAC (or its node ID where there is none). Nothing to fetch: the broker's
// CONNACK is the test, and "identifier rejected" means another unit (or a registered device)
// holds that ID — the lifecycle reports it typed and moves to the next strategy.
// With registerOnConnect the shared login is used once, to obtain the unit's own (shared-register.ts).
import type { BrokerConfig, SharedConfig } from "../config/factory-config.js";
import { fromHex } from "../bytes/bytes.js";
import { Secret } from "../secrets/secret.js";
import { parseBrokerUrl } from "../storage/credential-record.js";
import { registerOverMqtt, registrationErrorFailure } from "./shared-register.js";
import { fail, macDigits, NO_MAC, type OnboardingContext, type Strategy, type StrategyResult } from "./strategy.js";

/** prefix + 12 MAC hex digits (or the 20 of the node ID): ≤ 23 characters of [0-9A-Za-z], the portable client ID. */
export function sharedClientId(config: SharedConfig, mac: string | undefined, nodeId?: string): string | undefined {
  const digits = config.clientId === "node-id" ? nodeId : macDigits(mac);
  return digits === undefined ? undefined : config.clientIdPrefix + digits;
}

export function sharedStrategy(config: SharedConfig, broker: BrokerConfig): Strategy {
  return {
    name: "shared",
    obtain(ctx: OnboardingContext): Promise<StrategyResult> {
      const clientId = sharedClientId(config, ctx.mac, ctx.nodeId);
      if (clientId === undefined) return Promise.resolve(fail("not-applicable", NO_MAC));
      // Our derived ID is taken (another unit with a cloned MAC, or a registered device): asking
      // again with the same ID cannot succeed, so let the chain move on.
      if (ctx.refusal?.strategy === "shared" && ctx.refusal.reason === "identifier-rejected") {
        return Promise.resolve(fail("refused", `client ID ${clientId} is already in use`));
      }
      if (ctx.refusal?.strategy === "shared" && !config.registerOnConnect) return Promise.resolve(fail("refused", `the broker refused the shared credentials (${ctx.refusal.reason})`));
      if (config.registerOnConnect) return registerOwn(ctx, config, broker, clientId, config.registerOnConnect.timeoutMs);
      return Promise.resolve({
        ok: true,
        credentials: {
          mqtt: {
            brokerUrl: broker.url,
            clientId,
            username: config.username,
            password: Secret.fromString(config.password),
            ...(broker.ca !== undefined ? { ca: broker.ca } : {}),
            ...(broker.serverName !== undefined ? { serverName: broker.serverName } : {}),
            topics: { telemetry: `devices/${clientId}/telemetry`, status: `devices/${clientId}/status`, command: `devices/${clientId}/cmd` },
          },
          state: { shared: true },
        },
      });
    },
  };
}

async function registerOwn(ctx: OnboardingContext, config: SharedConfig, broker: BrokerConfig, clientId: string, timeoutMs: number): Promise<StrategyResult> {
  const { host, port } = parseBrokerUrl(broker.url);
  ctx.log.info("shared-register", { clientId });
  const result = await registerOverMqtt(ctx.io, {
    endpoint: { host, port, ...(broker.ca !== undefined ? { ca: broker.ca } : {}), ...(broker.serverName !== undefined ? { serverName: broker.serverName } : {}) },
    clientId, username: config.username, password: Secret.fromString(config.password), identity: ctx.record.identity, nodeId: ctx.nodeId, timeoutMs,
    cloudKey: fromHex(config.registerOnConnect!.cloudKey),
    onIgnored: (reason) => ctx.log.warn("shared-register-reply-ignored", { clientId, reason }),
  });
  if (!result.ok) return { ok: false, failure: result.failure };
  const reply = result.reply;
  if (!reply.ok) return { ok: false, failure: registrationErrorFailure(reply, clientId) };
  return {
    ok: true,
    credentials: {
      // Same client ID, the unit's own login; the lifecycle connects with clean session off, so the
      // broker keeps this unit's subscriptions and queued messages across reconnects.
      mqtt: {
        brokerUrl: broker.url,
        clientId,
        username: reply.username,
        password: reply.password,
        ...(broker.ca !== undefined ? { ca: broker.ca } : {}),
        ...(broker.serverName !== undefined ? { serverName: broker.serverName } : {}),
        topics: { telemetry: `devices/${clientId}/telemetry`, status: `devices/${clientId}/status`, command: `devices/${clientId}/cmd`, ...reply.topics },
      },
      state: { shared: true, registered: true },
    },
  };
}
