// Signature verification as the core needs it for TLS: RSASSA-PKCS1-v1_5 and ECDSA over the
// SHA-2 hashes. The core never picks an implementation: the platform injects one
// (node:crypto in the simulator, our JavaScript on XS in CI, the SDK's native arithmetic on the board).

export type SignatureHash = "SHA-256" | "SHA-384" | "SHA-512";
export type CurveName = "P-256" | "P-384";

export interface RsaPublicKey {
  readonly kind: "rsa";
  /** Big-endian, no leading zero. */
  readonly modulus: Uint8Array;
  readonly exponent: Uint8Array;
  /** The DER SubjectPublicKeyInfo the key came from (what node:crypto takes). */
  readonly spki: Uint8Array;
}

export interface EcPublicKey {
  readonly kind: "ec";
  readonly curve: CurveName;
  /** SEC 1 encoded point (0x04 ‖ X ‖ Y, or compressed). */
  readonly point: Uint8Array;
  readonly spki: Uint8Array;
}

export interface SignatureVerifier {
  /** True only for a valid PKCS#1 v1.5 signature of `message` (hashed here with `hash`). */
  verifyRsaPkcs1v15(key: RsaPublicKey, hash: SignatureHash, message: Uint8Array, signature: Uint8Array): boolean;
  /** True only for a valid ECDSA signature (DER Ecdsa-Sig-Value) of `message` (hashed here with `hash`). */
  verifyEcdsa(key: EcPublicKey, hash: SignatureHash, message: Uint8Array, signature: Uint8Array): boolean;
}

/** DigestInfo prefixes of RFC 8017 §9.2, note 1 (AlgorithmIdentifier with NULL parameters, then the OCTET STRING header). */
export const DIGEST_INFO_PREFIX: Readonly<Record<SignatureHash, readonly number[]>> = {
  "SHA-256": [0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20],
  "SHA-384": [0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30],
  "SHA-512": [0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40],
};

/**
 * The EMSA-PKCS1-v1_5 encoding (RFC 8017 §9.2) of a digest for a `length`-byte modulus:
 * 00 01 FF…FF 00 DigestInfo. Verifiers compare the whole block (no parsing of the signer's padding).
 */
export function pkcs1v15Encoding(hash: SignatureHash, digest: Uint8Array, length: number): Uint8Array | undefined {
  const prefix = DIGEST_INFO_PREFIX[hash];
  const t = prefix.length + digest.length;
  if (length < t + 11) return undefined;
  const out = new Uint8Array(length);
  out[1] = 0x01;
  out.fill(0xff, 2, length - t - 1);
  out.set(prefix, length - t);
  out.set(digest, length - digest.length);
  return out;
}
