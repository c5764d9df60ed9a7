// X25519 (RFC 7748 §5) as a BigInt Montgomery ladder. Keys and shared secrets are the raw 32-byte
// little-endian encodings, exactly what protocomm Security 1 puts on the wire.
//
// Why not @noble/curves: its ed25519.js module fails to initialise inside XS ("Point2: get ?:
// not initialized yet" at bundle load), which would break every module of the core on the board.
// This ladder is checked against RFC 7748's vectors and node:crypto in test/node/crypto.test.ts.
import { modPow } from "./bigint.js";

export class CryptoError extends Error {
  override readonly name = "CryptoError";
  constructor(message: string) {
    super(message);
  }
}

export interface X25519KeyPair {
  readonly secretKey: Uint8Array;
  readonly publicKey: Uint8Array;
}

const P = (1n << 255n) - 19n;
const A24 = 121665n;
const BASE = new Uint8Array(32);
BASE[0] = 9;

function decodeLE(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

function encodeLE(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

function scalarMult(scalar: Uint8Array, u: Uint8Array): Uint8Array {
  if (scalar.length !== 32 || u.length !== 32) throw new CryptoError("X25519 inputs must be 32 bytes");
  const k = scalar.slice();
  k[0]! &= 248;
  k[31]! &= 127;
  k[31]! |= 64;
  const ub = u.slice();
  ub[31]! &= 127; // mask the top bit of u
  const x1 = decodeLE(ub) % P;
  const kk = decodeLE(k);
  const m = (a: bigint): bigint => {
    const r = a % P;
    return r < 0n ? r + P : r;
  };
  let x2 = 1n, z2 = 0n, x3 = x1, z3 = 1n, swap = 0n;
  for (let t = 254; t >= 0; t--) {
    const kt = (kk >> BigInt(t)) & 1n;
    swap ^= kt;
    if (swap) {
      [x2, x3] = [x3, x2];
      [z2, z3] = [z3, z2];
    }
    swap = kt;
    const A = m(x2 + z2), AA = m(A * A), B = m(x2 - z2), BB = m(B * B), E = m(AA - BB);
    const C = m(x3 + z3), D = m(x3 - z3), DA = m(D * A), CB = m(C * B);
    x3 = m((DA + CB) * (DA + CB));
    z3 = m(x1 * m((DA - CB) * (DA - CB)));
    x2 = m(AA * BB);
    z2 = m(E * m(AA + A24 * E));
  }
  if (swap) {
    [x2, x3] = [x3, x2];
    [z2, z3] = [z3, z2];
  }
  return encodeLE(m(x2 * modPow(z2, P - 2n, P)));
}

export function x25519PublicKey(secretKey: Uint8Array): Uint8Array {
  return scalarMult(secretKey, BASE);
}

/** A key pair from the platform's random source (32 random bytes; clamping happens inside X25519). */
export function x25519KeyPair(random: (into: Uint8Array) => void): X25519KeyPair {
  const secretKey = new Uint8Array(32);
  random(secretKey);
  return { secretKey, publicKey: x25519PublicKey(secretKey) };
}

/** The shared secret; throws CryptoError for a low-order peer key (all-zero result, RFC 7748 §6.1). */
export function x25519(secretKey: Uint8Array, peerPublicKey: Uint8Array): Uint8Array {
  if (peerPublicKey.length !== 32) throw new CryptoError("X25519 public key must be 32 bytes");
  const shared = scalarMult(secretKey, peerPublicKey);
  if (shared.every((b) => b === 0)) throw new CryptoError("X25519 produced the all-zero secret (low-order public key)");
  return shared;
}
