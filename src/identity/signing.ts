// One signature framing for everything the identity key signs. Each use names its purpose, and
// the signed bytes are
//
//   "onboard-sig-v1" 0x00 <purpose> 0x00 <payload>
//
// Purposes are fixed ASCII words without 0x00, so the prefix up to the second 0x00 is read back
// unambiguously: bytes signed for one purpose are never the bytes any other purpose verifies
// (issue 14 H1: the phone's ch_resp challenge used to be signed raw, which made the endpoint a
// signing oracle for registration and hub-pairing requests). Nothing outside this module signs
// with the identity key.
import { utf8 } from "../bytes/bytes.js";
import type { CryptoProvider } from "../crypto/provider.js";
import type { DeviceIdentity } from "../storage/credential-record.js";
import { sign, verify } from "./ed25519.js";

export const SIGNATURE_CONTEXT = "onboard-sig-v1";

/** What a signature is for; one word per use of the identity key. */
export type SigningPurpose =
  /** RainMaker challenge-response mapping (ch_resp): the cloud's challenge string. */
  | "rmaker-challenge"
  /** Shared login, register on first connect (src/onboarding/shared-register.ts). */
  | "shared-register"
  /** Hub pairing request (src/onboarding/hub/PROTOCOL.md §2). */
  | "hub-pair";

export const SIGNING_PURPOSES: readonly SigningPurpose[] = ["rmaker-challenge", "shared-register", "hub-pair"];

/** The exact bytes signed for `purpose` over `payload`. */
export function framedMessage(purpose: SigningPurpose, payload: Uint8Array): Uint8Array {
  const head = utf8(`${SIGNATURE_CONTEXT}\u0000${purpose}\u0000`);
  const out = new Uint8Array(head.length + payload.length);
  out.set(head, 0);
  out.set(payload, head.length);
  return out;
}

/** Sign `payload` for one purpose with the identity key; the key bytes are wiped after use. */
export function signFor(crypto: CryptoProvider, identity: DeviceIdentity, purpose: SigningPurpose, payload: Uint8Array): Uint8Array {
  const key = identity.secretKey.revealBytes();
  try {
    return sign(crypto, framedMessage(purpose, payload), key);
  } finally {
    key.fill(0);
  }
}

/** Verify a signature made by signFor for this purpose (never throws; false for anything malformed). */
export function verifyFor(crypto: CryptoProvider, publicKey: Uint8Array, purpose: SigningPurpose, payload: Uint8Array, signature: Uint8Array): boolean {
  return verify(crypto, signature, framedMessage(purpose, payload), publicKey);
}
