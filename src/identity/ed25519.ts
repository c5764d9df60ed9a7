// Ed25519 via @noble/ed25519 (audited, one file, runs on XS). noble needs a synchronous SHA-512:
// it takes the platform's (io.crypto), which on the board is the SDK's native Digest("SHA512"),
// ~100x faster on XS than hashing in JavaScript (see shared/reference/moddable.md §4).
import * as ed from "@noble/ed25519";
import type { CryptoProvider } from "../crypto/provider.js";

function use(crypto: CryptoProvider): void {
  ed.hashes.sha512 = (message) => {
    const digest = crypto.sha512(message);
    const out = new Uint8Array(digest.length); // noble's type wants a plain ArrayBuffer behind it
    out.set(digest);
    return out;
  };
}

export function publicKeyOf(crypto: CryptoProvider, secretKey: Uint8Array): Uint8Array {
  use(crypto);
  return ed.getPublicKey(secretKey);
}

export function sign(crypto: CryptoProvider, message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  use(crypto);
  return ed.sign(message, secretKey);
}

export function verify(crypto: CryptoProvider, signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  use(crypto);
  try {
    return ed.verify(signature, message, publicKey);
  } catch {
    return false; // malformed signature or key: not valid, never an exception
  }
}
