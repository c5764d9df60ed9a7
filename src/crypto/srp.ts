// SRP-6a as protocomm Security 2 uses it (esp-idf esp_srp.c / esp_prov srp6a.py):
// RFC 5054 3072-bit group, g = 5, SHA-512 throughout.
//   x = H(s | H(I ":" P))          v = g^x mod N           k = H(N | PAD(g))
//   u = H(PAD(A) | PAD(B))         B = k·v + g^b mod N     S = (A·v^u)^b mod N (device)
//   K = H(S)                       M = H(H(N) xor H(PAD(g)) | H(I) | s | A | B | K)
//   H_AMK = H(A | M | K)
// Numbers inside H() are minimal big-endian bytes unless PAD()ded to 384 bytes. g is padded in M
// too (esp_srp.c esp_srp_exchange_proofs, esp_prov srp6a.py): hashing the single byte 05 gives a
// proof no Espressif client or device accepts (test/scenarios/provisioning-sec2-vectors).
import { concat, constantTimeEqual, utf8 } from "../bytes/bytes.js";
import { bigIntToBytes, bytesToBigInt, modPow } from "./bigint.js";
import type { CryptoProvider } from "./provider.js";
import { CryptoError } from "./x25519.js";

const N_HEX =
  "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a08798e3404dd" +
  "ef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7ed" +
  "ee386bfb5a899fa5ae9f24117c4b1fe649286651ece45b3dc2007cb8a163bf0598da48361c55d39a69163fa8fd24cf5f" +
  "83655d23dca3ad961c62f356208552bb9ed529077096966d670c354e4abc9804f1746c08ca18217c32905e462e36ce3b" +
  "e39e772c180e86039b2783a2ec07a28fb5c55df06f4c52c9de2bcbf6955817183995497cea956ae515d2261898fa0510" +
  "15728e5a8aaac42dad33170d04507a33a85521abdf1cba64ecfb850458dbef0a8aea71575d060c7db3970f85a6e1e4c7" +
  "abf5ae8cdb0933d71e8c94e04a25619dcee3d2261ad2ee6bf12ffa06d98a0864d87602733ec86a64521f2b18177b200c" +
  "bbe117577a615d6c770988c0bad946e208e24fa074e5ab3143db5bfce0fd108e4b82d120a93ad2caffffffffffffffff";

export const SRP_N = BigInt("0x" + N_HEX);
export const SRP_G = 5n;
export const SRP_LEN = 384;

type Hash = (...parts: Uint8Array[]) => Uint8Array;
const hashOf = (crypto: CryptoProvider): Hash => (...parts) => crypto.sha512(concat(...parts));
const pad = (n: bigint): Uint8Array => bigIntToBytes(n, SRP_LEN);
const min = (n: bigint): Uint8Array => bigIntToBytes(n);

let kCache: bigint | undefined;
function k(H: Hash): bigint {
  return (kCache ??= bytesToBigInt(H(pad(SRP_N).subarray(0), pad(SRP_G))));
}

function xOf(H: Hash, username: Uint8Array, password: Uint8Array, salt: Uint8Array): bigint {
  return bytesToBigInt(H(salt, H(username, utf8(":"), password)));
}

/** The verifier v = g^x mod N the device stores (with the salt) instead of the password. */
export function srpVerifier(crypto: CryptoProvider, username: Uint8Array, password: Uint8Array, salt: Uint8Array): Uint8Array {
  return min(modPow(SRP_G, xOf(hashOf(crypto), username, password, salt), SRP_N));
}

function proofM(H: Hash, username: Uint8Array, salt: Uint8Array, A: Uint8Array, B: Uint8Array, K: Uint8Array): Uint8Array {
  const hN = H(min(SRP_N));
  const hg = H(pad(SRP_G));
  const x = new Uint8Array(hN.length);
  for (let i = 0; i < x.length; i++) x[i] = hN[i]! ^ hg[i]!;
  return H(x, H(username), salt, A, B, K);
}

/**
 * A salt for a new verifier: `length` random bytes, the first one non-zero. Espressif's Python
 * clients turn the salt into an integer and back (long_to_bytes), dropping leading zero bytes,
 * so a salt starting with 00 (1 in 256) would make them compute another x and fail the proof.
 */
export function srpSalt(random: (into: Uint8Array) => void, length = 16): Uint8Array {
  const salt = new Uint8Array(length);
  do random(salt);
  while (salt[0] === 0);
  return salt;
}

/** Device side. One instance per handshake. */
export class SrpServer {
  readonly #username: Uint8Array;
  readonly #salt: Uint8Array;
  readonly #v: bigint;
  readonly #b: bigint;
  readonly #B: bigint;
  #A: Uint8Array | undefined;
  #K: Uint8Array | undefined;

  readonly #H: Hash;

  constructor(crypto: CryptoProvider, username: Uint8Array, salt: Uint8Array, verifier: Uint8Array, random: (into: Uint8Array) => void) {
    this.#H = hashOf(crypto);
    this.#username = username.slice();
    this.#salt = salt.slice();
    this.#v = bytesToBigInt(verifier);
    const bBytes = new Uint8Array(32);
    let b = 0n;
    while (b === 0n) {
      random(bBytes);
      b = bytesToBigInt(bBytes);
    }
    this.#b = b;
    this.#B = (k(this.#H) * this.#v + modPow(SRP_G, b, SRP_N)) % SRP_N;
  }

  /** B as sent on the wire (minimal big-endian). */
  get publicKey(): Uint8Array {
    return min(this.#B);
  }

  get salt(): Uint8Array {
    return this.#salt.slice();
  }

  /** Take the client's A (exactly 384 bytes); computes the session key K. */
  setClientPublicKey(A: Uint8Array): void {
    if (A.length !== SRP_LEN) throw new CryptoError("SRP client public key must be 384 bytes");
    const a = bytesToBigInt(A);
    if (a % SRP_N === 0n) throw new CryptoError("SRP client public key is 0 mod N");
    const u = bytesToBigInt(this.#H(pad(a), pad(this.#B)));
    if (u === 0n) throw new CryptoError("SRP u = 0");
    const S = modPow((a * modPow(this.#v, u, SRP_N)) % SRP_N, this.#b, SRP_N);
    this.#A = A.slice();
    this.#K = this.#H(min(S));
  }

  /** Check the client's proof M; returns H_AMK, or undefined if the proof is wrong (wrong PoP). */
  verifyClientProof(M: Uint8Array): Uint8Array | undefined {
    if (this.#A === undefined || this.#K === undefined) throw new CryptoError("SRP: no client public key yet");
    const expected = proofM(this.#H, this.#username, this.#salt, min(bytesToBigInt(this.#A)), min(this.#B), this.#K);
    if (!constantTimeEqual(expected, M)) return undefined;
    return this.#H(this.#A, M, this.#K);
  }

  /** The 64-byte session key K (AES key = first 32 bytes). */
  get sessionKey(): Uint8Array {
    if (this.#K === undefined) throw new CryptoError("SRP: no session key yet");
    return this.#K.slice();
  }
}

/** Client side (the phone app's half), for the CLI and tests. */
export class SrpClient {
  readonly #a: bigint;
  readonly #A: Uint8Array;
  readonly #username: Uint8Array;
  readonly #password: Uint8Array;
  #K: Uint8Array | undefined;
  #M: Uint8Array | undefined;

  readonly #H: Hash;

  constructor(crypto: CryptoProvider, username: Uint8Array, password: Uint8Array, random: (into: Uint8Array) => void) {
    this.#H = hashOf(crypto);
    this.#username = username.slice();
    this.#password = password.slice();
    const aBytes = new Uint8Array(32);
    // re-roll until A has the full 384 bytes, as esp_prov does (the device requires exactly 384)
    for (;;) {
      random(aBytes);
      const a = bytesToBigInt(aBytes);
      const A = modPow(SRP_G, a, SRP_N);
      if (a !== 0n && min(A).length === SRP_LEN) {
        this.#a = a;
        this.#A = min(A);
        break;
      }
    }
  }

  get publicKey(): Uint8Array {
    return this.#A.slice();
  }

  /** From the device's salt and B, compute K and the proof M to send. */
  processChallenge(salt: Uint8Array, B: Uint8Array): Uint8Array {
    const b = bytesToBigInt(B);
    if (b % SRP_N === 0n) throw new CryptoError("SRP device public key is 0 mod N");
    const u = bytesToBigInt(this.#H(pad(bytesToBigInt(this.#A)), pad(b)));
    if (u === 0n) throw new CryptoError("SRP u = 0");
    const x = xOf(this.#H, this.#username, this.#password, salt);
    const base = (b - ((k(this.#H) * modPow(SRP_G, x, SRP_N)) % SRP_N) + SRP_N) % SRP_N;
    const S = modPow(base, this.#a + u * x, SRP_N);
    this.#K = this.#H(min(S));
    this.#M = proofM(this.#H, this.#username, salt, this.#A, min(b), this.#K);
    return this.#M.slice();
  }

  /** True if the device's H_AMK proves it knows the verifier. */
  verifyServerProof(hamk: Uint8Array): boolean {
    if (this.#K === undefined || this.#M === undefined) return false;
    return constantTimeEqual(this.#H(this.#A, this.#M, this.#K), hamk);
  }

  get sessionKey(): Uint8Array {
    if (this.#K === undefined) throw new CryptoError("SRP: no session key yet");
    return this.#K.slice();
  }
}
