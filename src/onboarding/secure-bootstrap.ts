// The bootstrap service's "secure" variant (Mainflux 0.10+ /secure/ endpoints): AES in full-block
// CFB mode with one service-wide key. The device sends hex(IV ‖ CFB(externalKey)) where the key
// would go; the reply body is binary IV' ‖ CFB(JSON). It hides the external key on a plain-HTTP
// link and nothing more: no integrity, replayable, one key for the whole fleet.
import { aesCfb } from "../crypto/aes.js";
import type { CryptoProvider } from "../crypto/provider.js";
import { fromHex, toHex, utf8 } from "../bytes/bytes.js";

export type KeyEncoding = "hex" | "ascii";

export class SecureBootstrapError extends Error {
  readonly code = "secure-bootstrap";
}

/** Mainflux 0.10–0.13 hex-decode the configured key (AES-128 for 32 digits); later ones use the ASCII bytes. */
export function serviceKeyBytes(key: string, encoding: KeyEncoding): Uint8Array {
  const bytes = encoding === "hex" ? fromHex(key.toLowerCase()) : utf8(key);
  if (bytes.length !== 16 && bytes.length !== 24 && bytes.length !== 32) throw new SecureBootstrapError("service key is not an AES-128/192/256 key");
  return bytes;
}

/** The Authorization value without its scheme: lower-case hex of IV ‖ ciphertext. */
export function encryptExternalKey(crypto: CryptoProvider, serviceKey: Uint8Array, iv: Uint8Array, externalKey: string): string {
  if (iv.length !== 16) throw new SecureBootstrapError("IV must be 16 bytes");
  const ct = aesCfb(crypto, serviceKey, iv, utf8(externalKey), "encrypt");
  return toHex(iv) + toHex(ct);
}

/** Reply body IV ‖ ciphertext → plaintext bytes (the JSON of the plain endpoint). */
export function decryptReply(crypto: CryptoProvider, serviceKey: Uint8Array, body: Uint8Array): Uint8Array {
  if (body.length < 16) throw new SecureBootstrapError(`encrypted reply of ${body.length} bytes is shorter than its IV`);
  return aesCfb(crypto, serviceKey, body.slice(0, 16), body.slice(16), "decrypt");
}

/** Service side of the same scheme (the reference cloud uses it; also handy for round-trip tests). */
export function encryptReply(crypto: CryptoProvider, serviceKey: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + plaintext.length);
  out.set(iv, 0);
  out.set(aesCfb(crypto, serviceKey, iv, plaintext, "encrypt"), 16);
  return out;
}

/** Service side: hex(IV ‖ ct) → the external key bytes; undefined when not hex or too short. */
export function decryptExternalKey(crypto: CryptoProvider, serviceKey: Uint8Array, hex: string): Uint8Array | undefined {
  if (!/^([0-9A-Fa-f]{2})+$/.test(hex)) return undefined;
  const bytes = fromHex(hex.toLowerCase());
  if (bytes.length < 16) return undefined;
  return aesCfb(crypto, serviceKey, bytes.slice(0, 16), bytes.slice(16), "decrypt");
}
