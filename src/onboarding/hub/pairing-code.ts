// The six digits both screens show (PROTOCOL.md §2 "Pairing code"): a hash of the hub's TLS key,
// the device's public key and this run's nonce. An impostor in the middle has another TLS key,
// so the device's code and the real hub's code differ.
import { concat, utf8 } from "../../bytes/bytes.js";
import type { CryptoProvider } from "../../crypto/provider.js";

export class PairingCodeError extends Error {
  readonly code = "bad-input";
}

/** "ddd ddd": SHA-256(label ‖ hubKey ‖ devicePublicKey ‖ nonce), first 4 bytes big-endian mod 10^6. */
export function pairingCode(crypto: CryptoProvider, hubKey: Uint8Array, devicePublicKey: Uint8Array, nonce: Uint8Array): string {
  if (hubKey.length !== 32) throw new PairingCodeError(`hub key must be 32 bytes (got ${hubKey.length})`);
  if (devicePublicKey.length !== 32) throw new PairingCodeError(`device public key must be 32 bytes (got ${devicePublicKey.length})`);
  if (nonce.length !== 16) throw new PairingCodeError(`nonce must be 16 bytes (got ${nonce.length})`);
  const h = crypto.sha256(concat(utf8("onboard-hub-pairing-v1"), hubKey, devicePublicKey, nonce));
  // Multiplying instead of shifting keeps the value unsigned (h[0] << 24 would go negative).
  const n = ((h[0]! * 0x1000000) + (h[1]! << 16) + (h[2]! << 8) + h[3]!) % 1_000_000;
  const digits = String(n).padStart(6, "0");
  return `${digits.slice(0, 3)} ${digits.slice(3)}`;
}
