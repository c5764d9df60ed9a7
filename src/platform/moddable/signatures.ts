// Signature verification on the board for the firmware's TLS verifier: the checks and encodings
// of src/crypto/signature-js.ts (DER, ranges, PKCS#1 v1.5 block comparison, point decoding), with
// the expensive arithmetic in the SDK's C — Modular.exp for RSA, EC.mul2 for ECDSA's u1·G + u2·Q —
// and the hashes from its native Digest. The SDK's own TLS verification stays off (issue #13).
/// <reference path="./types/untyped.d.ts" />
import { Digest } from "crypt";
import Curve from "curve";
import ECPoint from "ecp";
import Modular from "modular";
import { bigintSignatureVerifier, type Affine } from "../../crypto/signature-js.js";
import type { CurveName, SignatureHash, SignatureVerifier } from "../../crypto/signature.js";
import { toArrayBuffer } from "./pem.js";

const DIGESTS = { "SHA-256": "SHA256", "SHA-384": "SHA384", "SHA-512": "SHA512" } as const;

function digest(hash: SignatureHash, data: Uint8Array): Uint8Array {
  const d = new Digest(DIGESTS[hash]);
  d.write(toArrayBuffer(data));
  return new Uint8Array(d.close());
}

function multiply(name: CurveName, u1: bigint, u2: bigint, q: Affine): Affine | undefined {
  // per call: no module-level cache (module state is read-only once preloaded)
  const curve = new Curve(name === "P-256" ? "secp256r1" : "secp384r1");
  const r = curve.ec.mul2(curve.G, u1, new ECPoint(q[0], q[1]), u2);
  return r.isZero() ? undefined : [r.X, r.Y];
}

export const boardSignatures: SignatureVerifier = bigintSignatureVerifier(digest, multiply, (base, exponent, modulus) => new Modular(modulus).exp(base, exponent));
