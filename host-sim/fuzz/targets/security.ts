// The device side of protocomm Security 1 (X25519 + AES-CTR + PoP) and Security 2 (SRP-6a +
// AES-GCM) fed arbitrary prov-session bytes in each session state: idle (fresh), after a real
// client's Command0, and established. Input: first byte picks the state, the rest is the request.
// Properties: only ProtocommError escapes; an accepted request answers valid SessionData; a
// rejected one changes nothing (wrong-pop excepted: a failed proof ends the attempt, by design):
// after Command0 the real client's Command1 still completes, and an established session still
// decrypts and encrypts in step with the client.
import { equalBytes, utf8 } from "../../../src/bytes/bytes.js";
import { AesCtrStream, aesGcmDecrypt, aesGcmEncrypt } from "../../../src/crypto/aes.js";
import { SrpClient, srpVerifier } from "../../../src/crypto/srp.js";
import { x25519, x25519KeyPair } from "../../../src/crypto/x25519.js";
import { decode, encode } from "../../../src/protobuf/codec.js";
import { SessionData } from "../../../src/protobuf/messages.js";
import { ProtocommError } from "../../../src/provisioning/errors.js";
import { createSecuritySession, incrementCounter, sec2DefaultUsername, type SecurityConfig, type SecuritySession } from "../../../src/provisioning/security.js";
import { Rand } from "../rand.js";
import { expect, FuzzFailure, type FuzzTarget, type KnownIssue } from "../target.js";
import { nodeCrypto } from "../../io/node-crypto.js";

const POP = utf8("abcd1234");

/** A client half-way through the handshake: `finish` sends its Command1 and checks the answer. */
interface ClientAtCmd0 {
  readonly session: SecuritySession;
  finish(): Established;
}
interface Established {
  readonly session: SecuritySession;
  clientEncrypt(d: Uint8Array): Uint8Array;
  clientDecrypt(d: Uint8Array): Uint8Array;
}

function seededRandom(seed: number): (into: Uint8Array) => void {
  const r = new Rand(seed);
  return (into) => into.set(r.bytes(into.length));
}

function handshake(session: SecuritySession, message: object): Record<string, unknown> {
  return decode<Record<string, unknown>>(SessionData, session.handshake(encode(SessionData, message as never)));
}

// ---- Security 1

const SEC1: SecurityConfig = { version: 1, pop: POP };
const CLIENT1 = x25519KeyPair(seededRandom(1));

function sec1AtCmd0(seed: number): ClientAtCmd0 {
  const session = createSecuritySession(SEC1, seededRandom(seed), nodeCrypto);
  const r0 = handshake(session, { sec_ver: 1, sec1: { msg: 0, sc0: { client_pubkey: CLIENT1.publicKey } } }) as { sec1?: { sr0?: { device_pubkey: Uint8Array; device_random: Uint8Array } } };
  const sr0 = r0.sec1?.sr0;
  if (sr0 === undefined) throw new FuzzFailure("Security 1: no SessionResp0");
  return {
    session,
    finish() {
      const key = x25519(CLIENT1.secretKey, sr0.device_pubkey);
      const h = nodeCrypto.sha256(POP);
      for (let i = 0; i < 32; i++) key[i]! ^= h[i]!;
      const stream = new AesCtrStream(nodeCrypto, key, sr0.device_random);
      const verify = stream.apply(sr0.device_pubkey);
      const r1 = handshake(session, { sec_ver: 1, sec1: { msg: 2, sc1: { client_verify_data: verify } } }) as { sec1?: { sr1?: { device_verify_data: Uint8Array } } };
      const dv = r1.sec1?.sr1?.device_verify_data;
      expect(dv !== undefined && equalBytes(stream.apply(dv), CLIENT1.publicKey), "Security 1: device verify data wrong");
      expect(session.established, "Security 1: not established after Command1");
      return { session, clientEncrypt: (d) => stream.apply(d), clientDecrypt: (d) => stream.apply(d) };
    },
  };
}

// ---- Security 2

const USERNAME = sec2DefaultUsername();
const SALT = new Uint8Array(16).fill(0x5a);
const SEC2: SecurityConfig = { version: 2, srp: { username: USERNAME, salt: SALT, verifier: srpVerifier(nodeCrypto, USERNAME, POP, SALT) }, patchVersion: 1 };

function sec2AtCmd0(seed: number): ClientAtCmd0 {
  const session = createSecuritySession(SEC2, seededRandom(seed), nodeCrypto);
  const client = new SrpClient(nodeCrypto, USERNAME, POP, seededRandom(seed + 1));
  const r0 = handshake(session, { sec_ver: 2, sec2: { msg: 0, sc0: { client_username: USERNAME, client_pubkey: client.publicKey } } }) as { sec2?: { sr0?: { device_pubkey: Uint8Array; device_salt: Uint8Array } } };
  const sr0 = r0.sec2?.sr0;
  if (sr0 === undefined) throw new FuzzFailure("Security 2: no SessionResp0");
  return {
    session,
    finish() {
      const proof = client.processChallenge(sr0.device_salt, sr0.device_pubkey);
      const r1 = handshake(session, { sec_ver: 2, sec2: { msg: 2, sc1: { client_proof: proof } } }) as { sec2?: { sr1?: { device_proof: Uint8Array; device_nonce: Uint8Array } } };
      const sr1 = r1.sec2?.sr1;
      expect(sr1 !== undefined && client.verifyServerProof(sr1.device_proof), "Security 2: device proof wrong");
      expect(session.established, "Security 2: not established after Command1");
      const key = client.sessionKey.subarray(0, 32);
      const nonce = sr1.device_nonce.slice();
      const step = () => { const used = nonce.slice(); incrementCounter(nonce); return used; };
      return { session, clientEncrypt: (d) => aesGcmEncrypt(nodeCrypto, key, step(), d), clientDecrypt: (d) => aesGcmDecrypt(nodeCrypto, key, step(), d) };
    },
  };
}

function messageName(request: Uint8Array, key: "sec1" | "sec2"): string {
  try {
    const msg = decode<Record<string, { msg: number } | undefined>>(SessionData, request)[key]?.msg;
    return msg === 0 ? "Command0" : msg === 2 ? "Command1" : "message";
  } catch {
    return "malformed message";
  }
}

/** The established session still talks with its client, both ways. */
function checkInStep(e: Established, what: string): void {
  const probe = utf8(`probe ${what}`);
  let ok = false;
  try {
    ok = equalBytes(e.session.decrypt(e.clientEncrypt(probe)), probe) && equalBytes(e.clientDecrypt(e.session.encrypt(probe)), probe);
  } catch {
    ok = false;
  }
  expect(ok, `${what} broke the established session`);
}

function securityTarget(version: 1 | 2, atCmd0: (seed: number) => ClientAtCmd0, shortInputs: number, knownIssues: readonly KnownIssue[]): FuzzTarget {
  const config = version === 1 ? SEC1 : SEC2;
  const key = version === 1 ? "sec1" : "sec2";
  let pooled: Established | undefined; // reused while inputs leave it unchanged (building one costs ms)
  let seed = 100;
  const sample = (r: Rand): Uint8Array => {
    const msg = r.pick([0, 2, 1, 3, 5]);
    const body = msg === 0
      ? { msg, sc0: { ...(version === 2 ? { client_username: r.bool(0.8) ? USERNAME : r.bytes(r.int(0, 12)) } : {}), client_pubkey: r.bytes(r.pick(version === 1 ? [32, 31, 0] : [384, 383, 32])) } }
      : msg === 2
        ? { msg, sc1: version === 1 ? { client_verify_data: r.bytes(r.pick([32, 16, 0])) } : { client_proof: r.bytes(r.pick([64, 32, 0])) } }
        : { msg };
    return Uint8Array.from([r.int(0, 255), ...encode(SessionData, { sec_ver: r.bool(0.9) ? version : r.int(0, 3), [key]: body })]);
  };
  return {
    name: `security${version}`,
    maxLength: 1024,
    shortInputs,
    seeds: (r) => Array.from({ length: 40 }, () => sample(r)),
    generators: [sample],
    knownIssues,
    run(input) {
      if (input.length === 0) return;
      const state = input[0]! % 4;
      const request = input.subarray(1);
      const what = `Security ${version}, ${["idle", "after Command0", "established", "established"][state]}`;
      let session: SecuritySession;
      let atCmd0: ClientAtCmd0 | undefined;
      let established: Established | undefined;
      if (state === 0) session = createSecuritySession(config, seededRandom(seed++), nodeCrypto);
      else if (state === 1) session = (atCmd0 = atCmd0Of(seed++)).session;
      else session = (established = pooled ??= atCmd0Of(seed++).finish()).session;
      let response: Uint8Array;
      try {
        response = session.handshake(request);
      } catch (e) {
        if (!(e instanceof ProtocommError)) throw e;
        if (e.kind === "wrong-pop") { pooled = undefined; return; }
        const rejected = `rejected ${messageName(request, key)} (${e.kind})`;
        if (state === 0) expect(!session.established, `${what}: established by a rejected message`);
        if (atCmd0) {
          try {
            atCmd0.finish();
          } catch (e2) {
            throw new FuzzFailure(`${what}: after a ${rejected} the client's Command1 fails: ${e2 instanceof Error ? e2.message : String(e2)}`);
          }
        }
        if (established) {
          try {
            checkInStep(established, `${what}: a ${rejected}`);
          } finally {
            pooled = undefined; // a broken one is not reused; a good one was advanced in step
            if (session.established) pooled = established;
          }
        }
        return;
      }
      if (established) pooled = undefined; // accepted: a new Command0 restarted the session
      const m = decode<Record<string, Record<string, unknown> | undefined>>(SessionData, response);
      expect(m[key] !== undefined, `${what}: accepted and answered something other than ${key}`);
    },
  };
  function atCmd0Of(s: number): ClientAtCmd0 {
    return atCmd0(s);
  }
}

/** Issues this fuzzer found in src/provisioning/security.ts; fixed (their inputs stay as regressions). */
export const SECURITY_KNOWN_ISSUES: readonly KnownIssue[] = [];

export const security1Target = securityTarget(1, sec1AtCmd0, 3000, SECURITY_KNOWN_ISSUES);
export const security2Target = securityTarget(2, sec2AtCmd0, 500, SECURITY_KNOWN_ISSUES);
