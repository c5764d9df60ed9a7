// The board's way of pinning a hub's key: ServerCertificateTap reads the server's certificate off
// the bytes of a real TLS 1.2 handshake (a Node server, recorded by a TCP relay in between), fed in
// random chunks as the SDK's TLS reads them; the SPKI it yields must hash to what node:crypto says
// the certificate's key is, for RSA and EC certificates and for a chain sent with the leaf.
import assert from "node:assert/strict";
import { createHash, randomInt, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createTcpServer, connect as tcpConnect, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { connect as tlsConnect, createServer as createTlsServer } from "node:tls";
import { generateTestPki, type TestPki } from "../../host-sim/certs/pki.js";
import { CertificateError, ServerCertificateTap, subjectPublicKeyInfo } from "../../src/tls/server-certificate.js";

let dir: string;
let pki: TestPki;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "tls-tap-"));
  pki = generateTestPki(dir);
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** Everything a TLS 1.2 server sends to a client during one connection, as one byte string. */
async function recordServerBytes(cert: string, key: string, tlsVersion: "TLSv1.2" | "TLSv1.3" = "TLSv1.2"): Promise<Buffer> {
  const server = createTlsServer({ cert, key, minVersion: tlsVersion, maxVersion: tlsVersion }, (s) => { s.end("hello"); });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const received: Buffer[] = [];
  const relay = createTcpServer((client) => {
    const upstream = tcpConnect((server.address() as AddressInfo).port, "127.0.0.1");
    client.pipe(upstream);
    upstream.on("data", (d: Buffer) => { received.push(d); client.write(d); });
    upstream.on("end", () => client.end());
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((r) => relay.listen(0, "127.0.0.1", r));
  await new Promise<void>((resolve, reject) => {
    const s = tlsConnect({ port: (relay.address() as AddressInfo).port, host: "127.0.0.1", rejectUnauthorized: false, maxVersion: tlsVersion });
    s.on("data", () => undefined);
    s.on("end", () => resolve());
    s.on("error", reject);
  });
  relay.close();
  server.close();
  return Buffer.concat(received);
}

const spkiHash = (pem: string): string =>
  createHash("sha256").update(new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" })).digest("hex");

function tapInChunks(bytes: Buffer): ServerCertificateTap {
  const tap = new ServerCertificateTap();
  for (let at = 0; at < bytes.length;) {
    const n = Math.min(bytes.length - at, randomInt(1, 400));
    tap.feed(new Uint8Array(bytes.subarray(at, at + n)));
    at += n;
  }
  return tap;
}

for (const keyType of ["rsa", "ec"] as const) {
  test(`a ${keyType.toUpperCase()} server's key, from the handshake bytes in random chunks`, async () => {
    const leaf = keyType === "rsa" ? { certPem: pki.serverCertPem, keyPem: pki.serverKeyPem } : pki.issueServerCert({ keyType: "ec" });
    // The server sends its chain (leaf + CA): the tap must take the leaf.
    const bytes = await recordServerBytes(leaf.certPem + pki.caPem, leaf.keyPem);
    for (let round = 0; round < 20; round++) {
      const tap = tapInChunks(bytes);
      assert.ok(tap.done && tap.leaf, "leaf certificate found");
      const hash = createHash("sha256").update(subjectPublicKeyInfo(tap.leaf!)).digest("hex");
      assert.equal(hash, spkiHash(leaf.certPem));
      assert.notEqual(hash, spkiHash(pki.caPem), "not the CA's key");
    }
  });
}

test("TLS 1.3 hides the certificate: the tap finds nothing (the board only speaks 1.2)", async () => {
  const bytes = await recordServerBytes(pki.serverCertPem, pki.serverKeyPem, "TLSv1.3");
  const tap = tapInChunks(bytes);
  assert.equal(tap.leaf, undefined);
  assert.ok(tap.done, "stops at the first encrypted record");
});

test("garbage, truncations and flipped bytes never throw and never invent a certificate", async () => {
  const bytes = await recordServerBytes(pki.serverCertPem, pki.serverKeyPem);
  const good = spkiHash(pki.serverCertPem);
  for (let i = 0; i < 3000; i++) {
    const mutated = new Uint8Array(bytes.subarray(0, randomInt(0, bytes.length + 1)));
    for (let k = randomInt(0, 4); k > 0 && mutated.length > 0; k--) mutated[randomInt(0, mutated.length)] = randomInt(0, 256);
    const tap = new ServerCertificateTap();
    tap.feed(mutated);
    if (tap.leaf === undefined) continue;
    try {
      createHash("sha256").update(subjectPublicKeyInfo(tap.leaf)).digest("hex");
    } catch (e) {
      assert.ok(e instanceof CertificateError, `typed error, got ${String(e)}`);
    }
  }
  // Unmutated prefix long enough to hold the certificate: found and right.
  const tap = new ServerCertificateTap();
  tap.feed(new Uint8Array(bytes));
  assert.equal(createHash("sha256").update(subjectPublicKeyInfo(tap.leaf!)).digest("hex"), good);
});
