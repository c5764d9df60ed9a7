// The TLS 1.2 handshake observer and the firmware's verifier, fed a man in the middle's bytes.
// Input: byte 0 seeds the chunking, bytes 1–2 the length of the client's part, then the client's
// bytes and the server's. Seeds are the real handshakes of test/scenarios/tls-recordings.ts.
// Properties: only TlsObserverError escapes the observer and only TlsVerificationError the
// verifier; the verdict is the same whether the bytes arrive whole or in seeded chunks; an
// accepted handshake carries exactly a recorded chain (no mutation of a certificate, a random or
// the key exchange gets past the signatures), and node:crypto agrees that its key exchange is
// signed by its leaf.
import { createHash, createPublicKey, verify } from "node:crypto";
import type { SignatureVerifier } from "../../../src/crypto/signature.js";
import { fromHex, toHex } from "../../../src/bytes/bytes.js";
import { HandshakeObserver, TlsObserverError, type Direction } from "../../../src/tls/observer.js";
import { parseCertificatesPem } from "../../../src/tls/pem.js";
import { TlsVerificationError, verifyHandshake, type VerifyOptions } from "../../../src/tls/verify.js";
import { nodeCrypto } from "../../io/node-crypto.js";
import { RECORDED_AT, RECORDED_HANDSHAKES } from "../../../test/scenarios/tls-recordings.js";
import { Rand } from "../rand.js";
import { expect, FuzzFailure, type FuzzTarget } from "../target.js";

let options: VerifyOptions | undefined;

// Most inputs leave the certificates alone: node:crypto's answers are remembered per (key, hash,
// message, signature) so a run spends its time in the observer and verifier, not in OpenSSL.
const remembered = new Map<string, boolean>();
function memo(kind: string, spki: Uint8Array, hash: string, message: Uint8Array, signature: Uint8Array, check: () => boolean): boolean {
  const key = createHash("sha256").update(kind).update(spki).update(hash).update(message).update(signature).digest("base64");
  let answer = remembered.get(key);
  if (answer === undefined) {
    answer = check();
    if (remembered.size > 10_000) remembered.clear();
    remembered.set(key, answer);
  }
  return answer;
}
const memoized: SignatureVerifier = {
  verifyRsaPkcs1v15: (key, hash, message, signature) => memo("rsa", key.spki, hash, message, signature, () => nodeCrypto.verifyRsaPkcs1v15(key, hash, message, signature)),
  verifyEcdsa: (key, hash, message, signature) => memo("ec", key.spki, hash, message, signature, () => nodeCrypto.verifyEcdsa(key, hash, message, signature)),
};
let recordedChains: Set<string> | undefined;

function verifyOptions(): VerifyOptions {
  options ??= {
    anchors: RECORDED_HANDSHAKES.flatMap((r) => parseCertificatesPem(r.ca)),
    serverName: "localhost",
    now: RECORDED_AT,
    signatures: memoized,
    mode: "chain",
  };
  return options;
}

function chains(): Set<string> {
  if (!recordedChains) {
    recordedChains = new Set();
    for (const rec of RECORDED_HANDSHAKES) {
      const o = new HandshakeObserver();
      for (const f of rec.flights) o.feed(f.d, fromHex(f.hex));
      recordedChains.add(o.certificates!.map(toHex).join("/"));
    }
  }
  return recordedChains;
}

function seedOf(client: Uint8Array, server: Uint8Array, chunkSeed: number): Uint8Array {
  const out = new Uint8Array(3 + client.length + server.length);
  out[0] = chunkSeed;
  out[1] = client.length >> 8;
  out[2] = client.length & 0xff;
  out.set(client, 3);
  out.set(server, 3 + client.length);
  return out;
}

function recorded(direction: Direction, index: number): Uint8Array {
  const rec = RECORDED_HANDSHAKES[index % RECORDED_HANDSHAKES.length]!;
  const parts = rec.flights.filter((f) => f.d === direction).map((f) => fromHex(f.hex));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/** Client bytes first, then the server's, in chunks: the observer's state and the verdict. */
function observe(client: Uint8Array, server: Uint8Array, r: Rand | undefined): { observer: HandshakeObserver; verdict: string } {
  const observer = new HandshakeObserver();
  for (const [direction, bytes] of [["client", client], ["server", server]] as const) {
    for (let at = 0; at < bytes.length; ) {
      const n = r ? r.int(1, 300) : bytes.length;
      try {
        observer.feed(direction, bytes.subarray(at, at + n));
      } catch (e) {
        if (!(e instanceof TlsObserverError)) throw e;
      }
      at += n;
    }
  }
  let verdict: string;
  try {
    verifyHandshake(observer, verifyOptions());
    verdict = "accepted";
  } catch (e) {
    if (!(e instanceof TlsVerificationError)) throw e;
    verdict = e.code;
  }
  return { observer, verdict };
}

export const tlsHandshakeTarget: FuzzTarget = {
  name: "tls-handshake",
  maxLength: 8000,
  shortInputs: 2000,
  seeds: (r) => RECORDED_HANDSHAKES.map((_, i) => seedOf(recorded("client", i), recorded("server", i), r.int(0, 255))),
  generators: [
    // a recorded client with the other recording's server (a chain the anchors trust, randoms that do not match its signature)
    (r) => seedOf(recorded("client", 0), recorded("server", 1), r.int(0, 255)),
    // the server's flight cut short or extended with noise
    (r) => {
      const server = recorded("server", r.int(0, 1));
      const cut = server.subarray(0, r.int(0, server.length));
      return seedOf(recorded("client", r.int(0, 1)), Uint8Array.from([...cut, ...r.bytes(r.int(0, 40))]), r.int(0, 255));
    },
  ],
  run(input) {
    if (input.length < 3) return;
    const clientLength = (input[1]! << 8) | input[2]!;
    const client = input.subarray(3, 3 + clientLength);
    const server = input.subarray(3 + clientLength);
    const whole = observe(client, server, undefined);
    const split = observe(client, server, new Rand(input[0]!));
    expect(split.verdict === whole.verdict, `chunking changed the verdict: whole ${whole.verdict}, split ${split.verdict}`);
    if (whole.verdict !== "accepted") return;
    const o = whole.observer;
    const chain = o.certificates!.map(toHex).join("/");
    expect(chains().has(chain), "an accepted handshake carries a chain that was never recorded");
    const ske = o.serverKeyExchange;
    if (!ske) throw new FuzzFailure("accepted an ECDHE handshake without a key exchange");
    const leaf = parseCertificatesPem(`-----BEGIN CERTIFICATE-----\n${Buffer.from(o.certificates![0]!).toString("base64")}\n-----END CERTIFICATE-----\n`)[0]!;
    const key = createPublicKey({ key: Buffer.from(leaf.spki), format: "der", type: "spki" });
    const signed = Buffer.concat([o.clientHello!.random, o.serverHello!.random, ske.params]);
    const hash = ske.hash === 4 ? "sha256" : ske.hash === 5 ? "sha384" : "sha512";
    expect(verify(hash, signed, key, ske.signature), "node:crypto does not verify the key exchange the verifier accepted");
  },
};
