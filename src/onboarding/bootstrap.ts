// "bootstrap": the Mainflux / Magistrala / SuperMQ bootstrap service. GET the unit's config by
// external ID with the external key; the reply holds the thing/client ID and key (the MQTT
// username and password), its channels, optional certificates and free-form content.
// Wire facts per generation: reference/cloud-protocols.md §1 (paths §1.2, header §1.3, status
// codes §1.4, reply §1.5, MQTT §1.6, secure variant §1.7).
import { fromUtf8 } from "../bytes/bytes.js";
import type { BootstrapConfig, BootstrapGeneration, BrokerConfig } from "../config/factory-config.js";
import { HttpError, retryAfterMs, type HttpResponse } from "../http/codec.js";
import { httpFetch } from "../http/client.js";
import { joinPath } from "../http/url.js";
import { Secret } from "../secrets/secret.js";
import type { MqttCredentials } from "../storage/credential-record.js";
import { parseBrokerUrl } from "../storage/credential-record.js";
import { boardClientKeyProblem } from "./client-key.js";
import { ExternalKeyError, resolveExternalKey } from "./external-key.js";
import type { CryptoProvider } from "../crypto/provider.js";
import { decryptReply, encryptExternalKey, SecureBootstrapError, serviceKeyBytes } from "./secure-bootstrap.js";
import { fail, macDigits, NO_MAC, type OnboardingContext, type Strategy, type StrategyFailure, type StrategyResult } from "./strategy.js";

export interface BootstrapChannel {
  readonly id: string;
  readonly name?: string;
  /** metadata.type when it is a string ("data", "control"): picks the telemetry/command channels. */
  readonly type?: string;
}

export interface BootstrapReply {
  /** Magistrala v0.30's config (enrollment) ID, when the reply came in that shape. */
  readonly configId?: string;
  readonly id: string;
  readonly key: Secret;
  readonly channels: readonly BootstrapChannel[];
  readonly content?: string;
  readonly clientCert?: string;
  readonly clientKey?: Secret;
  readonly caCert?: string;
}

export class BootstrapReplyError extends Error {
  readonly code = "malformed-reply";
}

const PREFIX: Record<BootstrapGeneration, string> = { raw: "/things/bootstrap", thing: "/things/bootstrap", client: "/clients/bootstrap" };
const SCHEME: Record<BootstrapGeneration, string> = { raw: "", thing: "Thing ", client: "Client " };

/**
 * URL and Authorization header of the request; `iv` (16 random bytes) only for the secure variant.
 * `externalKey`: the key resolved from its source (resolveExternalKey); may be left out when the
 * config holds the key itself.
 */
export function bootstrapRequest(crypto: CryptoProvider, config: BootstrapConfig, externalId: string, iv?: Uint8Array, externalKey?: Secret): { url: string; authorization: Secret } {
  const base = config.url.replace(/\/+$/, "") + PREFIX[config.generation] + (config.secure ? "/secure" : "");
  let key = externalKey?.revealString();
  if (key === undefined) {
    if (typeof config.externalKey !== "string") throw new ExternalKeyError("missing", `the external key lives in NVS "${config.externalKey.nvs}": resolve it first`);
    key = config.externalKey;
  }
  let credential = key;
  if (config.secure) {
    if (!iv) throw new SecureBootstrapError("the secure variant needs an IV");
    credential = encryptExternalKey(crypto, serviceKeyBytes(config.secure.key, config.secure.keyEncoding), iv, key);
  }
  return { url: joinPath(base, externalId), authorization: Secret.fromString(SCHEME[config.generation] + credential) };
}

/**
 * The reply JSON in any of the shapes (mainflux_*, thing_*, client_*, and Magistrala v0.30's
 * {id, content, …} with the credentials rendered into content): field names changed between
 * releases while the meaning did not, and the firmware must outlive a server upgrade.
 */
export function parseBootstrapReply(text: string): BootstrapReply {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BootstrapReplyError("bootstrap reply is not JSON");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new BootstrapReplyError("bootstrap reply is not a JSON object");
  const outer = json as Record<string, unknown>;
  let o = outer;
  let shape = credentialShape(o);
  if (!shape) {
    // Magistrala v0.30 answers {id, content, client_cert, client_key, ca_cert}: no credentials or
    // channels of its own; the operator's profile template renders them into `content`. Our
    // convention: content is a JSON object with the v0.20 field names (client_id, client_secret,
    // channels, optional broker_url).
    if (typeof outer.id !== "string" || typeof outer.content !== "string") throw new BootstrapReplyError("bootstrap reply has no client_*, thing_* or mainflux_* credentials");
    let inner: unknown;
    try {
      inner = JSON.parse(outer.content);
    } catch {
      throw new BootstrapReplyError("Magistrala v0.30 reply: content is not JSON, so it carries no credentials");
    }
    if (typeof inner !== "object" || inner === null || Array.isArray(inner)) throw new BootstrapReplyError("Magistrala v0.30 reply: content is not a JSON object");
    o = inner as Record<string, unknown>;
    shape = credentialShape(o);
    if (!shape) throw new BootstrapReplyError("Magistrala v0.30 reply: the rendered content has no client_id/client_secret");
  }
  const id = o[`${shape}_id`];
  const key = shape === "client" ? o.client_secret : o[`${shape}_key`];
  if (typeof id !== "string" || id.length === 0) throw new BootstrapReplyError(`${shape}_id must be a non-empty string`);
  if (typeof key !== "string" || key.length === 0) throw new BootstrapReplyError(`${shape === "client" ? "client_secret" : `${shape}_key`} must be a non-empty string`);
  const channelsRaw = shape === "mainflux" ? o.mainflux_channels : o.channels;
  const channels: BootstrapChannel[] = [];
  if (channelsRaw !== undefined && channelsRaw !== null) {
    if (!Array.isArray(channelsRaw)) throw new BootstrapReplyError("channels must be an array");
    channelsRaw.forEach((c: unknown, i) => {
      if (typeof c !== "object" || c === null || typeof (c as { id?: unknown }).id !== "string") throw new BootstrapReplyError(`channels[${i}] must be an object with a string id`);
      const ch = c as { id: string; name?: unknown; metadata?: unknown };
      if (!/^[\w-]{1,64}$/.test(ch.id)) throw new BootstrapReplyError(`channels[${i}].id is not a topic-safe ID`);
      const type = typeof ch.metadata === "object" && ch.metadata !== null ? (ch.metadata as { type?: unknown }).type : undefined;
      channels.push({ id: ch.id, ...(typeof ch.name === "string" ? { name: ch.name } : {}), ...(typeof type === "string" ? { type } : {}) });
    });
  }
  // Certificates and content sit in the outer object in every generation (v0.30 included).
  const optional = (name: string): string | undefined => {
    const v = outer[name];
    if (v === undefined || v === null || v === "") return undefined;
    if (typeof v !== "string") throw new BootstrapReplyError(`${name} must be a string`);
    return v;
  };
  const content = optional("content");
  const clientCert = optional("client_cert");
  const clientKey = optional("client_key");
  const caCert = optional("ca_cert");
  if ((clientCert === undefined) !== (clientKey === undefined)) throw new BootstrapReplyError("client_cert and client_key must come together");
  return {
    ...(o !== outer ? { configId: outer.id as string } : {}),
    id,
    key: Secret.fromString(key),
    channels,
    ...(content !== undefined ? { content } : {}),
    ...(clientCert !== undefined ? { clientCert } : {}),
    ...(clientKey !== undefined ? { clientKey: Secret.fromString(clientKey) } : {}),
    ...(caCert !== undefined ? { caCert } : {}),
  };
}

function credentialShape(o: Record<string, unknown>): string | undefined {
  return ["client", "thing", "mainflux"].find((p) => o[`${p}_id`] !== undefined || o[`${p}_key`] !== undefined || o[`${p}_secret`] !== undefined);
}

/** Status → typed failure, per generation (cloud-protocols.md §1.4). Undefined for success. */
export function bootstrapStatusFailure(response: HttpResponse, generation: BootstrapGeneration, now: number): StrategyFailure | undefined {
  const s = response.status;
  if (s === 200) return undefined;
  const body = safeText(response.body);
  if (s === 400) return { kind: "refused", status: s, detail: "bad request: empty or malformed external ID" };
  if (s === 401) return { kind: "refused", status: s, detail: "missing external key or wrong Authorization scheme" };
  if (s === 403) {
    if (/disabled|inactive/i.test(body)) return { kind: "disabled", status: s, detail: "the config is disabled" };
    return { kind: "refused", status: s, detail: generation === "raw" ? "unauthorized (missing key)" : "wrong external key" };
  }
  if (s === 404) return { kind: "refused", status: s, detail: generation === "raw" ? "unknown external ID or wrong key" : "unknown external ID" };
  if (s === 429) {
    const after = retryAfterMs(response, now);
    return { kind: "not-approved", status: s, detail: "rate limited", ...(after !== undefined ? { retryAfterMs: after } : {}) };
  }
  if (s >= 500) return { kind: "unreachable", status: s, detail: `service error ${s}` };
  return { kind: "malformed-reply", status: s, detail: `unexpected status ${s}` };
}

/** How the reply becomes MQTT settings: username = client ID = thing/client ID, password = key. */
export function credentialsFromReply(reply: BootstrapReply, broker: BrokerConfig): MqttCredentials {
  const data = reply.channels.find((c) => c.type === "data") ?? reply.channels[0];
  const control = reply.channels.find((c) => c.type === "control") ?? data;
  const brokerUrl = brokerFromContent(reply.content) ?? broker.url;
  const topics: Record<string, string> = {};
  if (data) {
    topics.telemetry = `channels/${data.id}/messages`;
    topics.status = `channels/${data.id}/messages/status`;
  }
  if (control) topics.command = `channels/${control.id}/messages/req`;
  const ca = reply.caCert ?? broker.ca;
  return {
    brokerUrl,
    clientId: reply.id,
    username: reply.id,
    password: reply.key,
    ...(ca !== undefined ? { ca } : {}),
    ...(broker.serverName !== undefined ? { serverName: broker.serverName } : {}),
    ...(reply.clientCert !== undefined ? { clientCertificate: reply.clientCert, clientKey: reply.clientKey! } : {}),
    ...(data ? { topics } : {}),
  };
}

// `content` is opaque to the service; by our convention a JSON object may name the broker
// ({"broker_url":"mqtts://…"}). Anything else is left alone.
function brokerFromContent(content: string | undefined): string | undefined {
  if (content === undefined) return undefined;
  try {
    const json = JSON.parse(content) as unknown;
    const url = typeof json === "object" && json !== null ? (json as { broker_url?: unknown }).broker_url : undefined;
    if (typeof url !== "string") return undefined;
    parseBrokerUrl(url);
    return url;
  } catch {
    return undefined;
  }
}

export function externalIdOf(config: BootstrapConfig, ctx: Pick<OnboardingContext, "mac" | "nodeId">): string | undefined {
  if (config.externalId === "node-id") return ctx.nodeId;
  if (config.externalId === "mac-hex") return macDigits(ctx.mac);
  return ctx.mac;
}

export function bootstrapStrategy(config: BootstrapConfig, broker: BrokerConfig): Strategy {
  return {
    name: "bootstrap",
    async obtain(ctx: OnboardingContext): Promise<StrategyResult> {
      const externalId = externalIdOf(config, ctx);
      if (externalId === undefined) return fail("not-applicable", NO_MAC);
      let externalKey: Secret;
      try {
        externalKey = resolveExternalKey(config.externalKey, ctx.io.storage);
      } catch (e) {
        if (e instanceof ExternalKeyError) {
          ctx.log.error("external-key", { problem: e.problem, detail: e.message });
          return fail("not-applicable", e.message);
        }
        throw e;
      }
      let iv: Uint8Array | undefined;
      if (config.secure) {
        iv = new Uint8Array(16);
        ctx.io.random(iv);
      }
      const request = bootstrapRequest(ctx.io.crypto, config, externalId, iv, externalKey);
      ctx.log.info("bootstrap-request", { generation: config.generation, secure: config.secure !== undefined, externalId, authorization: request.authorization });
      let response: HttpResponse;
      try {
        response = await httpFetch(ctx.io, request.url, {
          headers: { Authorization: request.authorization.revealString(), Accept: "application/json" },
          ...(config.ca !== undefined ? { ca: config.ca } : {}),
        });
      } catch (e) {
        if (e instanceof HttpError) return fail(e.code === "unreachable" || e.code === "timeout" ? "unreachable" : "malformed-reply", e.message);
        throw e;
      }
      const failure = bootstrapStatusFailure(response, config.generation, ctx.io.clock.now());
      if (failure) return { ok: false, failure };
      try {
        let plain = response.body;
        if (config.secure) plain = decryptReply(ctx.io.crypto, serviceKeyBytes(config.secure.key, config.secure.keyEncoding), plain);
        const reply = parseBootstrapReply(fromUtf8(plain));
        const keyProblem = reply.clientKey ? boardClientKeyProblem(reply.clientKey) : undefined;
        if (keyProblem) return fail("malformed-reply", keyProblem);
        const mqtt = credentialsFromReply(reply, broker);
        return { ok: true, credentials: { mqtt, state: { externalId, generation: config.generation, channels: reply.channels.length } } };
      } catch (e) {
        if (e instanceof BootstrapReplyError || e instanceof SecureBootstrapError) return fail("malformed-reply", e.message);
        // fromUtf8 rejects invalid UTF-8 (e.g. a wrong service key garbles the decryption).
        return fail("malformed-reply", "bootstrap reply is not UTF-8 JSON");
      }
    },
  };
}

function safeText(bytes: Uint8Array): string {
  try {
    return fromUtf8(bytes.subarray(0, 512));
  } catch {
    return "";
  }
}
