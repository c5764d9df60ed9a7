// Device side of protocomm's security schemes (esp-idf security0/1/2.c), sans I/O. One instance
// per transport session. `handshake()` takes and returns encoded SessionData; `decrypt()` /
// `encrypt()` wrap every later request and response. Any failure throws ProtocommError, and the
// caller sends no response (exactly what Espressif devices do).
import { constantTimeEqual, equalBytes, utf8 } from "../bytes/bytes.js";
import { AesCtrStream, aesGcmDecrypt, aesGcmEncrypt } from "../crypto/aes.js";
import type { CryptoProvider } from "../crypto/provider.js";
import { SrpServer } from "../crypto/srp.js";
import { x25519, x25519KeyPair } from "../crypto/x25519.js";
import { decode, encode, ProtobufError, type ProtoObject } from "../protobuf/codec.js";
import { SessionData, Status } from "../protobuf/messages.js";
import { ProtocommError } from "./errors.js";

export type SecurityVersion = 0 | 1 | 2;

export interface SecurityConfig {
  readonly version: SecurityVersion;
  /** Security 1: the proof of possession (empty = no PoP). */
  readonly pop?: Uint8Array;
  /** Security 2: SRP username, salt and verifier (computed from the PoP at window open). */
  readonly srp?: { readonly username: Uint8Array; readonly salt: Uint8Array; readonly verifier: Uint8Array };
  /** Security 2 GCM nonce behaviour advertised as `sec_patch_ver` (1 = counter per message). */
  readonly patchVersion?: 0 | 1;
}

export interface SecuritySession {
  readonly established: boolean;
  handshake(request: Uint8Array): Uint8Array;
  decrypt(data: Uint8Array): Uint8Array;
  encrypt(data: Uint8Array): Uint8Array;
}

interface SessionDataMsg {
  sec_ver: number;
  sec0?: ProtoObject;
  sec1?: { msg: number; sc0?: { client_pubkey: Uint8Array }; sc1?: { client_verify_data: Uint8Array } };
  sec2?: { msg: number; sc0?: { client_username: Uint8Array; client_pubkey: Uint8Array }; sc1?: { client_proof: Uint8Array } };
}

export function decodeSessionData(request: Uint8Array): SessionDataMsg {
  try {
    return decode<SessionDataMsg>(SessionData, request);
  } catch (e) {
    if (e instanceof ProtobufError) throw new ProtocommError("malformed", `SessionData: ${e.message}`);
    throw e;
  }
}

export function createSecuritySession(config: SecurityConfig, random: (into: Uint8Array) => void, crypto: CryptoProvider): SecuritySession {
  switch (config.version) {
    case 0:
      return new Security0();
    case 1:
      return new Security1(config.pop ?? new Uint8Array(0), random, crypto);
    case 2:
      if (config.srp === undefined) throw new Error("Security 2 needs SRP parameters");
      return new Security2(config.srp, config.patchVersion ?? 1, random, crypto);
  }
}

class Security0 implements SecuritySession {
  established = false;
  handshake(request: Uint8Array): Uint8Array {
    const m = decodeSessionData(request);
    if (m.sec_ver !== 0 || m.sec0 === undefined) throw new ProtocommError("invalid", "Security 0 expects sec0");
    this.established = true;
    return encode(SessionData, { sec_ver: 0, sec0: { msg: 1, sr: { status: Status.Success } } });
  }
  decrypt(data: Uint8Array): Uint8Array {
    return data;
  }
  encrypt(data: Uint8Array): Uint8Array {
    return data;
  }
}

class Security1 implements SecuritySession {
  #state: "idle" | "cmd0" | "done" = "idle";
  #stream: AesCtrStream | undefined;
  #devicePub: Uint8Array | undefined;
  #clientPub: Uint8Array | undefined;

  constructor(readonly pop: Uint8Array, readonly random: (into: Uint8Array) => void, readonly crypto: CryptoProvider) {}

  get established(): boolean {
    return this.#state === "done";
  }

  handshake(request: Uint8Array): Uint8Array {
    const m = decodeSessionData(request);
    if (m.sec_ver !== 1 || m.sec1 === undefined) throw new ProtocommError("invalid", "Security 1 expects sec1");
    const p = m.sec1;
    if (p.msg === 0) {
      // A valid Command0 in any state restarts the session; a malformed one changes nothing, so
      // garbage cannot tear down an established session. Everything is computed before any state moves.
      const clientPub = p.sc0?.client_pubkey;
      if (clientPub === undefined || clientPub.length !== 32) throw new ProtocommError("invalid", "client_pubkey must be 32 bytes");
      const pair = x25519KeyPair(this.random);
      let key: Uint8Array;
      try {
        key = x25519(pair.secretKey, clientPub);
      } catch {
        throw new ProtocommError("crypto", "X25519 with the client key failed");
      }
      pair.secretKey.fill(0);
      if (this.pop.length > 0) {
        const h = this.crypto.sha256(this.pop);
        for (let i = 0; i < 32; i++) key[i]! ^= h[i]!;
      }
      const deviceRandom = new Uint8Array(16);
      this.random(deviceRandom);
      this.#stream = new AesCtrStream(this.crypto, key, deviceRandom);
      key.fill(0);
      this.#devicePub = pair.publicKey;
      this.#clientPub = clientPub.slice();
      this.#state = "cmd0";
      return encode(SessionData, { sec_ver: 1, sec1: { msg: 1, sr0: { status: Status.Success, device_pubkey: pair.publicKey, device_random: deviceRandom } } });
    }
    if (p.msg === 2) {
      if (this.#state !== "cmd0" || this.#stream === undefined) throw new ProtocommError("bad-state", "Command1 before Command0");
      const verify = p.sc1?.client_verify_data;
      if (verify === undefined || verify.length !== 32) throw new ProtocommError("invalid", "client_verify_data must be 32 bytes");
      const plain = this.#stream.apply(verify);
      // constant time: the client must not learn how many leading bytes its proof got right
      if (!constantTimeEqual(plain, this.#devicePub!)) {
        this.#state = "idle";
        this.#stream = undefined;
        throw new ProtocommError("wrong-pop", "client verify data mismatch (wrong PoP)");
      }
      const deviceVerify = this.#stream.apply(this.#clientPub!);
      this.#state = "done";
      return encode(SessionData, { sec_ver: 1, sec1: { msg: 3, sr1: { status: Status.Success, device_verify_data: deviceVerify } } });
    }
    throw new ProtocommError("invalid", `unexpected Security 1 message ${p.msg}`);
  }

  decrypt(data: Uint8Array): Uint8Array {
    if (this.#state !== "done") throw new ProtocommError("no-session", "no established Security 1 session");
    return this.#stream!.apply(data);
  }

  encrypt(data: Uint8Array): Uint8Array {
    if (this.#state !== "done") throw new ProtocommError("no-session", "no established Security 1 session");
    return this.#stream!.apply(data);
  }
}

class Security2 implements SecuritySession {
  #state: "idle" | "cmd0" | "done" = "idle";
  #srp: SrpServer | undefined;
  #key: Uint8Array | undefined;
  #nonce: Uint8Array | undefined;

  constructor(
    readonly params: NonNullable<SecurityConfig["srp"]>,
    readonly patch: 0 | 1,
    readonly random: (into: Uint8Array) => void,
    readonly crypto: CryptoProvider,
  ) {}

  get established(): boolean {
    return this.#state === "done";
  }

  handshake(request: Uint8Array): Uint8Array {
    const m = decodeSessionData(request);
    if (m.sec_ver !== 2 || m.sec2 === undefined) throw new ProtocommError("invalid", "Security 2 expects sec2");
    const p = m.sec2;
    if (p.msg === 0) {
      // As in Security 1: validate and compute first, move state only on success.
      const sc0 = p.sc0;
      if (sc0 === undefined || sc0.client_pubkey.length !== 384) throw new ProtocommError("invalid", "client_pubkey must be 384 bytes");
      if (!equalBytes(sc0.client_username, this.params.username)) {
        // the username goes into M, so a mismatch fails at the proof; carry on like esp_srp does
      }
      const srp = new SrpServer(this.crypto, this.params.username, this.params.salt, this.params.verifier, this.random);
      try {
        srp.setClientPublicKey(sc0.client_pubkey);
      } catch {
        throw new ProtocommError("crypto", "bad SRP client public key");
      }
      this.#key = undefined;
      this.#srp = srp;
      this.#state = "cmd0";
      return encode(SessionData, { sec_ver: 2, sec2: { msg: 1, sr0: { status: Status.Success, device_pubkey: srp.publicKey, device_salt: srp.salt } } });
    }
    if (p.msg === 2) {
      if (this.#state !== "cmd0" || this.#srp === undefined) throw new ProtocommError("bad-state", "Command1 before Command0");
      const proof = p.sc1?.client_proof;
      if (proof === undefined || proof.length !== 64) throw new ProtocommError("invalid", "client_proof must be 64 bytes");
      const hamk = this.#srp.verifyClientProof(proof);
      if (hamk === undefined) {
        this.#state = "idle";
        this.#srp = undefined;
        throw new ProtocommError("wrong-pop", "SRP proof mismatch (wrong PoP or username)");
      }
      this.#key = this.#srp.sessionKey.subarray(0, 32);
      const nonce = new Uint8Array(12);
      this.random(nonce.subarray(0, 8));
      nonce[11] = 1; // counter starts at 1
      this.#nonce = nonce;
      this.#srp = undefined;
      this.#state = "done";
      return encode(SessionData, { sec_ver: 2, sec2: { msg: 3, sr1: { status: Status.Success, device_proof: hamk, device_nonce: nonce.slice() } } });
    }
    throw new ProtocommError("invalid", `unexpected Security 2 message ${p.msg}`);
  }

  #step(): Uint8Array {
    const used = this.#nonce!.slice();
    if (this.patch === 1) incrementCounter(this.#nonce!);
    return used;
  }

  decrypt(data: Uint8Array): Uint8Array {
    if (this.#state !== "done") throw new ProtocommError("no-session", "no established Security 2 session");
    const nonce = this.#step();
    try {
      return aesGcmDecrypt(this.crypto, this.#key!, nonce, data);
    } catch {
      throw new ProtocommError("crypto", "AES-GCM authentication failed");
    }
  }

  encrypt(data: Uint8Array): Uint8Array {
    if (this.#state !== "done") throw new ProtocommError("no-session", "no established Security 2 session");
    return aesGcmEncrypt(this.crypto, this.#key!, this.#step(), data);
  }
}

/** The 4-byte big-endian counter in nonce bytes 8..11 (sec_patch_ver 1). */
export function incrementCounter(nonce: Uint8Array): void {
  for (let i = 11; i >= 8; i--) {
    nonce[i] = (nonce[i]! + 1) & 0xff;
    if (nonce[i] !== 0) break;
  }
}

export function sec2DefaultUsername(): Uint8Array {
  return utf8("wifiprov");
}

