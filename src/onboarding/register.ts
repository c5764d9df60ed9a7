// "register": self-registration with the unit's own serial (the Losant pattern: a public
// endpoint, a workflow behind it). POST {"serial": …} → {deviceId, key, secret}; MQTT then uses
// client ID = device ID, username = key, password = secret (cloud-protocols.md §2).
import { fromUtf8 } from "../bytes/bytes.js";
import type { BrokerConfig, RegisterConfig } from "../config/factory-config.js";
import { DEFAULT_HTTP_LIMITS, HttpError, retryAfterMs, type HttpLimits, type HttpResponse } from "../http/codec.js";
import { httpFetch } from "../http/client.js";
import { Secret } from "../secrets/secret.js";
import type { MqttCredentials } from "../storage/credential-record.js";
import { InsecureTransportError, replyTrust } from "./transport-trust.js";
import { fail, macDigits, NO_MAC, usableCredentials, type OnboardingContext, type Strategy, type StrategyFailure, type StrategyResult } from "./strategy.js";

export class RegisterReplyError extends Error {
  readonly code = "malformed-reply";
}

export function registerStatusFailure(response: HttpResponse, now: number): StrategyFailure | undefined {
  const s = response.status;
  if (s === 200 || s === 201) return undefined;
  if (s === 400) return { kind: "refused", status: s, detail: "registration rejected the request (bad serial format)" };
  if (s === 401 || s === 403 || s === 404) return { kind: "refused", status: s, detail: "serial not on the allow-list" };
  if (s === 423) return { kind: "disabled", status: s, detail: "this serial is disabled" };
  if (s === 429) {
    const after = retryAfterMs(response, now);
    return { kind: "not-approved", status: s, detail: "registration rate limited", ...(after !== undefined ? { retryAfterMs: after } : {}) };
  }
  if (s >= 500) return { kind: "unreachable", status: s, detail: `service error ${s}` };
  return { kind: "malformed-reply", status: s, detail: `unexpected status ${s}` };
}

export function credentialsFromRegistration(text: string, config: RegisterConfig, broker: BrokerConfig): MqttCredentials {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new RegisterReplyError("registration reply is not JSON");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new RegisterReplyError("registration reply is not a JSON object");
  const o = json as Record<string, unknown>;
  const field = (name: string): string => {
    const v = o[name];
    if (typeof v !== "string" || v.length === 0) throw new RegisterReplyError(`registration reply field "${name}" must be a non-empty string`);
    return v;
  };
  const deviceId = field(config.fields.deviceId);
  // The device ID becomes the client ID and a topic level: refuse anything that is not plain.
  if (!/^[0-9A-Za-z_-]{1,64}$/.test(deviceId)) throw new RegisterReplyError("device ID is not a plain identifier");
  const mqtt: MqttCredentials = {
    brokerUrl: broker.url,
    clientId: deviceId,
    username: field(config.fields.key),
    password: Secret.fromString(field(config.fields.secret)),
    ...(broker.ca !== undefined ? { ca: broker.ca } : {}),
    ...(broker.serverName !== undefined ? { serverName: broker.serverName } : {}),
    topics: { telemetry: `devices/${deviceId}/telemetry`, status: `devices/${deviceId}/status`, command: `devices/${deviceId}/cmd` },
  };
  return usableCredentials(mqtt, (message) => new RegisterReplyError(`registration reply: ${message}`));
}

export function registerStrategy(config: RegisterConfig, broker: BrokerConfig, limits: HttpLimits = DEFAULT_HTTP_LIMITS): Strategy {
  return {
    name: "register",
    async obtain(ctx: OnboardingContext): Promise<StrategyResult> {
      // The reply names no broker or CA (both come from the factory config), so an allowed
      // http:// only costs the secret's confidentiality; a refused one is a typed failure.
      try {
        replyTrust(config.url, config.insecureTransport);
      } catch (e) {
        if (!(e instanceof InsecureTransportError)) throw e;
        ctx.log.error("insecure-transport", { strategy: "register", detail: e.message });
        return fail("not-applicable", `${e.code}: ${e.message}`);
      }
      const serial = config.serial === "node-id" ? ctx.nodeId : macDigits(ctx.mac);
      if (serial === undefined) return fail("not-applicable", NO_MAC);
      ctx.log.info("register-request", { serial });
      let response: HttpResponse;
      try {
        response = await httpFetch(ctx.io, config.url, { method: "POST", json: { serial }, limits, ...(config.ca !== undefined ? { ca: config.ca } : {}) });
      } catch (e) {
        if (e instanceof HttpError) return fail(e.code === "unreachable" || e.code === "timeout" ? "unreachable" : "malformed-reply", e.message);
        throw e;
      }
      const failure = registerStatusFailure(response, ctx.io.clock.now());
      if (failure) return { ok: false, failure };
      try {
        return { ok: true, credentials: { mqtt: credentialsFromRegistration(fromUtf8(response.body), config, broker), state: { serial } } };
      } catch (e) {
        return fail("malformed-reply", e instanceof RegisterReplyError ? e.message : "registration reply is not UTF-8");
      }
    },
  };
}
