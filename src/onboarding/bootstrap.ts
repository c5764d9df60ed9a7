// "bootstrap": the Mainflux / Magistrala / SuperMQ bootstrap service. GET the unit's config by
// external ID with the external key; the reply holds the thing/client ID and key (the MQTT
// username and password), its channels, optional certificates and free-form content.
// The configured service version fixes the wire shape (bootstrap-version.ts); facts:
// reference/cloud-protocols.md §1 (paths §1.2, header §1.3, status codes §1.4, reply §1.5, MQTT
// §1.6, secure variant §1.7) and the recordings of the real service (fixtures/mainflux-bootstrap).
import { fromUtf8 } from "../bytes/bytes.js";
import type { BootstrapConfig, BootstrapGeneration, BrokerConfig } from "../config/factory-config.js";
import { DEFAULT_HTTP_LIMITS, HttpError, retryAfterMs, type HttpLimits, type HttpResponse } from "../http/codec.js";
import { httpFetch } from "../http/client.js";
import { Secret } from "../secrets/secret.js";
import type { CredentialRecord, MqttCredentials } from "../storage/credential-record.js";
import { parseBrokerUrl } from "../storage/credential-record.js";
import { bootstrapProfile, channelTopics, type BootstrapProfile, type BootstrapVersion } from "./bootstrap-version.js";
import { InsecureTransportError, replyTrust, type ReplyTrust } from "./transport-trust.js";
import { boardClientKeyProblem } from "./client-key.js";
import { ExternalKeyError, resolveExternalKey } from "./external-key.js";
import type { CryptoProvider } from "../crypto/provider.js";
import { decryptReply, encryptExternalKey, SecureBootstrapError, serviceKeyBytes } from "./secure-bootstrap.js";
import { fail, macDigits, NO_MAC, usableCredentials, type OnboardingContext, type Strategy, type StrategyFailure, type StrategyResult } from "./strategy.js";

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

/** A well-formed reply that is not this unit's (another unit's replayed reply, a changed identity over plain HTTP). */
export class BootstrapBindingError extends Error {
  readonly code = "reply-not-bound";
}

/**
 * URL and Authorization header of the request; `iv` (16 random bytes) only for the secure variant.
 * `externalKey`: the key resolved from its source (resolveExternalKey); may be left out when the
 * config holds the key itself.
 */
export function bootstrapRequest(crypto: CryptoProvider, config: Pick<BootstrapConfig, "url" | "version" | "externalKey" | "secure">, externalId: string, iv?: Uint8Array, externalKey?: Secret): { url: string; authorization: Secret } {
  const profile = bootstrapProfile(config.version);
  const base = config.url.replace(/\/+$/, "") + profile.path + (config.secure ? "/secure" : "");
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
  return { url: `${base}/${pathSegment(externalId)}`, authorization: Secret.fromString(profile.scheme + credential) };
}

/**
 * One path segment, percent-encoding only what RFC 3986 does not allow in it. A MAC's colons stay
 * as they are: Magistrala's router (chi) matches the raw path without percent-decoding it, so
 * "02%3A00…" is not found there, while Mainflux's routers decode and see the same ID either way.
 */
export function pathSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/%3A/g, ":").replace(/%40/g, "@");
}

/**
 * The reply JSON as the configured version writes it. The version alone decides where the
 * credentials are: mainflux_* (Mainflux ≤0.13), thing_* (2023 master, Magistrala 0.14/0.15),
 * client_* (SuperMQ 0.16, Magistrala 0.20), or Magistrala 0.30's {id, content, …} with the
 * credentials rendered into content. The certificate fields are the same in every version.
 */
export function parseBootstrapReply(text: string, version: BootstrapVersion): BootstrapReply {
  const profile = bootstrapProfile(version);
  const outer = jsonObject(text, "bootstrap reply");
  let o = outer;
  let fields: { id: string; key: string; channels: string };
  if (profile.reply.kind === "content") {
    // Magistrala 0.30 answers {id, content, client_cert, client_key, ca_cert}: the operator's
    // profile template renders the credentials into `content`. Our convention: a JSON object with
    // the 0.20 field names (client_id, client_secret, channels, optional broker_url).
    if (typeof outer.id !== "string" || outer.id.length === 0) throw new BootstrapReplyError(`${profile.label} reply: id must be a non-empty string${hint(outer, profile)}`);
    if (typeof outer.content !== "string") throw new BootstrapReplyError(`${profile.label} reply: content must be a string carrying the rendered credentials`);
    o = jsonObject(outer.content, `${profile.label} reply: content`);
    fields = { id: "client_id", key: "client_secret", channels: "channels" };
  } else {
    fields = profile.reply;
  }
  const id = o[fields.id];
  const key = o[fields.key];
  if (typeof id !== "string" || id.length === 0) throw new BootstrapReplyError(`${profile.label} reply: ${fields.id} must be a non-empty string${hint(o, profile)}`);
  if (typeof key !== "string" || key.length === 0) throw new BootstrapReplyError(`${profile.label} reply: ${fields.key} must be a non-empty string`);
  const channelsRaw = o[fields.channels];
  const channels: BootstrapChannel[] = [];
  if (channelsRaw !== undefined && channelsRaw !== null) {
    if (!Array.isArray(channelsRaw)) throw new BootstrapReplyError(`${fields.channels} must be an array`);
    channelsRaw.forEach((c: unknown, i) => {
      if (typeof c !== "object" || c === null || typeof (c as { id?: unknown }).id !== "string") throw new BootstrapReplyError(`${fields.channels}[${i}] must be an object with a string id`);
      const ch = c as { id: string; name?: unknown; metadata?: unknown };
      if (!/^[\w-]{1,64}$/.test(ch.id)) throw new BootstrapReplyError(`${fields.channels}[${i}].id is not a topic-safe ID`);
      const type = typeof ch.metadata === "object" && ch.metadata !== null ? (ch.metadata as { type?: unknown }).type : undefined;
      channels.push({ id: ch.id, ...(typeof ch.name === "string" ? { name: ch.name } : {}), ...(typeof type === "string" ? { type } : {}) });
    });
  }
  // Certificates and content sit in the outer object in every version (0.30 included).
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

function jsonObject(text: string, what: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BootstrapReplyError(`${what} is not JSON`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new BootstrapReplyError(`${what} is not a JSON object`);
  return json as Record<string, unknown>;
}

// Diagnosis only (the reply is refused either way): a fleet that named the wrong version learns
// which one answered.
function hint(o: Record<string, unknown>, profile: BootstrapProfile): string {
  const seen = ["mainflux_id", "thing_id", "client_id"].find((f) => f in o);
  if (seen === undefined && profile.reply.kind !== "content" && typeof o.id === "string" && "content" in o) return " (the reply looks like Magistrala 0.30's: check bootstrap.version)";
  return seen !== undefined ? ` (the reply carries ${seen}: check bootstrap.version)` : "";
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

export interface ReplySettings {
  readonly version: BootstrapVersion;
  /** Magistrala 0.20+: the fleet's domain (topics m/<domain>/c/<channel>). */
  readonly domainId?: string;
  /** Issue 14, H4: without verified TLS the reply may not choose the broker or the CA. */
  readonly trust: ReplyTrust;
}

/** How the reply becomes MQTT settings: username = client ID = thing/client ID, password = key. */
export function credentialsFromReply(reply: BootstrapReply, broker: BrokerConfig, settings: ReplySettings): MqttCredentials {
  const profile = bootstrapProfile(settings.version);
  const data = reply.channels.find((c) => c.type === "data") ?? reply.channels[0];
  const control = reply.channels.find((c) => c.type === "control") ?? data;
  const verified = settings.trust === "verified-tls";
  const brokerUrl = (verified ? brokerFromContent(reply.content) : undefined) ?? broker.url;
  const ca = (verified ? reply.caCert : undefined) ?? broker.ca;
  const topics = data && control ? channelTopics(profile, data.id, control.id, settings.domainId) : undefined;
  return usableCredentials({
    brokerUrl,
    clientId: reply.id,
    username: reply.id,
    password: reply.key,
    ...(ca !== undefined ? { ca } : {}),
    ...(broker.serverName !== undefined ? { serverName: broker.serverName } : {}),
    ...(reply.clientCert !== undefined ? { clientCertificate: reply.clientCert, clientKey: reply.clientKey! } : {}),
    ...(topics ? { topics } : {}),
  }, (message) => new BootstrapReplyError(`bootstrap reply: ${message}`));
}

/** What a reply over an unverified link asked for and did not get (for the log: URLs and PEM are not secrets). */
export function ignoredOverInsecure(reply: BootstrapReply): string[] {
  const ignored: string[] = [];
  if (brokerFromContent(reply.content) !== undefined) ignored.push("content.broker_url");
  if (reply.caCert !== undefined) ignored.push("ca_cert");
  return ignored;
}

/**
 * Binds a reply to this unit as far as the protocol allows (issue 14, H4). The bootstrap reply
 * names neither the external ID nor the request, and the secure variant has no integrity, so:
 * - when the operator renders {"external_id": …} into the config's content, it must be ours
 *   (required with requireContentExternalId): another unit's replayed reply is refused;
 * - over plain HTTP, a unit that bootstrapped before keeps its thing ID: a reply handing it
 *   another identity is refused (a recreated config then needs a factory reset, or TLS).
 */
export function checkReplyBinding(reply: BootstrapReply, externalId: string, config: Pick<BootstrapConfig, "requireContentExternalId">, trust: ReplyTrust, record: CredentialRecord): void {
  const bound = contentExternalId(reply.content);
  if (bound !== undefined && bound !== externalId) throw new BootstrapBindingError("the reply's content names another unit's external ID (a replayed or misrouted reply)");
  if (bound === undefined && config.requireContentExternalId === true) throw new BootstrapBindingError("the reply's content does not name this unit's external ID (requireContentExternalId)");
  if (trust === "insecure" && record.strategy?.name === "bootstrap" && record.strategy.state.externalId === externalId && record.mqtt !== undefined && record.mqtt.clientId !== reply.id) {
    throw new BootstrapBindingError("over plain HTTP the reply hands this unit another thing ID than the one it bootstrapped with");
  }
}

function contentExternalId(content: string | undefined): string | undefined {
  if (content === undefined) return undefined;
  try {
    const json = JSON.parse(content) as unknown;
    const id = typeof json === "object" && json !== null && !Array.isArray(json) ? (json as { external_id?: unknown }).external_id : undefined;
    // A non-string external_id cannot be ours: it names someone else.
    return id === undefined ? undefined : typeof id === "string" ? id : "";
  } catch {
    return undefined;
  }
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

export function bootstrapStrategy(config: BootstrapConfig, broker: BrokerConfig, limits: HttpLimits = DEFAULT_HTTP_LIMITS): Strategy {
  return {
    name: "bootstrap",
    async obtain(ctx: OnboardingContext): Promise<StrategyResult> {
      let trust: ReplyTrust;
      try {
        trust = replyTrust(config.url, config.insecureTransport);
      } catch (e) {
        if (!(e instanceof InsecureTransportError)) throw e;
        ctx.log.error("insecure-transport", { strategy: "bootstrap", detail: e.message });
        return fail("not-applicable", `${e.code}: ${e.message}`);
      }
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
      ctx.log.info("bootstrap-request", { version: config.version, secure: config.secure !== undefined, externalId, trust, authorization: request.authorization });
      let response: HttpResponse;
      try {
        response = await httpFetch(ctx.io, request.url, {
          headers: { Authorization: request.authorization.revealString(), Accept: "application/json" },
          limits,
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
        // The secure reply is binary under "Content-Type: application/json" (the real service's
        // header): decrypt first, whatever the header says.
        if (config.secure) plain = decryptReply(ctx.io.crypto, serviceKeyBytes(config.secure.key, config.secure.keyEncoding), plain);
        const reply = parseBootstrapReply(fromUtf8(plain), config.version);
        checkReplyBinding(reply, externalId, config, trust, ctx.record);
        const keyProblem = reply.clientKey ? boardClientKeyProblem(reply.clientKey) : undefined;
        if (keyProblem) return fail("malformed-reply", keyProblem);
        if (trust === "insecure") {
          const ignored = ignoredOverInsecure(reply);
          if (ignored.length > 0) ctx.log.warn("reply-fields-ignored", { why: "no verified TLS", fields: ignored.join(", ") });
        }
        const mqtt = credentialsFromReply(reply, broker, { version: config.version, trust, ...(config.domainId !== undefined ? { domainId: config.domainId } : {}) });
        return { ok: true, credentials: { mqtt, state: { externalId, generation: config.generation, version: config.version, channels: reply.channels.length } } };
      } catch (e) {
        if (e instanceof BootstrapBindingError) {
          ctx.log.error("reply-not-bound", { detail: e.message });
          return fail("malformed-reply", `${e.code}: ${e.message}`);
        }
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
