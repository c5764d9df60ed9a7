// The secure pairing request (PROTOCOL.md §2): parse, check the node ID against the public key,
// verify the Ed25519 signature over the text bound to this hub's key and the display name (framed
// for the "hub-pair" purpose, PROTOCOL.md §2), and the pairing code both
// sides show. Independent of the device's implementation: node:crypto only.
import { createHash, createPublicKey, verify } from "node:crypto";

export class PairRequestError extends Error {
  readonly code = "bad-pair-request";
}

export interface PairRequest {
  readonly nodeId: string;
  readonly publicKey: Uint8Array;
  readonly publicKeyHex: string;
  readonly name: string;
  readonly nonce: Uint8Array;
  readonly nonceHex: string;
}

const hexField = (body: Record<string, unknown>, field: string, digits: number): string => {
  const v = body[field];
  if (typeof v !== "string" || v.length !== digits || !/^[0-9a-fA-F]+$/.test(v)) {
    throw new PairRequestError(`${field} must be ${digits} hex digits`);
  }
  return v.toLowerCase();
};

/** Parses and verifies one request body against this hub's key hash; throws PairRequestError. */
export function parsePairRequest(body: Buffer, hubKeyHex: string): PairRequest {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    throw new PairRequestError("body is not valid JSON");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new PairRequestError("body must be a JSON object");
  const o = json as Record<string, unknown>;
  if (o.v !== 2) throw new PairRequestError("unsupported protocol version (v must be 2: the display name is signed)");
  const nodeId = hexField(o, "node_id", 20);
  const publicKeyHex = hexField(o, "public_key", 64);
  const nonceHex = hexField(o, "nonce", 32);
  const signatureHex = hexField(o, "signature", 128);
  const name = o.name;
  if (typeof name !== "string" || name.length === 0 || name.length > 32 || !/^[\x20-\x7e]+$/.test(name)) {
    throw new PairRequestError("name must be 1 to 32 printable ASCII characters");
  }
  const publicKey = new Uint8Array(Buffer.from(publicKeyHex, "hex"));
  const expectedId = createHash("sha512").update(publicKey).digest("hex").slice(0, 20);
  if (expectedId !== nodeId) throw new PairRequestError("node_id is not the node ID of public_key");
  const signed = framedForHubPair(pairSignedText(nodeId, nonceHex, hubKeyHex, name));
  let key;
  try {
    key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(publicKey).toString("base64url") }, format: "jwk" });
  } catch {
    throw new PairRequestError("public_key is not an Ed25519 public key");
  }
  if (!verify(null, signed, key, Buffer.from(signatureHex, "hex"))) {
    // Also what a request relayed by an impostor (signed for the impostor's key) gets.
    throw new PairRequestError("signature does not verify for this hub's key");
  }
  return { nodeId, publicKey, publicKeyHex, name, nonce: new Uint8Array(Buffer.from(nonceHex, "hex")), nonceHex };
}

/** PROTOCOL.md §2 "Pairing code": 6 digits as "ddd ddd". */
export function pairingCode(hubKey: Uint8Array, devicePublicKey: Uint8Array, nonce: Uint8Array): string {
  const digest = createHash("sha256").update("onboard-hub-pairing-v1").update(hubKey).update(devicePublicKey).update(nonce).digest();
  const n = digest.readUInt32BE(0) % 1_000_000;
  const digits = String(n).padStart(6, "0");
  return `${digits.slice(0, 3)} ${digits.slice(3)}`;
}

/** The text a device signs (exported for tests that play the device). */
export function pairSignedText(nodeId: string, nonceHex: string, hubKeyHex: string, name: string): string {
  return ["onboard-hub-pair-v2", nodeId, nonceHex, hubKeyHex, name].join("\n");
}

/**
 * The bytes the identity key actually signs: "onboard-sig-v1" NUL "hub-pair" NUL text. Written
 * here from PROTOCOL.md, not imported from the device code, so the hub checks the framing on
 * its own.
 */
export function framedForHubPair(text: string): Buffer {
  return Buffer.concat([Buffer.from("onboard-sig-v1\0hub-pair\0", "latin1"), Buffer.from(text, "utf8")]);
}
