// Signature verification in plain JavaScript BigInt, for engines with no native verifier (XS in
// CI, through src/crypto/js-provider.ts). RSA is one modular exponentiation with a small public
// exponent; ECDSA is u1·G + u2·Q in Jacobian coordinates (a = −3) with one shared doubling chain
// (Shamir's trick). Public inputs only: nothing here needs to be constant-time. Curve constants
// are turned into BigInts per call, never at load. The hash comes from the caller.
import { bytesToBigInt, bigIntToBytes, modPow } from "./bigint.js";
import { pkcs1v15Encoding, type CurveName, type EcPublicKey, type SignatureHash, type RsaPublicKey, type SignatureVerifier } from "./signature.js";
import { DerError, DerReader, root, unsignedInteger } from "../tls/der.js";

export type Digest = (hash: SignatureHash, message: Uint8Array) => Uint8Array;

/** u1·G + u2·Q in affine coordinates, or undefined for the point at infinity. */
export type DoubleScalarMultiply = (curve: CurveName, u1: bigint, u2: bigint, q: Affine) => Affine | undefined;

export function bigintSignatureVerifier(digest: Digest, multiply: DoubleScalarMultiply = (name, u1, u2, q) => {
  const curve = curveOf(name);
  return shamir(curve, u1, curve.g, u2, q);
}, modExp: (base: bigint, exponent: bigint, modulus: bigint) => bigint = modPow): SignatureVerifier {
  return {
    verifyRsaPkcs1v15(key: RsaPublicKey, hash: SignatureHash, message: Uint8Array, signature: Uint8Array): boolean {
      const k = key.modulus.length;
      if (signature.length !== k || k === 0) return false;
      const n = bytesToBigInt(key.modulus);
      const e = bytesToBigInt(key.exponent);
      const s = bytesToBigInt(signature);
      if (s >= n || e < 3n) return false;
      const expected = pkcs1v15Encoding(hash, digest(hash, message), k);
      if (expected === undefined) return false;
      return equalBytes(bigIntToBytes(modExp(s, e, n), k), expected);
    },

    verifyEcdsa(key: EcPublicKey, hash: SignatureHash, message: Uint8Array, signature: Uint8Array): boolean {
      const curve = curveOf(key.curve);
      const q = decodePoint(curve, key.point);
      if (q === undefined) return false;
      const rs = ecdsaSignature(signature);
      if (rs === undefined) return false;
      const [r, s] = rs;
      if (r <= 0n || r >= curve.n || s <= 0n || s >= curve.n) return false;
      const e = truncatedHash(digest(hash, message), curve.bits);
      const w = invert(s, curve.n);
      const u1 = (e * w) % curve.n;
      const u2 = (r * w) % curve.n;
      const point = multiply(key.curve, u1, u2, q);
      if (point === undefined) return false;
      return point[0] % curve.n === r;
    },
  };
}

interface Curve {
  readonly p: bigint;
  readonly n: bigint;
  readonly b: bigint;
  readonly g: Affine;
  readonly bits: number;
  readonly bytes: number;
}

export type Affine = readonly [bigint, bigint];
type Jacobian = [bigint, bigint, bigint]; // Z = 0 is the point at infinity

// Domain parameters of FIPS 186-4 / SEC 2 (facts), as hex.
const CURVE_HEX: Readonly<Record<CurveName, readonly [string, string, string, string, string, number]>> = {
  "P-256": [
    "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
    "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
    "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b",
    "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296",
    "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
    256,
  ],
  "P-384": [
    "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff",
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
    "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef",
    "aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7",
    "3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f",
    384,
  ],
};

/** The curve's numbers, made per call: no module-level cache (module state is read-only once preloaded on the board). */
function curveOf(name: CurveName): Curve {
  const [p, n, b, gx, gy, bits] = CURVE_HEX[name];
  return { p: BigInt(`0x${p}`), n: BigInt(`0x${n}`), b: BigInt(`0x${b}`), g: [BigInt(`0x${gx}`), BigInt(`0x${gy}`)], bits, bytes: bits / 8 };
}

/** SEC 1 §2.3.4: uncompressed or compressed, on the curve, not infinity. */
function decodePoint(curve: Curve, bytes: Uint8Array): Affine | undefined {
  const { p, b } = curve;
  const len = curve.bytes;
  const rhs = (x: bigint) => mod(x * x % p * x - 3n * x + b, p);
  if (bytes.length === 1 + 2 * len && bytes[0] === 0x04) {
    const x = bytesToBigInt(bytes.subarray(1, 1 + len));
    const y = bytesToBigInt(bytes.subarray(1 + len));
    if (x >= p || y >= p) return undefined;
    return mod(y * y, p) === rhs(x) ? [x, y] : undefined;
  }
  if (bytes.length === 1 + len && (bytes[0] === 0x02 || bytes[0] === 0x03)) {
    const x = bytesToBigInt(bytes.subarray(1));
    if (x >= p) return undefined;
    const y2 = rhs(x);
    let y = modPow(y2, (p + 1n) / 4n, p); // p ≡ 3 (mod 4) for both curves
    if (mod(y * y, p) !== y2) return undefined;
    if ((y & 1n) !== BigInt(bytes[0]! & 1)) y = p - y;
    return [x, y];
  }
  return undefined;
}

/** Strict DER SEQUENCE { INTEGER r, INTEGER s }: no BER variants, no trailing bytes. */
export function ecdsaSignature(der: Uint8Array): [bigint, bigint] | undefined {
  try {
    const seq = new DerReader(der, root(der, 0x30, "ECDSA signature"));
    const r = unsignedInteger(der, seq.next(0x02, "r"));
    const s = unsignedInteger(der, seq.next(0x02, "s"));
    seq.end("ECDSA signature");
    return [bytesToBigInt(r), bytesToBigInt(s)];
  } catch (e) {
    if (e instanceof DerError) return undefined;
    throw e;
  }
}

/** The leftmost `bits` bits of the digest, as an integer (FIPS 186-4 §6.4). */
function truncatedHash(digestBytes: Uint8Array, bits: number): bigint {
  let e = bytesToBigInt(digestBytes);
  const excess = digestBytes.length * 8 - bits;
  if (excess > 0) e >>= BigInt(excess);
  return e;
}

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}

/** a⁻¹ mod m by the extended Euclidean algorithm (m prime, 0 < a < m). */
export function invert(a: bigint, m: bigint): bigint {
  let [r0, r1] = [m, mod(a, m)];
  let [t0, t1] = [0n, 1n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [t0, t1] = [t1, t0 - q * t1];
  }
  return mod(t0, m);
}

function double(c: Curve, [x, y, z]: Jacobian): Jacobian {
  const p = c.p;
  if (z === 0n || y === 0n) return [1n, 1n, 0n];
  const delta = z * z % p;
  const gamma = y * y % p;
  const beta = x * gamma % p;
  const alpha = 3n * mod(x - delta, p) % p * ((x + delta) % p) % p;
  const x3 = mod(alpha * alpha - 8n * beta, p);
  const z3 = mod((y + z) * (y + z) - gamma - delta, p);
  const y3 = mod(alpha * mod(4n * beta - x3, p) - 8n * (gamma * gamma % p), p);
  return [x3, y3, z3];
}

function add(c: Curve, a: Jacobian, b: Jacobian): Jacobian {
  const p = c.p;
  if (a[2] === 0n) return b;
  if (b[2] === 0n) return a;
  const z1z1 = a[2] * a[2] % p;
  const z2z2 = b[2] * b[2] % p;
  const u1 = a[0] * z2z2 % p;
  const u2 = b[0] * z1z1 % p;
  const s1 = a[1] * b[2] % p * z2z2 % p;
  const s2 = b[1] * a[2] % p * z1z1 % p;
  const h = mod(u2 - u1, p);
  const r = mod(s2 - s1, p);
  if (h === 0n) return r === 0n ? double(c, a) : [1n, 1n, 0n];
  const hh = h * h % p;
  const hhh = h * hh % p;
  const v = u1 * hh % p;
  const x3 = mod(r * r - hhh - 2n * v, p);
  const y3 = mod(r * mod(v - x3, p) - s1 * hhh, p);
  const z3 = a[2] * b[2] % p * h % p;
  return [x3, y3, z3];
}

/** k1·P1 + k2·P2 in affine form, or undefined for the point at infinity. */
function shamir(c: Curve, k1: bigint, p1: Affine, k2: bigint, p2: Affine): Affine | undefined {
  const j1: Jacobian = [p1[0], p1[1], 1n];
  const j2: Jacobian = [p2[0], p2[1], 1n];
  const both = add(c, j1, j2);
  let acc: Jacobian = [1n, 1n, 0n];
  const top = Math.max(bitLength(k1), bitLength(k2));
  for (let i = top - 1; i >= 0; i--) {
    acc = double(c, acc);
    const bit = BigInt(i);
    const b1 = (k1 >> bit) & 1n, b2 = (k2 >> bit) & 1n;
    if (b1 && b2) acc = add(c, acc, both);
    else if (b1) acc = add(c, acc, j1);
    else if (b2) acc = add(c, acc, j2);
  }
  if (acc[2] === 0n) return undefined;
  const zi = invert(acc[2], c.p);
  const zi2 = zi * zi % c.p;
  return [acc[0] * zi2 % c.p, acc[1] * zi2 % c.p * zi % c.p];
}

function bitLength(n: bigint): number {
  return n === 0n ? 0 : n.toString(2).length;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
