// "shared" with register-on-first-connect (MyQttHub's "register device", cloud-protocols.md §3):
// the unit logs in once with the device class's shared login and its own client ID C, asks for
// credentials of its own, and from then on uses those (its persistent session lives under them).
//
// Wire, over the broker, confined to the session's own client ID by the broker's ACLs:
//   device → cloud  register/<C>/request  {"v":1,"nodeId","publicKey":hex,"nonce":hex16,"signature":hex}
//   cloud → device  register/<C>/reply    {"v":2,"reply":"<JSON text>","signature":hex}
//     <JSON text> = {"nonce","username","password"[,"topics"]} | {"nonce","error"[,"detail"]}
// The signature is Ed25519 with the unit's identity key over "register-v1\n<C>\n<nodeId>\n<nonce>",
// framed for the "shared-register" purpose (src/identity/signing.ts):
// the cloud binds C to that key, so the same unit may register again (after a factory reset the
// identity stays) while a clone claiming C with another key is refused. The nonce is never
// accepted twice, so a captured request cannot be replayed.
// Replies are bound to the request (issue 14 H3): the cloud signs "onboard-register-reply-v1\n<C>\n"
// followed by the exact <JSON text> with its registration key, which the factory config pins
// (shared.registerOnConnect.cloudKey), and the text echoes the request's nonce. The unit ignores
// (and logs) retained messages, replies that do not verify (anyone holding the shared login, or a
// broker that let one through) and replies with another nonce (stale, or planted for an earlier
// request), and keeps waiting for the real one until its deadline. The broker's ACL additionally
// lets the shared login publish only requests and read only replies.
// The exchange session is clean (a bootstrap session keeps nothing, as MyQttHub forces); the
// unit's own credentials then connect with clean session off.
import { fromUtf8, toHex, utf8 } from "../bytes/bytes.js";
import type { Io, TimerId } from "../io/io.js";
import { verify } from "../identity/ed25519.js";
import { signFor } from "../identity/signing.js";
import type { CryptoProvider } from "../crypto/provider.js";
import { MqttClient } from "../mqtt/client.js";
import { Secret } from "../secrets/secret.js";
import type { DeviceIdentity } from "../storage/credential-record.js";
import type { StrategyFailure } from "./strategy.js";

export const requestTopic = (clientId: string) => `register/${clientId}/request`;
export const replyTopic = (clientId: string) => `register/${clientId}/reply`;

/** The payload signed for the "shared-register" purpose. */
export function registrationMessage(clientId: string, nodeId: string, nonceHex: string): Uint8Array {
  return utf8(`register-v1\n${clientId}\n${nodeId}\n${nonceHex}`);
}

/** What the cloud's registration key signs for one reply. */
export function replySignedBytes(clientId: string, replyText: string): Uint8Array {
  return utf8(`onboard-register-reply-v1\n${clientId}\n${replyText}`);
}

export function encodeRegistrationRequest(crypto: CryptoProvider, identity: DeviceIdentity, clientId: string, nodeId: string, nonce: Uint8Array): Uint8Array {
  const nonceHex = toHex(nonce);
  const signature = signFor(crypto, identity, "shared-register", registrationMessage(clientId, nodeId, nonceHex));
  return utf8(JSON.stringify({ v: 1, nodeId, publicKey: toHex(identity.publicKey), nonce: nonceHex, signature: toHex(signature) }));
}

export type RegistrationReply =
  | { readonly ok: true; readonly username: string; readonly password: Secret; readonly topics?: Readonly<Record<string, string>> }
  | { readonly ok: false; readonly error: string; readonly detail?: string };

export class SharedReplyError extends Error {
  readonly code = "malformed-reply";
}

/** What the unit expects of a reply: the exchange's client ID and nonce, and the pinned cloud key. */
export interface ReplyExpectation {
  readonly clientId: string;
  readonly nonceHex: string;
  readonly cloudKey: Uint8Array;
}

/** A reply addressed to our request, or why a message on the reply topic is not one (it is then ignored). */
export type OpenedReply =
  | { readonly kind: "reply"; readonly reply: RegistrationReply }
  | { readonly kind: "ignored"; readonly reason: "not-signed" | "bad-signature" | "stale" };

function jsonObject(text: string, what: string): Record<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new SharedReplyError(`${what} is not JSON`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new SharedReplyError(`${what} is not a JSON object`);
  return json as Record<string, unknown>;
}

/**
 * Opens one message from the reply topic. Anything not signed by the pinned key, or signed for
 * another request (nonce), is "ignored"; a correctly signed reply that is malformed throws
 * SharedReplyError (the cloud itself is broken).
 */
export function openRegistrationReply(crypto: CryptoProvider, payload: Uint8Array, expect: ReplyExpectation): OpenedReply {
  let text: string;
  try {
    text = fromUtf8(payload);
  } catch {
    return { kind: "ignored", reason: "not-signed" };
  }
  let envelope: Record<string, unknown>;
  try {
    envelope = jsonObject(text, "reply");
  } catch {
    return { kind: "ignored", reason: "not-signed" };
  }
  const inner = envelope.reply;
  const signature = envelope.signature;
  if (envelope.v !== 2 || typeof inner !== "string" || inner.length > 4096 || typeof signature !== "string" || !/^[0-9a-f]{128}$/.test(signature)) {
    return { kind: "ignored", reason: "not-signed" };
  }
  const sig = new Uint8Array(64);
  for (let i = 0; i < 64; i++) sig[i] = parseInt(signature.slice(2 * i, 2 * i + 2), 16);
  if (!verify(crypto, sig, replySignedBytes(expect.clientId, inner), expect.cloudKey)) return { kind: "ignored", reason: "bad-signature" };
  const o = jsonObject(inner, "signed registration reply");
  if (o.nonce !== expect.nonceHex) return { kind: "ignored", reason: "stale" };
  return { kind: "reply", reply: parseRegistrationReply(o) };
}

/** The signed reply's fields (nonce already checked). */
export function parseRegistrationReply(o: Record<string, unknown>): RegistrationReply {
  if (o.error !== undefined) {
    if (typeof o.error !== "string" || !/^[a-z-]{1,40}$/.test(o.error)) throw new SharedReplyError("registration reply error must be a short code");
    const detail = typeof o.detail === "string" ? o.detail.slice(0, 200) : undefined;
    return { ok: false, error: o.error, ...(detail !== undefined ? { detail } : {}) };
  }
  if (typeof o.username !== "string" || o.username.length === 0 || o.username.length > 256) throw new SharedReplyError("registration reply username must be a non-empty string");
  if (typeof o.password !== "string" || o.password.length === 0 || o.password.length > 256) throw new SharedReplyError("registration reply password must be a non-empty string");
  let topics: Record<string, string> | undefined;
  if (o.topics !== undefined) {
    if (typeof o.topics !== "object" || o.topics === null || Array.isArray(o.topics)) throw new SharedReplyError("registration reply topics must be an object");
    topics = {};
    for (const [k, v] of Object.entries(o.topics as Record<string, unknown>)) {
      if (!["telemetry", "status", "command"].includes(k)) throw new SharedReplyError(`registration reply topics.${k} is not a known topic`);
      if (typeof v !== "string" || v.length === 0 || /[+#\u0000]/.test(v)) throw new SharedReplyError(`registration reply topics.${k} must be a plain topic`);
      topics[k] = v;
    }
  }
  return { ok: true, username: o.username, password: Secret.fromString(o.password), ...(topics ? { topics } : {}) };
}

/** What a refusal code from the cloud means for the chain. */
export function registrationErrorFailure(reply: { error: string; detail?: string }, clientId: string): StrategyFailure {
  switch (reply.error) {
    case "client-id-taken": return { kind: "refused", detail: `client ID ${clientId} is registered to another unit` };
    case "disabled": return { kind: "disabled", detail: "registration of this unit is disabled" };
    case "not-enabled": return { kind: "refused", detail: "the shared account does not register devices" };
    default: return { kind: "refused", detail: `registration refused: ${reply.error}` };
  }
}

export interface ExchangeOptions {
  readonly endpoint: { readonly host: string; readonly port: number; readonly ca?: string; readonly serverName?: string };
  readonly clientId: string;
  readonly username: string;
  readonly password: Secret;
  readonly identity: DeviceIdentity;
  readonly nodeId: string;
  readonly timeoutMs: number;
  /** The cloud's registration key (Ed25519, 32 bytes) from the factory config. */
  readonly cloudKey: Uint8Array;
  /** Told about each message on the reply topic that is not our reply. */
  readonly onIgnored?: (reason: "retained" | "not-signed" | "bad-signature" | "stale") => void;
}

/** One registration exchange over its own MQTT session; settles with the reply or a typed failure. */
export function registerOverMqtt(io: Io, o: ExchangeOptions): Promise<{ ok: true; reply: RegistrationReply } | { ok: false; failure: StrategyFailure }> {
  return new Promise((resolve) => {
    const client = new MqttClient(io, {
      endpoint: o.endpoint, clientId: o.clientId, username: o.username, password: o.password, keepaliveSeconds: 30, cleanSession: true,
    });
    let timer: TimerId | undefined;
    let done = false;
    const finish = (result: { ok: true; reply: RegistrationReply } | { ok: false; failure: StrategyFailure }) => {
      if (done) return;
      done = true;
      if (timer !== undefined) io.timers.clear(timer);
      client.stop();
      resolve(result);
    };
    const failWith = (kind: StrategyFailure["kind"], detail: string, status?: number) =>
      finish({ ok: false, failure: { kind, detail, ...(status !== undefined ? { status } : {}) } });
    let requested = false;
    let nonceHex: string | undefined;
    client.on((e) => {
      switch (e.type) {
        case "online":
          client.subscribe(replyTopic(o.clientId), 1);
          break;
        case "subscribed":
          if (e.granted[0] === 0x80) return failWith("refused", `the broker refused the subscription to ${replyTopic(o.clientId)}`);
          if (requested) return;
          requested = true;
          {
            const nonce = new Uint8Array(16);
            io.random(nonce);
            nonceHex = toHex(nonce);
            client.publish(requestTopic(o.clientId), encodeRegistrationRequest(io.crypto, o.identity, o.clientId, o.nodeId, nonce), { qos: 1 });
          }
          break;
        case "message":
          if (e.topic !== replyTopic(o.clientId)) return;
          // A retained reply was planted before this request existed; before our request nothing is ours.
          if (e.retain) return o.onIgnored?.("retained");
          if (nonceHex === undefined) return o.onIgnored?.("stale");
          try {
            const opened = openRegistrationReply(io.crypto, e.payload, { clientId: o.clientId, nonceHex, cloudKey: o.cloudKey });
            if (opened.kind === "ignored") return o.onIgnored?.(opened.reason);
            finish({ ok: true, reply: opened.reply });
          } catch (err) {
            failWith("malformed-reply", err instanceof SharedReplyError ? err.message : "registration reply unreadable");
          }
          break;
        case "refused":
          if (e.reason === "identifier-rejected") return failWith("refused", `client ID ${o.clientId} is already in use`, 2);
          if (e.willRetry) return; // server unavailable: the client retries within our deadline
          return failWith("refused", `the broker refused the shared credentials (${e.reason})`);
        case "offline":
          // Network trouble, or (Mosquitto) another connection with the same client ID took over.
          return failWith("unreachable", `session closed during registration (${e.reason}; a network fault, or another connection took over client ID ${o.clientId})`);
        default:
          break;
      }
    });
    timer = io.timers.set(() => { timer = undefined; failWith("unreachable", `no registration reply within ${o.timeoutMs} ms`); }, o.timeoutMs);
    client.start();
  });
}
