// Security 2 against Espressif's own client code (issue 11): handshakes computed by esp_prov's
// srp6a.py (espressif-sec2-vectors.ts). The device side must derive the same verifier, B and K,
// accept the client's M and answer the H_AMK that client accepted — through the SRP module and
// through the protocomm handshake (SessionData on prov-session), on every engine.
import { fromHex, toHex, utf8 } from "../../src/bytes/bytes.js";
import { SrpServer, srpSalt, srpVerifier } from "../../src/crypto/srp.js";
import { decode, encode } from "../../src/protobuf/codec.js";
import { SessionData } from "../../src/protobuf/messages.js";
import { ProtocommError } from "../../src/provisioning/errors.js";
import { createSecuritySession } from "../../src/provisioning/security.js";
import { ESPRESSIF_SEC2_VECTORS, type Sec2Vector } from "./espressif-sec2-vectors.js";
import type { CryptoProvider } from "../../src/crypto/provider.js";
import { check, checkEqual, checkThrows, type Scenario } from "./harness.js";

/** The device's randomness: first the secret b of the vector, then zeros (the GCM nonce). */
function scripted(b: string): (into: Uint8Array) => void {
  let next: Uint8Array | undefined = fromHex(b);
  return (into) => {
    if (next !== undefined && into.length === next.length) {
      into.set(next);
      next = undefined;
    } else into.fill(0);
  };
}

function server(crypto: CryptoProvider, v: Sec2Vector): SrpServer {
  return new SrpServer(crypto, utf8(v.username), fromHex(v.salt), srpVerifier(crypto, utf8(v.username), utf8(v.password), fromHex(v.salt)), scripted(v.device_secret_b));
}

type Sr = { sec2?: { msg: number; sr0?: { status: number; device_pubkey: Uint8Array; device_salt: Uint8Array }; sr1?: { status: number; device_proof: Uint8Array; device_nonce: Uint8Array } } };

export const scenarios: Scenario[] = [
  {
    name: "Sec2 vectors (esp_prov srp6a.py): the device derives the same verifier, B and K, accepts M and answers H_AMK",
    run(ctx) {
      for (const v of ESPRESSIF_SEC2_VECTORS) {
        const tag = `password ${v.password}`;
        checkEqual(toHex(srpVerifier(ctx.crypto, utf8(v.username), utf8(v.password), fromHex(v.salt))), v.verifier, `${tag}: verifier`);
        const s = server(ctx.crypto, v);
        checkEqual(toHex(s.publicKey).padStart(768, "0"), v.B, `${tag}: B`);
        s.setClientPublicKey(fromHex(v.A));
        checkEqual(toHex(s.sessionKey), v.session_key_K, `${tag}: K`);
        const hamk = s.verifyClientProof(fromHex(v.client_proof_M));
        check(hamk !== undefined, `${tag}: the device refused esp_prov's proof M (H(g) instead of H(PAD(g))?)`);
        checkEqual(toHex(hamk!), v.device_proof_HAMK, `${tag}: H_AMK`);
      }
    },
  },
  {
    name: "Sec2 vectors: the protocomm handshake on prov-session accepts esp_prov's messages and answers its H_AMK",
    run(ctx) {
      for (const v of ESPRESSIF_SEC2_VECTORS) {
        const tag = `password ${v.password}`;
        const srp = { username: utf8(v.username), salt: fromHex(v.salt), verifier: srpVerifier(ctx.crypto, utf8(v.username), utf8(v.password), fromHex(v.salt)) };
        const session = createSecuritySession({ version: 2, patchVersion: 1, srp }, scripted(v.device_secret_b), ctx.crypto);
        const r0 = decode<Sr>(SessionData, session.handshake(encode(SessionData, { sec_ver: 2, sec2: { msg: 0, sc0: { client_username: utf8(v.username), client_pubkey: fromHex(v.A) } } })));
        checkEqual(r0.sec2?.msg, 1, `${tag}: S2SessionResp0`);
        checkEqual(toHex(r0.sec2!.sr0!.device_pubkey).padStart(768, "0"), v.B, `${tag}: B on the wire`);
        checkEqual(toHex(r0.sec2!.sr0!.device_salt), v.salt, `${tag}: salt on the wire`);
        const r1 = decode<Sr>(SessionData, session.handshake(encode(SessionData, { sec_ver: 2, sec2: { msg: 2, sc1: { client_proof: fromHex(v.client_proof_M) } } })));
        checkEqual(toHex(r1.sec2!.sr1!.device_proof), v.device_proof_HAMK, `${tag}: H_AMK on the wire`);
        checkEqual(r1.sec2!.sr1!.device_nonce.length, 12, `${tag}: nonce`);
        check(session.established, `${tag}: session established`);
      }
    },
  },
  {
    name: "Sec2 vectors: a proof for another password (the other vector's M) is refused as wrong-pop",
    run(ctx) {
      const [a, b] = ESPRESSIF_SEC2_VECTORS as [Sec2Vector, Sec2Vector];
      const s = server(ctx.crypto, a);
      s.setClientPublicKey(fromHex(a.A));
      check(s.verifyClientProof(fromHex(b.client_proof_M)) === undefined, "a foreign proof was accepted");
      const flipped = fromHex(a.client_proof_M);
      flipped[63]! ^= 1;
      check(s.verifyClientProof(flipped) === undefined, "a proof with its last bit flipped was accepted");
      const srp = { username: utf8(a.username), salt: fromHex(a.salt), verifier: fromHex(a.verifier) };
      const session = createSecuritySession({ version: 2, srp }, scripted(a.device_secret_b), ctx.crypto);
      session.handshake(encode(SessionData, { sec_ver: 2, sec2: { msg: 0, sc0: { client_username: utf8(a.username), client_pubkey: fromHex(a.A) } } }));
      const e = checkThrows(() => session.handshake(encode(SessionData, { sec_ver: 2, sec2: { msg: 2, sc1: { client_proof: fromHex(b.client_proof_M) } } })), ProtocommError, "wrong proof");
      checkEqual(e.kind, "wrong-pop", "kind");
    },
  },
  {
    name: "Sec2 salt: the device never generates a salt whose first byte is zero (esp_prov drops it)",
    run(ctx) {
      // randomness that starts with a zero byte for the first 300 draws
      let draws = 0;
      const zeroFirst = (into: Uint8Array): void => {
        into.fill(0x11);
        if (draws++ < 300) into[0] = 0;
      };
      const salt = srpSalt(zeroFirst);
      checkEqual(salt.length, 16, "length");
      check(salt[0] !== 0, "salt starts with 00");
      check(draws > 300, "re-drawn until non-zero");
    },
  },
];
