// The reference cloud's user-node mapping (ESP RainMaker semantics, see
// shared/seeds/000_b22ca6cb978fde8f.txt and the reference §4):
//   - challenge-response: initiate → {request_id, challenge}; the app relays the challenge over
//     ch_resp; verify {request_id, node_id, challenge_response (hex)} checks the node's Ed25519
//     signature over the challenge's UTF-8 bytes, framed for the "rmaker-challenge" purpose
//     (src/identity/signing.ts), against its registered public key. A challenge is single-use
//     and expires. (The ESP RainMaker cloud verifies RSA-PSS/ECDSA by the claimed node
//     certificate instead: this firmware's signatures do not verify there.)
//   - user ID + secret key: the app's PUT {node_id, secret_key} (user from its session) returns a
//     request_id; the node publishes {node_id, user_id, secret_key[, reset]} at QoS 1 to
//     node/<node_id>/user/mapping. Either half may come first. Status: requested while waiting,
//     confirmed when both match, timedout after 60 s.
//   - a mapped node is visible to and controllable by its user only.
import { randomBytes } from "node:crypto";
import { fromHex, utf8 } from "../../../src/bytes/bytes.js";
import { verifyFor } from "../../../src/identity/signing.js";
import { nodeCrypto } from "../../io/node-crypto.js";

export type MappingStatus = "requested" | "confirmed" | "timedout";

interface Challenge {
  readonly userId: string;
  readonly challenge: string;
  readonly expiresAt: number;
  used: boolean;
}

interface PhoneHalf {
  readonly requestId: string;
  readonly userId: string;
  readonly nodeId: string;
  readonly secretKey: string;
  readonly at: number;
  status: MappingStatus;
}

interface NodeHalf {
  readonly nodeId: string;
  readonly userId: string;
  readonly secretKey: string;
  readonly at: number;
  used: boolean;
}

export interface UserMappingCloudOptions {
  readonly now?: () => number;
  /** Mapping requests time out after this (RainMaker: one minute). */
  readonly mappingTimeoutMs?: number;
  /** Default challenge lifetime when initiate gives none. */
  readonly defaultChallengeTtlMs?: number;
}

export class UserMappingCloud {
  readonly #now: () => number;
  readonly #timeout: number;
  readonly #ttl: number;
  readonly #nodes = new Map<string, Uint8Array>();
  readonly #owners = new Map<string, string>(); // node → user
  readonly #challenges = new Map<string, Challenge>();
  readonly #phone = new Map<string, PhoneHalf>();
  readonly #nodeHalves: NodeHalf[] = [];
  readonly log: string[] = [];

  constructor(options: UserMappingCloudOptions = {}) {
    this.#now = options.now ?? (() => Date.now());
    this.#timeout = options.mappingTimeoutMs ?? 60_000;
    this.#ttl = options.defaultChallengeTtlMs ?? 360_000;
  }

  /** Claiming / factory registration: the node's identity public key. */
  registerNode(nodeId: string, publicKey: Uint8Array): void {
    this.#nodes.set(nodeId, publicKey.slice());
  }

  ownerOf(nodeId: string): string | undefined {
    return this.#owners.get(nodeId);
  }

  /** Only the mapped user may see or control a node. */
  canAccess(userId: string, nodeId: string): boolean {
    return this.#owners.get(nodeId) === userId;
  }

  nodesOf(userId: string): string[] {
    return [...this.#owners].filter(([, u]) => u === userId).map(([n]) => n);
  }

  // ---- challenge-response

  initiate(userId: string, timeoutSeconds?: number): { request_id: string; challenge: string } {
    const request_id = randomBytes(12).toString("hex");
    const challenge = randomBytes(32).toString("hex");
    this.#challenges.set(request_id, { userId, challenge, expiresAt: this.#now() + (timeoutSeconds !== undefined ? timeoutSeconds * 1000 : this.#ttl), used: false });
    return { request_id, challenge };
  }

  verify(userId: string, body: { request_id: string; node_id: string; challenge_response: string }): { status: "success" | "failure"; description: string } {
    const c = this.#challenges.get(body.request_id);
    const fail = (description: string) => {
      this.log.push(`verify ${body.node_id}: ${description}`);
      return { status: "failure" as const, description };
    };
    if (c === undefined || c.userId !== userId) return fail("unknown request_id");
    if (c.used) return fail("challenge already used");
    c.used = true; // single use, whatever the outcome
    if (this.#now() > c.expiresAt) return fail("challenge expired");
    const key = this.#nodes.get(body.node_id);
    if (key === undefined) return fail("unknown node");
    let signature: Uint8Array;
    try {
      signature = fromHex(body.challenge_response);
    } catch {
      return fail("challenge_response is not hex");
    }
    if (!verifyFor(nodeCrypto, key, "rmaker-challenge", utf8(c.challenge), signature)) return fail("signature does not verify");
    const owner = this.#owners.get(body.node_id);
    if (owner !== undefined && owner !== userId) return fail("node is mapped to another user");
    this.#owners.set(body.node_id, userId);
    this.log.push(`mapped ${body.node_id} → ${userId} (challenge-response)`);
    return { status: "success", description: "node mapped" };
  }

  // ---- user ID + secret key

  /** The app's PUT /v1/user/nodes/mapping {node_id, secret_key, operation:"add"}. */
  addMapping(userId: string, nodeId: string, secretKey: string): { request_id: string } {
    const requestId = randomBytes(12).toString("hex");
    this.#phone.set(requestId, { requestId, userId, nodeId, secretKey, at: this.#now(), status: "requested" });
    this.#match();
    return { request_id: requestId };
  }

  /** A publish the node made to node/<node_id>/user/mapping (from the broker subscription). */
  nodePublished(topicNodeId: string, payload: Uint8Array | string): void {
    let body: { node_id?: unknown; user_id?: unknown; secret_key?: unknown; reset?: unknown };
    try {
      body = JSON.parse(typeof payload === "string" ? payload : Buffer.from(payload).toString("utf8")) as typeof body;
    } catch {
      this.log.push(`node ${topicNodeId}: mapping payload is not JSON`);
      return;
    }
    if (body.node_id !== topicNodeId || typeof body.user_id !== "string" || typeof body.secret_key !== "string") {
      this.log.push(`node ${topicNodeId}: mapping payload rejected`);
      return;
    }
    if (body.user_id === "esp-rmaker" && body.secret_key === "failed") {
      this.#owners.delete(topicNodeId); // factory-reset report
      this.log.push(`node ${topicNodeId}: reset, unmapped`);
      return;
    }
    if (body.reset === true) this.#owners.delete(topicNodeId);
    this.#nodeHalves.push({ nodeId: topicNodeId, userId: body.user_id, secretKey: body.secret_key, at: this.#now(), used: false });
    this.#match();
  }

  mappingStatus(userId: string, requestId: string): MappingStatus | undefined {
    const p = this.#phone.get(requestId);
    if (p === undefined || p.userId !== userId) return undefined;
    this.#match();
    return p.status;
  }

  #match(): void {
    const now = this.#now();
    for (const p of this.#phone.values()) {
      if (p.status !== "requested") continue;
      const n = this.#nodeHalves.find((h) => !h.used && h.nodeId === p.nodeId && h.userId === p.userId && h.secretKey === p.secretKey && Math.abs(h.at - p.at) <= this.#timeout);
      if (n !== undefined) {
        n.used = true;
        p.status = "confirmed";
        this.#owners.set(p.nodeId, p.userId);
        this.log.push(`mapped ${p.nodeId} → ${p.userId} (secret key)`);
      } else if (now - p.at > this.#timeout) {
        p.status = "timedout";
      }
    }
  }
}
