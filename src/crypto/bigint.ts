// Big-endian byte <-> BigInt conversion and modular exponentiation (BigInt is in XS and Node).

export function bytesToBigInt(bytes: Uint8Array): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

/** Minimal big-endian bytes (at least one byte), or left-padded to `length`. */
export function bigIntToBytes(n: bigint, length?: number): Uint8Array {
  if (n < 0n) throw new RangeError("negative");
  const out: number[] = [];
  while (n > 0n) {
    out.push(Number(n & 0xffn));
    n >>= 8n;
  }
  if (out.length === 0) out.push(0);
  if (length !== undefined) {
    if (out.length > length) throw new RangeError("number does not fit");
    while (out.length < length) out.push(0);
  }
  return Uint8Array.from(out.reverse());
}

export function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
  let result = 1n;
  let b = base % modulus;
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % modulus;
    b = (b * b) % modulus;
    e >>= 1n;
  }
  return result;
}
