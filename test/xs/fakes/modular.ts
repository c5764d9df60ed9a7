// Fake "modular" (modules/crypt/arith/modular.js + modular.c): modular exponentiation, here by
// square-and-multiply in BigInt.
export default class Modular {
  readonly #m: bigint;
  constructor(modulus: bigint) {
    this.#m = modulus;
  }
  exp(base: bigint, exponent: bigint): bigint {
    let result = 1n;
    let b = base % this.#m;
    for (let e = exponent; e > 0n; e >>= 1n) {
      if (e & 1n) result = (result * b) % this.#m;
      b = (b * b) % this.#m;
    }
    return result;
  }
}
