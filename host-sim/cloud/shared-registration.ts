// The cloud's half of register-on-first-connect (device half and wire: src/onboarding/shared-register.ts).
// A request arrives on register/<C>/request, where the broker's ACLs let only a session with client
// ID C publish; the reply goes to register/<C>/reply, which only such a session receives. The
// client ID is bound to the first Ed25519 key that registers it: the same unit (same key) may
// register again and gets a fresh login (the old one is revoked), any other key is refused.
// Every reply echoes the request's nonce and is signed with the cloud's registration key (the one
// factories pin as shared.registerOnConnect.cloudKey): {"v":2,"reply":"<JSON text>","signature"}.
// Replies are never retained. An unparsable request carries no nonce we could echo: it gets no reply.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as cryptoSign, type KeyObject } from "node:crypto";
import { fromHex, toHex } from "../../src/bytes/bytes.js";
import { nodeIdOf } from "../../src/identity/identity.js";
import { verifyFor } from "../../src/identity/signing.js";
import { registrationMessage, replySignedBytes, replyTopic } from "../../src/onboarding/shared-register.js";
import { newId, newSecret, type CloudState } from "./state.js";
import { nodeCrypto } from "../io/node-crypto.js";

export interface RegistrationDeps {
  readonly state: CloudState;
  publish(topic: string, payload: string): Promise<void>;
  /** Make the brokers enforce these usernames' current state. */
  changed(...usernames: string[]): Promise<void>;
  emit(what: string, detail: string): void;
}

/** The cloud's registration key, made once and kept in its state. */
export function registrationKeyOf(state: CloudState): { readonly publicKeyHex: string; readonly privateKey: KeyObject } {
  if (state.data.registrationKey === undefined) {
    const { privateKey } = generateKeyPairSync("ed25519");
    state.data.registrationKey = privateKey.export({ format: "der", type: "pkcs8" }).toString("hex");
    state.save();
  }
  const privateKey = createPrivateKey({ key: Buffer.from(state.data.registrationKey, "hex"), format: "der", type: "pkcs8" });
  const jwk = createPublicKey(privateKey).export({ format: "jwk" });
  return { publicKeyHex: Buffer.from(jwk.x!, "base64url").toString("hex"), privateKey };
}

/** The reply envelope for one request: `body` plus the request's nonce, signed. */
export function signedReply(state: CloudState, clientId: string, nonceHex: string, body: Record<string, unknown>): string {
  const text = JSON.stringify({ nonce: nonceHex, ...body });
  const signature = cryptoSign(null, Buffer.from(replySignedBytes(clientId, text)), registrationKeyOf(state).privateKey).toString("hex");
  return JSON.stringify({ v: 2, reply: text, signature });
}

const REQUEST = /^register\/([0-9A-Za-z]{1,23})\/request$/;

/** Handles one published message; ignores anything that is not a registration request. */
export function handleRegistration(deps: RegistrationDeps, message: { clientId: string; topic: string; payload: Buffer }): void {
  const m = REQUEST.exec(message.topic);
  if (!m) return;
  const clientId = m[1]!;
  // The embedded broker names the publisher; Mosquitto's ACL file already confined it to C.
  if (message.clientId !== "" && message.clientId !== clientId) return;
  void answer(deps, clientId, message.payload).catch((e: unknown) => deps.emit("register-error", `${clientId}: ${e instanceof Error ? e.message : "failed"}`));
}

async function answer(deps: RegistrationDeps, clientId: string, payload: Buffer): Promise<void> {
  const { state } = deps;
  let nonceHex: string | undefined;
  const reply = async (body: Record<string, unknown>) => {
    if (nonceHex === undefined) return; // nothing to bind a reply to
    await deps.publish(replyTopic(clientId), signedReply(state, clientId, nonceHex, body));
  };
  const refuse = (error: string, detail: string) => {
    deps.emit("register-refused", `${clientId}: ${error}`);
    return reply({ error, detail });
  };
  let req: Record<string, unknown>;
  try {
    const json = JSON.parse(payload.toString("utf8")) as unknown;
    if (typeof json !== "object" || json === null || Array.isArray(json)) throw new Error("not an object");
    req = json as Record<string, unknown>;
  } catch {
    return refuse("bad-request", "request is not a JSON object");
  }
  const hex = (v: unknown, bytes: number) => typeof v === "string" && v.length === bytes * 2 && /^[0-9a-f]+$/.test(v);
  if (hex(req.nonce, 16)) nonceHex = req.nonce as string;
  if (req.v !== 1 || typeof req.nodeId !== "string" || !hex(req.publicKey, 32) || !hex(req.nonce, 16) || !hex(req.signature, 64)) {
    return refuse("bad-request", "request needs v:1, nodeId, publicKey, nonce and signature");
  }
  if (!state.data.shared.some((s) => s.register)) return refuse("not-enabled", "no shared account registers devices");
  const publicKey = fromHex(req.publicKey as string);
  const nonce = req.nonce as string;
  if (nodeIdOf(nodeCrypto, { publicKey }) !== req.nodeId || !verifyFor(nodeCrypto, publicKey, "shared-register", registrationMessage(clientId, req.nodeId, nonce), fromHex(req.signature as string))) {
    return refuse("bad-request", "signature does not verify");
  }
  if (state.data.credentials.some((c) => c.clientId === clientId && c.owner !== `shared:${clientId}`)) {
    return refuse("client-id-taken", "the client ID belongs to a device registered another way");
  }
  const registrations = (state.data.registrations ??= []);
  const existing = registrations.find((r) => r.clientId === clientId);
  if (existing && existing.publicKey !== toHex(publicKey)) return refuse("client-id-taken", "the client ID is registered to another unit");
  if (existing?.nonces.includes(nonce)) return refuse("replayed", "this request was seen before");

  const username = newId();
  const password = newSecret(24);
  const old = existing?.username;
  if (old !== undefined) state.revoke(old);
  state.issue({ username, password, clientId, topics: [`devices/${clientId}`], owner: `shared:${clientId}`, commandTopic: `devices/${clientId}/cmd` });
  const nonces = [...(existing?.nonces ?? []), nonce].slice(-20);
  state.data.registrations = [...registrations.filter((r) => r.clientId !== clientId), { clientId, nodeId: req.nodeId, publicKey: toHex(publicKey), username, nonces }];
  state.save();
  // Answer once the broker accepts the new login, so the unit's next CONNECT cannot race it.
  await deps.changed(...(old !== undefined ? [old] : []), username);
  deps.emit("registered", `${clientId} → own login${old !== undefined ? " (registered again: old login revoked)" : ""}`);
  await reply({ username, password });
}
