// "shared" with register-on-first-connect (MyQttHub's "register device", cloud-protocols.md §3):
// the unit logs in once with the device class's shared login and its own client ID C, asks for
// credentials of its own, and from then on uses those (its persistent session lives under them).
//
// Wire, over the broker, confined to the session's own client ID by the broker's ACLs:
//   device → cloud  register/<C>/request  {"v":1,"nodeId","publicKey":hex,"nonce":hex16,"signature":hex}
//   cloud → device  register/<C>/reply    {"v":1,"username","password"[,"topics"]} | {"v":1,"error",["detail"]}
// The signature is Ed25519 with the unit's identity key over "register-v1\n<C>\n<nodeId>\n<nonce>",
// framed for the "shared-register" purpose (src/identity/signing.ts):
// the cloud binds C to that key, so the same unit may register again (after a factory reset the
// identity stays) while a clone claiming C with another key is refused. The nonce is never
// accepted twice, so a captured request cannot be replayed.
// The exchange session is clean (a bootstrap session keeps nothing, as MyQttHub forces); the
// unit's own credentials then connect with clean session off.
import { fromUtf8, toHex, utf8 } from "../bytes/bytes.js";
import type { Io, TimerId } from "../io/io.js";
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

export function parseRegistrationReply(payload: Uint8Array): RegistrationReply {
  let json: unknown;
  try {
    json = JSON.parse(fromUtf8(payload));
  } catch {
    throw new SharedReplyError("registration reply is not UTF-8 JSON");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new SharedReplyError("registration reply is not a JSON object");
  const o = json as Record<string, unknown>;
  if (o.v !== 1) throw new SharedReplyError("registration reply has no supported version (v: 1)");
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
            client.publish(requestTopic(o.clientId), encodeRegistrationRequest(io.crypto, o.identity, o.clientId, o.nodeId, nonce), { qos: 1 });
          }
          break;
        case "message":
          if (e.topic !== replyTopic(o.clientId)) return;
          try {
            finish({ ok: true, reply: parseRegistrationReply(e.payload) });
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
