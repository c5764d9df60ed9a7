// Fake "ecp" (modules/crypt/arith/ecp.js): an affine point; z = 0 is the identity.
export default class ECPoint {
  readonly x: bigint;
  readonly y: bigint;
  readonly z: bigint;
  constructor(x: bigint, y: bigint, identity = false) {
    this.x = x;
    this.y = y;
    this.z = identity ? 0n : 1n;
  }
  get X(): bigint { return this.x; }
  get Y(): bigint { return this.y; }
  isZero(): boolean { return this.z === 0n; }
}
