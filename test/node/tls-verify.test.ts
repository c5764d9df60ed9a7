// The firmware's TLS verifier against real handshakes: Node's TLS server and client (OpenSSL)
// run a TLS 1.2 handshake through a tap, and the bytes are fed to the core's observer in every
// chunking. Oracles: OpenSSL's keylog line (the client random), the certificates Node's server was
// given (DER), node:crypto's verification of the ServerKeyExchange signature, and OpenSSL's own
// verdict on the same chain (tls.connect with rejectUnauthorized) for each refusal.
import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes, randomInt, sign, X509Certificate } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect as tlsConnect, createServer as createTlsServer, type TlsOptions as NodeTlsOptions } from "node:tls";
import { daysFromNow, generateTestPki, type TestPki } from "../../host-sim/certs/pki.js";
import { nodeSignatureVerifier } from "../../host-sim/io/signatures.js";
import { TappedTransport } from "../../host-sim/io/tls-tap.js";
import { boardConnectionOptions } from "../../host-sim/io/tls-profile.js";
import { jsCrypto } from "../../src/crypto/js-provider.js";
import type { SignatureVerifier } from "../../src/crypto/signature.js";
import { HandshakeObserver, TlsObserverError, type Direction } from "../../src/tls/observer.js";
import { parseCertificatesPem } from "../../src/tls/pem.js";
import { dnsMatches, TlsVerificationError, verifyHandshake, type VerifyOptions } from "../../src/tls/verify.js";
import { parseCertificate } from "../../src/tls/x509.js";

let dir: string;
let pki: TestPki;
let ecPki: TestPki;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "tls-verify-"));
  pki = generateTestPki(join(dir, "rsa"));
  ecPki = generateTestPki(join(dir, "ec"), { keyType: "ec" });
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface Recording {
  readonly flights: { direction: Direction; bytes: Uint8Array }[];
  readonly clientRandom: string;
  readonly serverCerts: Uint8Array[];
}

const der = (pem: string): Uint8Array[] =>
  [...pem.matchAll(/-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/g)].map((m) => new Uint8Array(Buffer.from(m[1]!.replace(/\s/g, ""), "base64")));

/** One real TLS 1.2 handshake, both directions in the order they crossed the transport. */
async function record(cert: string, key: string, server: Partial<NodeTlsOptions> = {}, client: object = boardConnectionOptions()): Promise<Recording> {
  const flights: Recording["flights"] = [];
  let clientRandom = "";
  const tls = createTlsServer({ cert, key, ...server }, (s) => { s.end("hello"); });
  tls.on("keylog", (line: Buffer) => {
    const [label, random] = line.toString().split(" ");
    if (label === "CLIENT_RANDOM") clientRandom = random!;
  });
  await new Promise<void>((r) => tls.listen(0, "127.0.0.1", r));
  const port = (tls.address() as { port: number }).port;
  await new Promise<void>((resolve, reject) => {
    const transport = new TappedTransport("127.0.0.1", port, (direction, bytes) => flights.push({ direction, bytes: bytes.slice() }));
    const s = tlsConnect({ socket: transport, rejectUnauthorized: false, servername: "localhost", ...client });
    s.on("data", () => undefined);
    s.on("end", () => resolve());
    s.on("error", reject);
  });
  tls.close();
  return { flights, clientRandom, serverCerts: der(cert) };
}

/** Feeds a recording in random chunk sizes (1 byte … whole flights), per direction, interleaved as recorded. */
function observe(rec: Recording, maxChunk: number): HandshakeObserver {
  const observer = new HandshakeObserver();
  for (const { direction, bytes } of rec.flights) {
    for (let at = 0; at < bytes.length;) {
      const n = Math.min(bytes.length - at, randomInt(1, maxChunk + 1));
      observer.feed(direction, bytes.subarray(at, at + n));
      at += n;
    }
  }
  return observer;
}

/** The whole recording coalesced into one chunk per direction: client bytes first, then the server's. */
function observeCoalesced(rec: Recording): HandshakeObserver {
  const observer = new HandshakeObserver();
  const joined = (d: Direction) => Buffer.concat(rec.flights.filter((f) => f.direction === d).map((f) => f.bytes));
  observer.feed("client", new Uint8Array(joined("client")));
  observer.feed("server", new Uint8Array(joined("server")));
  return observer;
}

const options = (ca: string, extra: Partial<VerifyOptions> = {}): VerifyOptions => ({
  anchors: parseCertificatesPem(ca), serverName: "localhost", now: Date.now(), signatures: nodeSignatureVerifier, mode: "chain", ...extra,
});

function refusal(observer: HandshakeObserver, opts: VerifyOptions): string {
  try {
    verifyHandshake(observer, opts);
  } catch (e) {
    assert.ok(e instanceof TlsVerificationError, String(e));
    return e.code;
  }
  return "accepted";
}

/** OpenSSL's own verdict on the same server, for the refusals both must agree on. */
async function opensslAccepts(cert: string, key: string, ca: string, servername = "localhost"): Promise<boolean> {
  const tls = createTlsServer({ cert, key }, (s) => s.end());
  await new Promise<void>((r) => tls.listen(0, "127.0.0.1", r));
  const port = (tls.address() as { port: number }).port;
  const ok = await new Promise<boolean>((resolve) => {
    const s = tlsConnect({ host: "127.0.0.1", port, ca, servername, ...boardConnectionOptions() });
    s.once("secureConnect", () => { s.destroy(); resolve(true); });
    s.once("error", () => resolve(false));
  });
  tls.close();
  return ok;
}

describe("observer", () => {
  for (const kind of ["rsa", "ec"] as const) {
    test(`${kind} server: randoms, suite, chain and signed key exchange, in any chunking`, async () => {
      const p = kind === "rsa" ? pki : ecPki;
      const rec = await record(p.serverCertPem, p.serverKeyPem);
      for (const observer of [observeCoalesced(rec), observe(rec, 1), observe(rec, 7), observe(rec, 300), observe(rec, 5000)]) {
        assert.equal(observer.error, undefined);
        assert.equal(Buffer.from(observer.clientHello!.random).toString("hex").toUpperCase(), rec.clientRandom.toUpperCase(), "client random = OpenSSL's keylog");
        assert.deepEqual(observer.certificates!.map((c) => Buffer.from(c).toString("hex")), rec.serverCerts.map((c) => Buffer.from(c).toString("hex")));
        assert.equal(observer.serverHello!.cipherSuite, kind === "rsa" ? 0xc02f : 0xc02b); // IANA: ECDHE_{RSA,ECDSA}_WITH_AES_128_GCM_SHA256
        const ske = observer.serverKeyExchange!;
        assert.equal(ske.namedCurve, 23); // secp256r1
        assert.equal(ske.point!.length, 65);
        assert.equal(ske.hash, 4);
        assert.equal(ske.signatureAlgorithm, kind === "rsa" ? 1 : 3);
        assert.ok(observer.changeCipherSpec && observer.serverHelloDone);
        // node:crypto checks the signature over client random ‖ server random ‖ params: the randoms and params are the signed ones
        const leaf = new X509Certificate(p.serverCertPem);
        const signed = Buffer.concat([observer.clientHello!.random, observer.serverHello!.random, ske.params]);
        const { verify } = await import("node:crypto");
        assert.ok(verify("sha256", signed, leaf.publicKey, ske.signature));
        for (const signatures of [nodeSignatureVerifier, jsCrypto]) {
          const verdict = verifyHandshake(observer, options(p.caPem, { signatures }));
          assert.equal(verdict.verified, true);
        }
      }
    });
  }

  test("a TLS 1.3 handshake is refused as unsupported-version (its certificate is encrypted)", async () => {
    const rec = await record(pki.serverCertPem, pki.serverKeyPem, {}, { minVersion: "TLSv1.3" });
    assert.equal(refusal(observe(rec, 100), options(pki.caPem)), "unsupported-version");
  });

  test("RSA key transport (no ServerKeyExchange) is accepted with an RSA leaf", async () => {
    const rec = await record(pki.serverCertPem, pki.serverKeyPem, { ciphers: "AES128-SHA256" }, { ...boardConnectionOptions(), ciphers: "AES128-SHA256" });
    const observer = observe(rec, 50);
    assert.equal(observer.serverKeyExchange, undefined);
    assert.equal(verifyHandshake(observer, options(pki.caPem)).cipherSuite, 0x003c);
  });

  test("every truncation and every single-byte corruption ends in a typed error or a refusal, never a crash", async () => {
    const rec = await record(ecPki.serverCertPem, ecPki.serverKeyPem);
    const server = Buffer.concat(rec.flights.filter((f) => f.direction === "server").map((f) => f.bytes));
    const client = Buffer.concat(rec.flights.filter((f) => f.direction === "client").map((f) => f.bytes));
    let refused = 0;
    for (let i = 0; i < server.length; i += 3) {
      const bad = Buffer.from(server);
      bad[i] = bad[i]! ^ (1 << randomInt(8));
      const observer = new HandshakeObserver();
      try {
        observer.feed("client", client);
        observer.feed("server", bad);
      } catch (e) {
        assert.ok(e instanceof TlsObserverError);
      }
      const verdict = refusal(observer, options(ecPki.caPem));
      if (verdict !== "accepted") refused++;
    }
    assert.ok(refused > 0);
    const ccs = server.indexOf(Buffer.from([20, 3, 3, 0, 1, 1])); // the server's ChangeCipherSpec record: encrypted after it
    assert.ok(ccs > 0);
    for (let n = 0; n < ccs + 6; n += 11) {
      const observer = new HandshakeObserver();
      observer.feed("client", client);
      try { observer.feed("server", server.subarray(0, n)); } catch (e) { assert.ok(e instanceof TlsObserverError); }
      assert.notEqual(refusal(observer, options(ecPki.caPem)), "accepted", `truncated at ${n}`);
    }
  });
});

describe("verifier refusals agree with OpenSSL", () => {
  const cases: { name: string; reason: string; make: () => { cert: string; key: string; ca: string; servername?: string; now?: number } }[] = [
    { name: "chain to another CA", reason: "untrusted-chain", make: () => ({ ...issued(pki.issueServerCert({ issuer: "wrongCa" })), ca: pki.caPem }) },
    { name: "wrong host", reason: "host-mismatch", make: () => ({ ...issued(pki.issueServerCert({ names: ["other.example"] })), ca: pki.caPem }) },
    { name: "expired", reason: "expired", make: () => ({ ...issued(pki.issueServerCert({ notBefore: daysFromNow(-30), notAfter: daysFromNow(-1) })), ca: pki.caPem }) },
    { name: "not yet valid", reason: "not-yet-valid", make: () => ({ ...issued(pki.issueServerCert({ notBefore: daysFromNow(2), notAfter: daysFromNow(30) })), ca: pki.caPem }) },
    { name: "wildcard matches one label", reason: "accepted", make: () => ({ ...issued(pki.issueServerCert({ names: ["*.example.test"] })), ca: pki.caPem, servername: "broker.example.test" }) },
    { name: "wildcard does not match two labels", reason: "host-mismatch", make: () => ({ ...issued(pki.issueServerCert({ names: ["*.example.test"] })), ca: pki.caPem, servername: "a.broker.example.test" }) },
  ];
  for (const c of cases) {
    test(`${c.name} → ${c.reason}`, async () => {
      const { cert, key, ca, servername = "localhost" } = c.make();
      const rec = await record(cert, key, {}, { ...boardConnectionOptions(), servername });
      for (const signatures of [nodeSignatureVerifier, jsCrypto]) {
        assert.equal(refusal(observe(rec, 200), options(ca, { serverName: servername, signatures })), c.reason);
      }
      assert.equal(await opensslAccepts(cert, key, ca, servername), c.reason === "accepted", "OpenSSL's verdict");
    });
  }

  test("a leaf used as an issuer (basicConstraints CA:FALSE) → not-a-ca", async () => {
    // The classic basicConstraints attack: a real, CA-signed server certificate signs a leaf for
    // another name, and the chain [evil leaf, real leaf, intermediate] is presented.
    const d = join(dir, "leaf-as-ca");
    mkdirSync(d, { recursive: true });
    const real = pki.issueServerCert({ names: ["localhost"] });
    writeFileSync(join(d, "ext.cnf"), "[e]\nbasicConstraints=CA:FALSE\nsubjectAltName=DNS:victim.example\n");
    execFileSync("openssl", ["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "evil.key", "-out", "evil.csr", "-subj", "/CN=victim.example"], { cwd: d, stdio: "ignore" });
    const realLeaf = real.certPem.slice(0, real.certPem.indexOf("-----END CERTIFICATE-----") + 26);
    writeFileSync(join(d, "real.pem"), realLeaf);
    writeFileSync(join(d, "real.key"), real.keyPem);
    execFileSync("openssl", ["x509", "-req", "-in", "evil.csr", "-CA", "real.pem", "-CAkey", "real.key", "-CAcreateserial", "-out", "evil.pem", "-days", "5", "-extfile", "ext.cnf", "-extensions", "e"], { cwd: d, stdio: "ignore" });
    const evil = readFileSync(join(d, "evil.pem"), "utf8");
    const cert = evil + realLeaf + pki.intermediatePem;
    const key = readFileSync(join(d, "evil.key"), "utf8");
    const rec = await record(cert, key, {}, { ...boardConnectionOptions(), servername: "victim.example" });
    for (const signatures of [nodeSignatureVerifier, jsCrypto]) {
      assert.equal(refusal(observe(rec, 200), options(pki.caPem, { serverName: "victim.example", signatures })), "not-a-ca");
    }
    assert.equal(await opensslAccepts(cert, key, pki.caPem, "victim.example"), false, "OpenSSL refuses it too");
  });

  test("IPv4 literal matches an iPAddress SAN only", () => {
    const leaf = parseCertificatesPem(pki.serverCertPem)[0]!;
    assert.ok(leaf.ipAddresses.some((ip) => ip.join(".") === "127.0.0.1"));
    assert.ok(!leaf.dnsNames.includes("127.0.0.1"));
  });

  test("dNSName patterns (RFC 6125 §6.4.3)", () => {
    assert.ok(dnsMatches("*.example.com", "a.example.com"));
    assert.ok(!dnsMatches("*.example.com", "example.com"));
    assert.ok(!dnsMatches("*.example.com", "a.b.example.com"));
    assert.ok(!dnsMatches("*.com", "example.com"));
    assert.ok(!dnsMatches("a*.example.com", "ab.example.com"));
    assert.ok(dnsMatches("localhost", "localhost"));
  });
});

describe("signature primitives: our JavaScript against node:crypto", () => {
  const keys = [
    { name: "RSA 2048", pair: generateKeyPairSync("rsa", { modulusLength: 2048 }) },
    { name: "RSA 3072 e=3", pair: generateKeyPairSync("rsa", { modulusLength: 3072, publicExponent: 3 }) },
    { name: "P-256", pair: generateKeyPairSync("ec", { namedCurve: "P-256" }) },
    { name: "P-384", pair: generateKeyPairSync("ec", { namedCurve: "P-384" }) },
  ];
  for (const { name, pair } of keys) {
    test(`${name}: valid signatures verify, every mutation agrees with node:crypto`, () => {
      const spki = new Uint8Array(pair.publicKey.export({ type: "spki", format: "der" }));
      const key = spkiKey(spki);
      for (const hash of ["SHA-256", "SHA-384", "SHA-512"] as const) {
        for (let i = 0; i < 4; i++) {
          const message = randomBytes(randomInt(0, 200));
          const signature = new Uint8Array(sign(hash.replace("-", "").toLowerCase(), message, pair.privateKey));
          assert.ok(check(jsCrypto, key, hash, message, signature), "valid");
          const mutated = signature.slice();
          mutated[randomInt(mutated.length)]! ^= 1 << randomInt(8);
          const other = Uint8Array.from(message);
          if (other.length) other[0]! ^= 1;
          for (const [m, s] of [[message, mutated], [other, signature], [message, signature.subarray(0, signature.length - 1)]] as const) {
            assert.equal(check(jsCrypto, key, hash, m, s), check(nodeSignatureVerifier, key, hash, m, s));
          }
        }
      }
    });
  }

  test("ECDSA: r or s out of range and BER forms are refused (Wycheproof's classes of bad encodings)", () => {
    const pair = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const key = spkiKey(new Uint8Array(pair.publicKey.export({ type: "spki", format: "der" })));
    const message = randomBytes(32);
    const good = new Uint8Array(sign("sha256", message, pair.privateKey));
    assert.ok(check(jsCrypto, key, "SHA-256", message, good));
    const n = Buffer.from("00ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", "hex");
    const seq = (...parts: Buffer[]) => Buffer.concat([Buffer.from([0x30, parts.reduce((a, p) => a + p.length, 0)]), ...parts]);
    const int = (b: Buffer) => Buffer.concat([Buffer.from([0x02, b.length]), b]);
    const bad = [
      seq(int(Buffer.from([0])), int(Buffer.from([1]))), // r = 0
      seq(int(n), int(Buffer.from([1]))), // r = n
      seq(int(Buffer.from([1])), int(Buffer.from([0xff]))), // negative s
      Buffer.concat([Buffer.from([0x30, 0x81]), Buffer.from([good[1]!]), good.subarray(2)]), // long-form length
      Buffer.concat([good, Buffer.from([0])]), // trailing byte
    ];
    for (const sig of bad) {
      assert.equal(check(jsCrypto, key, "SHA-256", message, new Uint8Array(sig)), false, sig.toString("hex"));
      assert.equal(check(nodeSignatureVerifier, key, "SHA-256", message, new Uint8Array(sig)), false, sig.toString("hex"));
    }
  });
});

function issued(c: { certPem: string; keyPem: string }): { cert: string; key: string } {
  return { cert: c.certPem, key: c.keyPem };
}

function spkiKey(spki: Uint8Array) {
  // the verifier's keys come from certificates: read this one through the same parser
  return parseCertificate(certificateWith(spki)).publicKey!;
}

function check(v: SignatureVerifier, key: ReturnType<typeof spkiKey>, hash: "SHA-256" | "SHA-384" | "SHA-512", m: Uint8Array, s: Uint8Array): boolean {
  return key.kind === "rsa" ? v.verifyRsaPkcs1v15(key, hash, m, s) : v.verifyEcdsa(key, hash, m, s);
}

/** A minimal unsigned X.509 structure around an SPKI, so the parser's key reading is what the tests use. */
function certificateWith(spki: Uint8Array): Uint8Array {
  const tlv = (tag: number, body: Uint8Array): Uint8Array => {
    const len = body.length < 0x80 ? [body.length] : body.length < 0x100 ? [0x81, body.length] : [0x82, body.length >> 8, body.length & 0xff];
    return new Uint8Array([tag, ...len, ...body]);
  };
  const cat = (...p: Uint8Array[]) => new Uint8Array(Buffer.concat(p));
  const algorithm = tlv(0x30, cat(tlv(0x06, new Uint8Array([0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b])), new Uint8Array([5, 0])));
  const name = tlv(0x30, new Uint8Array(0));
  const time = tlv(0x17, new Uint8Array(Buffer.from("250101000000Z")));
  const tbs = tlv(0x30, cat(tlv(0x02, new Uint8Array([1])), algorithm, name, tlv(0x30, cat(time, time)), name, spki));
  return tlv(0x30, cat(tbs, algorithm, tlv(0x03, new Uint8Array([0, 0]))));
}
