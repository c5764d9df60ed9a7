// Ed25519 via @noble/ed25519 (audited, one file, runs on XS). noble needs a synchronous SHA-512:
// the default is @noble/hashes' JavaScript one; the board glue swaps in the SDK's native
// Digest("SHA512"), which is ~100x faster on XS (see shared/reference/moddable.md §4).
import * as ed from "@noble/ed25519";
import { sha512 as jsSha512 } from "@noble/hashes/sha2.js";

export type Sha512 = (message: Uint8Array) => Uint8Array<ArrayBuffer>;

let configured = false;

export function useSha512(hash: Sha512): void {
  ed.hashes.sha512 = hash;
  configured = true;
}

function ready(): void {
  if (!configured) useSha512(jsSha512);
}

export function sha512(message: Uint8Array): Uint8Array {
  ready();
  return ed.hashes.sha512!(message);
}

export function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  ready();
  return ed.getPublicKey(secretKey);
}

export function sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  ready();
  return ed.sign(message, secretKey);
}

export function verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  ready();
  try {
    return ed.verify(signature, message, publicKey);
  } catch {
    return false; // malformed signature or key: not valid, never an exception
  }
}
