// A man in the middle on the device's network, for the attack tests (issue #13): each attacker
// listens where the device expects its broker or cloud and presents what a real attacker could —
// a forged leaf with the real CA's certificate, the real server's public chain with its own
// unsigned ECDHE key, certificates for another host, out of their dates or from another CA, or
// garbage handshake records. Every byte the device sends is recorded, so a test can assert that
// no application data (no MQTT CONNECT, no password, no HTTP request) ever reached the attacker.
import { createECDH, randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { createServer as createTcpServer, connect as tcpConnect, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import { CertificateAuthority, daysFromNow } from "../certs/ca.js";
import type { TestPki } from "../certs/pki.js";

export type AttackKind =
  | "forged-leaf"
  | "unsigned-key-exchange"
  | "wrong-host"
  | "expired"
  | "not-yet-valid"
  | "other-ca"
  | "garbled";

export const ATTACKS: readonly AttackKind[] = ["forged-leaf", "unsigned-key-exchange", "wrong-host", "expired", "not-yet-valid", "other-ca", "garbled"];

/** The reason the firmware's verifier must give for each attack. */
export const EXPECTED_REASON: Readonly<Record<AttackKind, string>> = {
  "forged-leaf": "untrusted-chain",
  "unsigned-key-exchange": "unsigned-key-exchange",
  "wrong-host": "host-mismatch",
  "expired": "expired",
  "not-yet-valid": "not-yet-valid",
  "other-ca": "untrusted-chain",
  "garbled": "malformed-handshake",
};

export interface AttackerReport {
  readonly connections: number;
  /** Bytes of TLS application_data records (type 23) the device sent. */
  readonly applicationBytes: number;
  /** Plaintext the attacker's TLS server decrypted from the device (Node-TLS attackers only). */
  readonly plaintextBytes: number;
  /** Every byte the device sent, raw. */
  readonly received: Buffer;
}

export interface TlsAttacker {
  readonly kind: AttackKind;
  readonly host: string;
  readonly port: number;
  report(): AttackerReport;
  close(): Promise<void>;
}

/** Starts one attacker. `dir` receives the forged certificates. */
export async function startTlsAttacker(kind: AttackKind, pki: TestPki, dir: string): Promise<TlsAttacker> {
  const recorder = new Recorder();
  let plaintext = 0;
  const servers: Server[] = [];
  let port: number;
  if (kind === "unsigned-key-exchange" || kind === "garbled") {
    const server = createTcpServer((device) => {
      recorder.connection();
      device.on("error", () => undefined);
      if (kind === "garbled") garbledServer(device, recorder);
      else unsignedKeyExchangeServer(device, recorder, pki);
    });
    port = await listen(server);
    servers.push(server);
  } else {
    const { cert, key } = credentials(kind, pki, dir);
    const tls = createTlsServer({ cert, key, minVersion: "TLSv1.2" }, (s) => {
      s.on("data", (d: Buffer) => { plaintext += d.length; });
      s.on("error", () => undefined);
    });
    tls.on("tlsClientError", () => undefined);
    const tlsPort = await listen(tls);
    // a recording TCP front: the device's raw bytes, before the attacker's TLS decrypts them
    const front = createTcpServer((device) => {
      recorder.connection();
      const upstream = tcpConnect(tlsPort, "127.0.0.1");
      device.on("data", (d: Buffer) => { recorder.up(d); upstream.write(d); });
      upstream.on("data", (d: Buffer) => device.write(d));
      device.on("end", () => upstream.end());
      upstream.on("end", () => device.end());
      device.on("error", () => upstream.destroy());
      upstream.on("error", () => device.destroy());
      device.on("close", () => upstream.destroy());
      upstream.on("close", () => device.destroy());
    });
    port = await listen(front);
    servers.push(front, tls);
  }
  return {
    kind,
    host: "127.0.0.1",
    port,
    report: () => ({ ...recorder.report(), plaintextBytes: plaintext }),
    close: async () => {
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => {
        (s as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
        s.close(() => resolve());
      })));
    },
  };
}

function credentials(kind: AttackKind, pki: TestPki, dir: string): { cert: string; key: string } {
  const names = ["localhost", "127.0.0.1"];
  switch (kind) {
    case "forged-leaf": {
      // A CA of the attacker's own under the real intermediate's name: its leaf names the real
      // issuer, and the real (public) intermediate and root follow it in the chain.
      const fake = CertificateAuthority.create(join(dir, `fake-ca-${randomBytes(4).toString("hex")}`), {
        commonName: "Onboarding Test Intermediate CA", keyType: "rsa", notBefore: daysFromNow(-2), notAfter: daysFromNow(365),
      });
      mkdirSync(dir, { recursive: true });
      const leaf = fake.issue(dir, { basename: `forged-${randomBytes(4).toString("hex")}`, commonName: "localhost", profile: "server", altNames: names, keyType: "rsa", notBefore: daysFromNow(-1), notAfter: daysFromNow(30) });
      return { cert: leaf.certPem + pki.intermediatePem + pki.caPem, key: leaf.keyPem };
    }
    case "wrong-host": {
      const c = pki.issueServerCert({ names: ["attacker.example"] });
      return { cert: c.certPem, key: c.keyPem };
    }
    case "expired": {
      const c = pki.issueServerCert({ notBefore: daysFromNow(-30), notAfter: daysFromNow(-1) });
      return { cert: c.certPem, key: c.keyPem };
    }
    case "not-yet-valid": {
      const c = pki.issueServerCert({ notBefore: daysFromNow(2), notAfter: daysFromNow(30) });
      return { cert: c.certPem, key: c.keyPem };
    }
    case "other-ca": {
      const c = pki.issueServerCert({ issuer: "wrongCa" });
      return { cert: c.certPem, key: c.keyPem };
    }
    default:
      throw new Error(`no certificate for ${kind}`);
  }
}

/** Counts what the device sent, record by record. */
class Recorder {
  #connections = 0;
  #application = 0;
  readonly #raw: Buffer[] = [];
  #pending = Buffer.alloc(0);

  connection(): void {
    this.#connections++;
    this.#pending = Buffer.alloc(0);
  }

  up(chunk: Buffer): void {
    this.#raw.push(chunk);
    this.#pending = Buffer.concat([this.#pending, chunk]);
    while (this.#pending.length >= 5) {
      const length = this.#pending.readUInt16BE(3);
      if (this.#pending.length < 5 + length) break;
      if (this.#pending[0] === 23) this.#application += length;
      this.#pending = this.#pending.subarray(5 + length);
    }
  }

  report(): Omit<AttackerReport, "plaintextBytes"> {
    return { connections: this.#connections, applicationBytes: this.#application, received: Buffer.concat(this.#raw) };
  }
}

/**
 * A TLS 1.2 server of our own that answers the ClientHello with the real server's certificate
 * chain (public) and an ECDHE key of its own, sent unsigned: SignatureAndHashAlgorithm none /
 * anonymous and an empty signature, the form the SDK's ssl_handshake.js never checks. It then
 * records whatever the client sends.
 */
function unsignedKeyExchangeServer(device: Socket, recorder: Recorder, pki: TestPki): void {
  let hello = Buffer.alloc(0);
  let answered = false;
  device.on("data", (chunk: Buffer) => {
    recorder.up(chunk);
    if (answered) return;
    hello = Buffer.concat([hello, chunk]);
    if (hello.length < 5 || hello.length < 5 + hello.readUInt16BE(3)) return;
    answered = true;
    const chain = derChain(pki.serverCertPem);
    const ec = chain[0]!.includes(Buffer.from([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01])); // id-ecPublicKey in the leaf
    const ecdh = createECDH("prime256v1");
    const point = ecdh.generateKeys();
    const serverHello = handshake(2, Buffer.concat([
      Buffer.from([3, 3]), randomBytes(32), Buffer.from([0]),
      u16(ec ? 0xc02b : 0xc02f), Buffer.from([0]),
    ]));
    const certificate = handshake(11, vector3(Buffer.concat(chain.map(vector3))));
    const keyExchange = handshake(12, Buffer.concat([
      Buffer.from([3]), u16(23), Buffer.from([point.length]), point,
      Buffer.from([0, 0]), u16(0), // hash none, signature anonymous, empty signature
    ]));
    const done = handshake(14, Buffer.alloc(0));
    device.write(record(22, Buffer.concat([serverHello, certificate, keyExchange, done])));
  });
}

/** Answers the ClientHello with a handshake record whose ServerHello claims more bytes than it has. */
function garbledServer(device: Socket, recorder: Recorder): void {
  let answered = false;
  device.on("data", (chunk: Buffer) => {
    recorder.up(chunk);
    if (answered) return;
    answered = true;
    const body = Buffer.concat([Buffer.from([3, 3]), randomBytes(20)]); // cut inside the random
    const lying = Buffer.concat([Buffer.from([2, 0, 0, 70]), body]);
    device.write(Buffer.concat([record(22, lying), randomBytes(16)]));
  });
}

function derChain(pem: string): Buffer[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/g)].map((m) => Buffer.from(m[1]!.replace(/\s/g, ""), "base64"));
}

const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const vector3 = (b: Buffer) => Buffer.concat([Buffer.from([b.length >> 16, (b.length >> 8) & 0xff, b.length & 0xff]), b]);
const handshake = (type: number, body: Buffer) => Buffer.concat([Buffer.from([type]), vector3(body)]);
function record(type: number, fragment: Buffer): Buffer {
  const out: Buffer[] = [];
  for (let at = 0; at < fragment.length || at === 0; at += 16384) {
    const part = fragment.subarray(at, at + 16384);
    out.push(Buffer.concat([Buffer.from([type, 3, 3]), u16(part.length), part]));
    if (fragment.length === 0) break;
  }
  return Buffer.concat(out);
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
}
