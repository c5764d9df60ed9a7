// Fake "ec" (modules/crypt/arith/ec.js + ec.c): k1·P1 + k2·P2 on y² = x³ + ax + b mod m, as the
// SDK's xs_ec2_mul2 returns it (affine). Written in affine coordinates with a modular inverse per
// step — deliberately not the Jacobian code of src/crypto/signature-js.ts, so the board test
// compares two independent implementations.
import ECPoint from "./ecp.js";

export default class EC {
  readonly #a: bigint;
  readonly #m: bigint;
  constructor(a: bigint, _b: bigint, m: bigint) {
    this.#a = a;
    this.#m = m;
  }
  mul2(p1: ECPoint, k1: bigint, p2: ECPoint, k2: bigint): ECPoint {
    return this.#add(this.#mul(p1, k1), this.#mul(p2, k2));
  }
  #mod(v: bigint): bigint {
    const r = v % this.#m;
    return r < 0n ? r + this.#m : r;
  }
  #inverse(v: bigint): bigint {
    // Fermat: v^(m−2) mod m (m prime)
    let result = 1n;
    let b = this.#mod(v);
    for (let e = this.#m - 2n; e > 0n; e >>= 1n) {
      if (e & 1n) result = (result * b) % this.#m;
      b = (b * b) % this.#m;
    }
    return result;
  }
  #add(p: ECPoint, q: ECPoint): ECPoint {
    if (p.isZero()) return q;
    if (q.isZero()) return p;
    let slope: bigint;
    if (p.x === q.x) {
      if (this.#mod(p.y + q.y) === 0n) return new ECPoint(0n, 0n, true);
      slope = this.#mod((3n * p.x * p.x + this.#a) * this.#inverse(2n * p.y));
    } else {
      slope = this.#mod((q.y - p.y) * this.#inverse(q.x - p.x));
    }
    const x = this.#mod(slope * slope - p.x - q.x);
    return new ECPoint(x, this.#mod(slope * (p.x - x) - p.y));
  }
  #mul(p: ECPoint, k: bigint): ECPoint {
    let result = new ECPoint(0n, 0n, true);
    let addend = p;
    for (let e = k; e > 0n; e >>= 1n) {
      if (e & 1n) result = this.#add(result, addend);
      addend = this.#add(addend, addend);
    }
    return result;
  }
}
