// SDK modules the glue uses that the SDK ships no typings for (its typings/ declare only
// crypt's Digest). These declarations are part of every type check, including
// `npm run typecheck:sdk`, where they merge with the SDK's own typings/.
// Facts from modules/crypt/digest/crypt.js + modCrypt.c and modules/crypt/etc/gcm.js (8.2.3).

declare module "crypt" {
  /** A block cipher in C (kcl fips197 for "AES"); key 16, 24 or 32 bytes. */
  export class BlockCipher {
    constructor(cipher: "AES", key: ArrayBuffer);
    /** One block (ECB); returns a new ArrayBuffer. */
    encrypt(data: ArrayBuffer): ArrayBuffer;
    decrypt(data: ArrayBuffer): ArrayBuffer;
    get blockSize(): number;
  }
  /** ECB/CTR/CBC over a BlockCipher, in C. CTR keeps its counter and block offset between calls. */
  export class Mode {
    constructor(mode: "ECB" | "CTR" | "CBC", cipher: BlockCipher, iv?: ArrayBuffer);
    encrypt(data: ArrayBuffer): ArrayBuffer;
    decrypt(data: ArrayBuffer): ArrayBuffer;
  }
}

declare module "gcm" {
  import type { BlockCipher } from "crypt";
  /** AES-GCM in JavaScript over the C CTR mode and GHASH (what the SDK's TLS uses). */
  export default class GCM {
    constructor(cipher: BlockCipher, tagLength?: number);
    /**
     * Encrypt: ciphertext ‖ tag (`data` an ArrayBuffer). Decrypt (`data` a Uint8Array holding
     * ciphertext ‖ tag): the plaintext, or undefined when the tag does not verify.
     * `iv` must be an ArrayBuffer (12 bytes is the fast path).
     */
    process(data: ArrayBuffer | Uint8Array, buf: undefined, iv: ArrayBuffer, aad: ArrayBuffer | undefined, encrypt: boolean): ArrayBuffer | undefined;
  }
}

// The SDK's BigInt arithmetic in C (modules/crypt/arith, etc/curve.js), included with its TLS
// stack (tls_common.json): what the board's signature verifier (signatures.ts) runs on.
declare module "modular" {
  export default class Modular {
    constructor(modulus: bigint);
    /** base^exponent mod modulus, in C (xs_mod2_exp). */
    exp(base: bigint, exponent: bigint): bigint;
  }
}

declare module "ecp" {
  export default class ECPoint {
    constructor(x: bigint, y: bigint, identity?: boolean);
    get X(): bigint;
    get Y(): bigint;
    isZero(): boolean;
  }
}

declare module "ec" {
  import type ECPoint from "ecp";
  export default class EC {
    constructor(a: bigint, b: bigint, m: bigint);
    /** k1·P1 + k2·P2 in C (xs_ec2_mul2), affine. */
    mul2(p1: ECPoint, k1: bigint, p2: ECPoint, k2: bigint): ECPoint;
  }
}

declare module "curve" {
  import type EC from "ec";
  import type ECPoint from "ecp";
  export default class Curve {
    constructor(name: "secp256r1" | "secp384r1");
    readonly G: ECPoint;
    readonly ec: EC;
    readonly n: bigint;
  }
}
