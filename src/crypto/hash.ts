// SHA-256 / SHA-512 from @noble/hashes (runs on XS). The board glue may swap in the SDK's native
// Digest for speed with useHashes(); every caller in the core goes through these two functions.
import { sha256 as nobleSha256, sha512 as nobleSha512 } from "@noble/hashes/sha2.js";

export type HashFn = (message: Uint8Array) => Uint8Array;

let impl256: HashFn = (m) => nobleSha256(m);
let impl512: HashFn = (m) => nobleSha512(m);

export function useHashes(hashes: { sha256?: HashFn; sha512?: HashFn }): void {
  if (hashes.sha256) impl256 = hashes.sha256;
  if (hashes.sha512) impl512 = hashes.sha512;
}

export function sha256(message: Uint8Array): Uint8Array {
  return impl256(message);
}

export function sha512(message: Uint8Array): Uint8Array {
  return impl512(message);
}
