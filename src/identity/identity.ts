// The device's own identity: an Ed25519 key pair made on first boot from the hardware random
// source and kept in the credential record, and a node ID derived from the public key, so it is
// stable for the life of the key and the same on every engine. Per-unit facts come from here
// (and the MAC), never from the firmware build. Hashing goes through the platform's provider.
// Signing goes through ./signing.ts only (one framing per purpose).
import { toHex } from "../bytes/bytes.js";
import type { CryptoProvider } from "../crypto/provider.js";
import type { Io } from "../io/io.js";
import { Secret } from "../secrets/secret.js";
import type { DeviceIdentity } from "../storage/credential-record.js";
import { publicKeyOf } from "./ed25519.js";

export function generateIdentity(io: Pick<Io, "random" | "crypto">): DeviceIdentity {
  const secretKey = new Uint8Array(32);
  io.random(secretKey);
  let entropy = 0;
  for (const b of secretKey) entropy |= b;
  if (entropy === 0) throw new Error("random source returned all zeros: refusing to make an identity key");
  const identity = { secretKey: Secret.fromBytes(secretKey), publicKey: publicKeyOf(io.crypto, secretKey) };
  secretKey.fill(0);
  return identity;
}

/**
 * Node ID: the first 10 bytes of SHA-512(public key) as 20 lower-case hex characters. It fits the
 * MQTT 3.1.1 client-ID set every broker must accept (1–23 of [0-9A-Za-z]) and topic names.
 */
export function nodeIdOf(crypto: CryptoProvider, identity: Pick<DeviceIdentity, "publicKey">): string {
  return toHex(crypto.sha512(identity.publicKey).subarray(0, 10));
}

/** The identity is intact when its secret key still derives its public key. */
export function identityIsConsistent(crypto: CryptoProvider, identity: DeviceIdentity): boolean {
  const key = identity.secretKey.revealBytes();
  try {
    const derived = publicKeyOf(crypto, key);
    return derived.length === identity.publicKey.length && derived.every((b, i) => b === identity.publicKey[i]);
  } finally {
    key.fill(0);
  }
}
