// POST /hub/v1/pair (PROTOCOL.md §2): the signed request and its replies, sans-I/O. The request
// proves the device holds its identity key and binds the pairing to the hub key it pinned; the
// reply decoder takes status + headers + body and returns a typed reply or throws PairReplyError.
import { fromUtf8, toHex, utf8 } from "../../bytes/bytes.js";
import { retryAfterMs, type HttpResponse } from "../../http/codec.js";
import { Secret } from "../../secrets/secret.js";
import { parseBrokerUrl, RecordError } from "../../storage/credential-record.js";

export const PAIR_PATH = "/hub/v1/pair";
export const MAX_REQUEST_BYTES = 4 * 1024;
export const MAX_REPLY_BYTES = 16 * 1024;

export type PairReplyErrorCode = "malformed-reply" | "oversize" | "bad-request";

export class PairReplyError extends Error {
  constructor(readonly code: PairReplyErrorCode, message: string) {
    super(message);
  }
}

export interface PairRequestFields {
  readonly nodeId: string;
  readonly publicKey: Uint8Array;
  readonly name: string;
  readonly nonce: Uint8Array;
  readonly hubKey: Uint8Array;
}

/**
 * The payload the device signs (for the "hub-pair" purpose, src/identity/signing.ts): binds node,
 * run, hub key (a request relayed to another hub fails there) and the display name the person
 * sees (a relay cannot rename the unit on the hub's page). The name is printable ASCII, so the
 * lines read back unambiguously.
 */
export function pairSignedText(nodeId: string, nonce: Uint8Array, hubKey: Uint8Array, name: string): Uint8Array {
  return utf8(["onboard-hub-pair-v2", nodeId, toHex(nonce), toHex(hubKey), name].join("\n"));
}

/** The JSON body; `sign` signs with the identity key for the "hub-pair" purpose (kept outside this module). */
export function encodePairRequest(f: PairRequestFields, sign: (message: Uint8Array) => Uint8Array): Uint8Array {
  if (!/^[0-9a-f]{20}$/.test(f.nodeId)) throw new PairReplyError("bad-request", "node ID must be 20 lower-case hex digits");
  if (f.publicKey.length !== 32 || f.nonce.length !== 16 || f.hubKey.length !== 32) throw new PairReplyError("bad-request", "public key, nonce or hub key has the wrong length");
  if (!/^[\x20-\x7e]{1,32}$/.test(f.name)) throw new PairReplyError("bad-request", "display name must be 1 to 32 printable ASCII characters");
  const signature = sign(pairSignedText(f.nodeId, f.nonce, f.hubKey, f.name));
  const body = utf8(JSON.stringify({
    v: 2,
    node_id: f.nodeId,
    public_key: toHex(f.publicKey),
    name: f.name,
    nonce: toHex(f.nonce),
    signature: toHex(signature),
  }));
  if (body.length > MAX_REQUEST_BYTES) throw new PairReplyError("bad-request", `request body over ${MAX_REQUEST_BYTES} bytes`);
  return body;
}

export interface ReleasedMqtt {
  readonly url: string;
  readonly clientId: string;
  readonly username: string;
  readonly password: Secret;
  readonly baseTopic: string;
  readonly ca: string;
  readonly serverName?: string;
}

export type PairReply =
  | { readonly status: "pending"; readonly pairingCode: string; readonly pollMs?: number }
  | { readonly status: "released"; readonly mqtt: ReleasedMqtt }
  | { readonly status: "denied" }
  | { readonly status: "error"; readonly message: string }
  | { readonly status: "busy"; readonly retryAfterMs?: number }
  | { readonly status: "server-error"; readonly httpStatus: number };

function json(body: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = fromUtf8(body);
  } catch {
    throw new PairReplyError("malformed-reply", "reply body is not UTF-8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new PairReplyError("malformed-reply", "reply body is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new PairReplyError("malformed-reply", "reply body is not a JSON object");
  return value as Record<string, unknown>;
}

function expectStatus(o: Record<string, unknown>, status: string, http: number): void {
  if (o.status !== status) throw new PairReplyError("malformed-reply", `HTTP ${http} reply must say "status":"${status}"`);
}

function text(o: Record<string, unknown>, key: string, pattern: RegExp, what: string): string {
  const v = o[key];
  if (typeof v !== "string" || !pattern.test(v)) throw new PairReplyError("malformed-reply", `"${key}" must be ${what}`);
  return v;
}

/** Printable text, shortened: it ends up in the log. */
function printable(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, "?").slice(0, 160);
}

function releasedMqtt(value: unknown): ReleasedMqtt {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new PairReplyError("malformed-reply", '"mqtt" must be an object');
  const m = value as Record<string, unknown>;
  const url = text(m, "url", /^mqtts:\/\/[^\s]{1,300}$/, "an mqtts:// URL");
  try {
    parseBrokerUrl(url);
  } catch (e) {
    throw new PairReplyError("malformed-reply", `"mqtt.url": ${e instanceof RecordError ? e.message : "not an mqtts:// URL"}`);
  }
  const ca = text(m, "ca", /-----BEGIN CERTIFICATE-----/, "PEM certificates");
  if (ca.length > 12 * 1024) throw new PairReplyError("malformed-reply", '"mqtt.ca" is too long');
  const serverName = m.server_name === undefined ? undefined : text(m, "server_name", /^[0-9A-Za-z.-]{1,253}$/, "a host name");
  // Secrets: the messages name the field, never its value.
  const password = m.password;
  if (typeof password !== "string" || password.length === 0 || password.length > 256) throw new PairReplyError("malformed-reply", '"password" must be a string of 1 to 256 characters');
  return {
    url,
    clientId: text(m, "client_id", /^[0-9A-Za-z_-]{1,64}$/, "1 to 64 of [0-9A-Za-z_-]"),
    username: text(m, "username", /^[\x21-\x7e]{1,128}$/, "1 to 128 printable characters"),
    password: Secret.fromString(password),
    baseTopic: text(m, "base_topic", /^[^#+\s\0]{1,128}$/, "a topic prefix without wildcards or spaces"),
    ca,
    ...(serverName !== undefined ? { serverName } : {}),
  };
}

/** The hub's answer, typed; throws PairReplyError for anything PROTOCOL.md's table does not allow. */
export function decodePairReply(response: HttpResponse, now: number): PairReply {
  const s = response.status;
  if (response.body.length > MAX_REPLY_BYTES) throw new PairReplyError("oversize", `reply body of ${response.body.length} bytes exceeds ${MAX_REPLY_BYTES}`);
  if (s >= 500 && s <= 599) return { status: "server-error", httpStatus: s };
  if (s !== 200 && s !== 202 && s !== 400 && s !== 403 && s !== 429) throw new PairReplyError("malformed-reply", `unexpected HTTP status ${s}`);
  const o = json(response.body);
  switch (s) {
    case 202: {
      expectStatus(o, "pending", s);
      const pairingCode = text(o, "pairing_code", /^\d{3} \d{3}$/, '"ddd ddd"');
      const poll = o.poll_ms;
      if (poll !== undefined && (typeof poll !== "number" || !Number.isInteger(poll) || poll < 0 || poll > 3_600_000)) {
        throw new PairReplyError("malformed-reply", '"poll_ms" must be an integer from 0 to 3600000');
      }
      return { status: "pending", pairingCode, ...(poll !== undefined ? { pollMs: poll } : {}) };
    }
    case 200:
      expectStatus(o, "released", s);
      return { status: "released", mqtt: releasedMqtt(o.mqtt) };
    case 403:
      expectStatus(o, "denied", s);
      return { status: "denied" };
    case 400: {
      expectStatus(o, "error", s);
      const message = typeof o.message === "string" ? printable(o.message) : "";
      return { status: "error", message };
    }
    default: {
      expectStatus(o, "busy", s);
      const after = retryAfterMs(response, now);
      return { status: "busy", ...(after !== undefined ? { retryAfterMs: after } : {}) };
    }
  }
}
