// The Node implementation of the I/O object (host-sim/io/): sockets against local servers, TLS
// against a PKI made with the openssl CLI for this run (board profile refusals included), the
// NVS-limited flash with power cuts, the manual clock, the log sink's secret guard.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createTcpServer, type Server, type Socket as NodeSocket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createServer as createTlsServer, type TlsOptions as NodeTlsServerOptions, type TLSSocket } from "node:tls";
import type { Socket, SocketError, TlsOptions } from "../../src/io/io.js";
import { Logger, type LogRecord } from "../../src/log/logger.js";
import { Secret } from "../../src/secrets/secret.js";
import { ManualClock, RealClock } from "../../host-sim/io/clock.js";
import { cutPoints, Flash, isPowerCut, PowerCut, StorageError } from "../../host-sim/io/flash.js";
import { collectSink, looksLikeSecretField, printSink, SecretInLog } from "../../host-sim/io/log-sink.js";
import { tlsSessionInfo } from "../../host-sim/io/network.js";
import { createNodeIo, type NodeIo, type NodeIoOptions } from "../../host-sim/io/node-io.js";
import { seededRandom } from "../../host-sim/io/random.js";

const WAIT_MS = 10_000;
const bytes = (text: string) => new Uint8Array(Buffer.from(text, "utf8"));
const text = (data: Uint8Array | undefined) => (data === undefined ? undefined : Buffer.from(data).toString("utf8"));

// ---------------------------------------------------------------------------------------------
// Test PKI, made with the openssl CLI in a temp dir.

interface Pki {
  dir: string;
  ca: string;
  wrongCa: string;
  serverKey: string;
  serverCert: string;
  rsaClientKey: string;
  rsaClientCert: string;
  ecClientKey: string;
  ecClientCert: string;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.pem`,
    "-days", "3", "-subj", `/CN=${name}`, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
}

function issue(dir: string, name: string, keyArgs: string[], extensions: string): void {
  openssl(dir, "req", "-new", "-newkey", ...keyArgs, "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}`);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, "x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
    "-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`);
}

function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), "host-io-pki-"));
  makeCa(dir, "ca");
  makeCa(dir, "wrong-ca");
  issue(dir, "server", ["rsa:2048"], "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
  issue(dir, "rsa-client", ["rsa:2048"], "extendedKeyUsage=clientAuth\n");
  issue(dir, "ec-client", ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"], "extendedKeyUsage=clientAuth\n");
  const read = (file: string) => readFileSync(join(dir, file), "utf8");
  return {
    dir,
    ca: read("ca.pem"),
    wrongCa: read("wrong-ca.pem"),
    serverKey: read("server.key"),
    serverCert: read("server.pem"),
    rsaClientKey: read("rsa-client.key"),
    rsaClientCert: read("rsa-client.pem"),
    ecClientKey: read("ec-client.key"),
    ecClientCert: read("ec-client.pem"),
  };
}

// ---------------------------------------------------------------------------------------------
// Local servers and a socket event recorder.

const servers: Server[] = [];
const peers = new Set<NodeSocket>();

async function listen(server: Server): Promise<number> {
  servers.push(server);
  server.on("connection", (s: NodeSocket) => {
    peers.add(s);
    s.on("close", () => peers.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

const echo = (s: NodeSocket | TLSSocket) => {
  s.on("error", () => {});
  s.pipe(s);
};

async function tlsServer(pki: Pki, extra: NodeTlsServerOptions = {}, onSecure: (s: TLSSocket) => void = echo): Promise<number> {
  const server = createTlsServer({ key: pki.serverKey, cert: pki.serverCert, ...extra }, onSecure);
  server.on("tlsClientError", () => {}); // refusals are the point of several tests
  return listen(server);
}

type SocketEvent = { type: "writable"; count: number } | { type: "readable"; count: number } | { type: "error"; error: SocketError };

/** Records a socket's callbacks; the test awaits the events it expects. */
class Recorder {
  readonly events: SocketEvent[] = [];
  received = "";
  socket: Socket | undefined;
  readonly #waiters: Array<() => void> = [];

  readonly handlers = {
    onWritable: (count: number) => this.#push({ type: "writable", count }),
    onReadable: (count: number) => {
      this.received += text(this.socket!.read()) ?? "";
      this.#push({ type: "readable", count });
    },
    onError: (error: SocketError) => this.#push({ type: "error", error }),
  };

  get errors(): SocketError[] {
    return this.events.flatMap((e) => (e.type === "error" ? [e.error] : []));
  }

  until(condition: () => boolean, what: string): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; events: ${JSON.stringify(this.events)}`)), WAIT_MS);
      this.#waiters.push(() => {
        if (!condition()) return false;
        clearTimeout(timer);
        resolve();
        return true;
      });
    });
  }

  /** The first writable or error event. */
  async settled(): Promise<SocketEvent> {
    await this.until(() => this.events.some((e) => e.type !== "readable"), "connect or error");
    return this.events.find((e) => e.type !== "readable")!;
  }

  async error(): Promise<SocketError> {
    await this.until(() => this.errors.length > 0, "onError");
    return this.errors[0]!;
  }

  #push(event: SocketEvent): void {
    this.events.push(event);
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      if ((this.#waiters[i] as () => boolean)()) this.#waiters.splice(i, 1);
    }
  }
}

const ios: NodeIo[] = [];
function nodeIo(options: NodeIoOptions = {}): NodeIo {
  const io = createNodeIo({ log: "collect", ...options });
  ios.push(io);
  return io;
}

function openTls(io: NodeIo, port: number, options: Partial<TlsOptions>): Recorder {
  const r = new Recorder();
  r.socket = io.network.tls({ host: "localhost", port, ...options, ...r.handlers });
  return r;
}

/** Gives pending socket events a chance to arrive (used only to show that none do). */
const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

let pki: Pki;
before(() => {
  pki = makePki();
});
after(async () => {
  for (const io of ios) io.shutdown();
  for (const peer of peers) peer.destroy();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  rmSync(pki.dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------

describe("TCP", () => {
  test("round trip with an echo server", async () => {
    const port = await listen(createTcpServer(echo));
    const io = nodeIo();
    const r = new Recorder();
    let duringConstructor = true;
    r.socket = io.network.tcp({ host: "127.0.0.1", port, ...r.handlers, onWritable: (count) => {
      assert.equal(duringConstructor, false, "no callback inside the constructor call");
      r.handlers.onWritable(count);
    } });
    duringConstructor = false;
    const first = await r.settled();
    assert.equal(first.type, "writable");
    r.socket.write(bytes("hello "));
    r.socket.write(bytes("world"));
    await r.until(() => r.received === "hello world", "echo");
    assert.equal(r.socket.read(), undefined, "nothing left to read");
    r.socket.close();
    assert.throws(() => r.socket!.write(bytes("x")), /closed/);
    await settle();
    assert.equal(r.errors.length, 0, "close() reports nothing");
  });

  test("connection refused → kind refused, exactly once", async () => {
    const server = createTcpServer();
    const port = await listen(server);
    await new Promise((resolve) => server.close(resolve));
    const r = new Recorder();
    r.socket = nodeIo().network.tcp({ host: "127.0.0.1", port, ...r.handlers });
    assert.equal((await r.error()).kind, "refused");
    await settle();
    assert.equal(r.errors.length, 1);
    assert.throws(() => r.socket!.write(bytes("x")), /closed/);
  });

  test("an orderly close by the peer → kind closed, after the last bytes", async () => {
    const port = await listen(createTcpServer((s) => s.end("bye")));
    const r = new Recorder();
    r.socket = nodeIo().network.tcp({ host: "127.0.0.1", port, ...r.handlers });
    const error = await r.error();
    assert.equal(error.kind, "closed");
    assert.equal(r.received, "bye");
    await settle();
    assert.equal(r.errors.length, 1);
  });

  test("no handler runs after close(), even with data in flight", async () => {
    const port = await listen(createTcpServer((s) => {
      s.on("error", () => {});
      s.write("early");
      setTimeout(() => s.end("late"), 50);
    }));
    const r = new Recorder();
    r.socket = nodeIo().network.tcp({ host: "127.0.0.1", port, ...r.handlers });
    await r.settled();
    r.socket.close();
    const count = r.events.length;
    await settle();
    await settle();
    assert.equal(r.events.length, count);
  });

  test("an unknown host name → kind dns", async () => {
    const r = new Recorder();
    r.socket = nodeIo().network.tcp({ host: "no-such-host.invalid", port: 1, ...r.handlers });
    assert.equal((await r.error()).kind, "dns");
  });
});

describe("UDP", () => {
  test("a datagram goes out and one comes back with its sender", async () => {
    const peer = createSocket("udp4");
    peer.on("message", (msg, from) => peer.send(Buffer.concat([Buffer.from("re:"), msg]), from.port, from.address));
    await new Promise<void>((resolve) => peer.bind(0, "127.0.0.1", resolve));
    const peerPort = peer.address().port;
    try {
      let readable = 0;
      const socket = nodeIo().network.udp({ onReadable: () => readable++ });
      socket.write(bytes("ping"), "127.0.0.1", peerPort);
      const started = Date.now();
      while (readable === 0 && Date.now() - started < WAIT_MS) await new Promise((r) => setTimeout(r, 10));
      const datagram = socket.read();
      assert.ok(datagram, "a datagram arrived");
      assert.equal(text(datagram.data), "re:ping");
      assert.equal(datagram.address, "127.0.0.1");
      assert.equal(datagram.port, peerPort);
      assert.equal(socket.read(), undefined);
      socket.close();
    } finally {
      peer.close();
    }
  });
});

describe("TLS", () => {
  test("trusted CA: round trip, board profile negotiates TLS 1.2 with a board suite on P-256", async () => {
    const port = await tlsServer(pki);
    const r = openTls(nodeIo(), port, { ca: pki.ca });
    assert.equal((await r.settled()).type, "writable");
    r.socket!.write(bytes("over tls"));
    await r.until(() => r.received === "over tls", "echo");
    const info = tlsSessionInfo(r.socket!);
    assert.equal(info?.protocol, "TLSv1.2");
    assert.equal(info?.cipher, "ECDHE-RSA-AES128-GCM-SHA256");
    assert.equal(info?.group, "prime256v1");
    r.socket!.close();
  });

  test("node profile stays on TLS 1.2 with the same server (the firmware's verifier reads TLS 1.2 handshakes only)", async () => {
    const port = await tlsServer(pki);
    const r = openTls(nodeIo({ tlsProfile: "node" }), port, { ca: pki.ca });
    assert.equal((await r.settled()).type, "writable");
    assert.equal(tlsSessionInfo(r.socket!)?.protocol, "TLSv1.2");
    assert.equal(r.socket!.tlsVerified?.(), true);
    r.socket!.close();
  });

  test("wrong CA → kind tls, untrusted-chain", async () => {
    const port = await tlsServer(pki);
    const r = openTls(nodeIo(), port, { ca: pki.wrongCa });
    const error = await r.error();
    assert.equal(error.kind, "tls");
    assert.equal(error.reason, "untrusted-chain");
  });

  test("no CA given: Node's root store does not know the test CA", async () => {
    const port = await tlsServer(pki);
    const error = await openTls(nodeIo(), port, {}).error();
    assert.equal(error.kind, "tls");
    assert.equal(error.reason, "untrusted-chain");
  });

  test("wrong host name → kind tls, host-mismatch", async () => {
    const port = await tlsServer(pki);
    const r = openTls(nodeIo(), port, { host: "127.0.0.1", serverName: "broker.example.com", ca: pki.ca });
    const error = await r.error();
    assert.equal(error.kind, "tls");
    assert.equal(error.reason, "host-mismatch");
  });

  test("an IP address host: no SNI is sent, the certificate's IP SAN is checked", async () => {
    let sni: string | false | undefined;
    const port = await tlsServer(pki, {}, (s) => {
      sni = (s as TLSSocket & { servername?: string | false }).servername;
      echo(s);
    });
    const r = openTls(nodeIo(), port, { host: "127.0.0.1", ca: pki.ca });
    assert.equal((await r.settled()).type, "writable");
    r.socket!.write(bytes("ip"));
    await r.until(() => r.received === "ip", "echo");
    assert.ok(!sni, `no SNI for an IP address (got ${String(sni)})`);
    r.socket!.close();
  });

  test("serverName is sent as SNI and checked when connecting to an address", async () => {
    let sni: string | false | undefined;
    const port = await tlsServer(pki, {}, (s) => {
      sni = (s as TLSSocket & { servername?: string | false }).servername;
      echo(s);
    });
    const r = openTls(nodeIo(), port, { host: "127.0.0.1", serverName: "localhost", ca: pki.ca });
    assert.equal((await r.settled()).type, "writable");
    r.socket!.write(bytes("sni"));
    await r.until(() => r.received === "sni", "echo");
    assert.equal(sni, "localhost");
    r.socket!.close();
  });

  test("a TLS 1.3-only server is refused in the board profile", async () => {
    const port = await tlsServer(pki, { minVersion: "TLSv1.3" });
    const error = await openTls(nodeIo(), port, { ca: pki.ca }).error();
    assert.equal(error.kind, "tls");
    assert.match(error.message, /board profile/);
  });

  test("a server whose suites the board lacks (AES-256-GCM only) is refused in the board profile", async () => {
    const port = await tlsServer(pki, { maxVersion: "TLSv1.2", ciphers: "ECDHE-RSA-AES256-GCM-SHA384" });
    const error = await openTls(nodeIo(), port, { ca: pki.ca }).error();
    assert.equal(error.kind, "tls");
    const nodeProfile = openTls(nodeIo({ tlsProfile: "node" }), port, { ca: pki.ca });
    assert.equal((await nodeProfile.settled()).type, "writable", "Node's own profile can");
    nodeProfile.socket!.close();
  });

  test("device clock in 1970 (before SNTP) → refused with 'set the clock'; after set() it connects", async () => {
    const port = await tlsServer(pki);
    const clock = new ManualClock(0);
    const io = nodeIo({ clock });
    const error = await openTls(io, port, { ca: pki.ca }).error();
    assert.equal(error.kind, "tls");
    assert.equal(error.reason, "not-yet-valid");
    assert.match(error.message, /by the device clock/);
    assert.match(error.message, /set the clock/);

    clock.set(Date.now()); // SNTP answered
    const r = openTls(io, port, { ca: pki.ca });
    assert.equal((await r.settled()).type, "writable");
    r.socket!.close();
  });

  test("device clock past the certificate's end → refused as expired by the device clock", async () => {
    const port = await tlsServer(pki);
    const error = await openTls(nodeIo({ clock: new ManualClock(Date.now() + 400 * 86_400_000) }), port, { ca: pki.ca }).error();
    assert.equal(error.kind, "tls");
    assert.equal(error.reason, "expired");
    assert.match(error.message, /by the device clock/);
  });

  test("node profile checks dates against the device clock too (the firmware's verifier decides in both)", async () => {
    const port = await tlsServer(pki);
    const error = await openTls(nodeIo({ clock: new ManualClock(0), tlsProfile: "node" }), port, { ca: pki.ca }).error();
    assert.equal(error.reason, "not-yet-valid");
  });

  test("mutual TLS with an RSA client key works in the board profile", async () => {
    let peerCn: unknown;
    const port = await tlsServer(pki, { requestCert: true, rejectUnauthorized: true, ca: pki.ca }, (s) => {
      peerCn = s.getPeerCertificate().subject?.CN;
      echo(s);
    });
    const r = openTls(nodeIo(), port, { ca: pki.ca, clientCertificate: pki.rsaClientCert, clientKey: Secret.fromString(pki.rsaClientKey) });
    assert.equal((await r.settled()).type, "writable");
    r.socket!.write(bytes("mtls"));
    await r.until(() => r.received === "mtls", "echo");
    assert.equal(peerCn, "rsa-client");
    r.socket!.close();
  });

  test("a server that never answers the handshake → kind timeout after connectTimeoutMs", async () => {
    const port = await listen(createTcpServer((s) => s.on("error", () => {}))); // accepts TCP, says nothing
    const error = await openTls(nodeIo({ connectTimeoutMs: 200 }), port, { ca: pki.ca }).error();
    assert.equal(error.kind, "timeout");
  });

  test("an EC client key is refused in the board profile before connecting, asynchronously, without key material", async () => {
    let connections = 0;
    const port = await tlsServer(pki, { requestCert: true, ca: pki.ca }, (s) => {
      connections++;
      echo(s);
    });
    const r = new Recorder();
    let duringConstructor = true;
    r.socket = nodeIo().network.tls({
      host: "localhost", port, ca: pki.ca, clientCertificate: pki.ecClientCert, clientKey: Secret.fromString(pki.ecClientKey),
      ...r.handlers,
      onError: (e) => {
        assert.equal(duringConstructor, false, "no callback inside the constructor call");
        r.handlers.onError(e);
      },
    });
    duringConstructor = false;
    const error = await r.error();
    assert.equal(error.kind, "tls");
    assert.match(error.message, /client key type ec refused/);
    assert.match(error.message, /RSA/);
    const keyBody = pki.ecClientKey.split("\n").filter((l) => l && !l.startsWith("-----"));
    for (const line of keyBody) assert.ok(!error.message.includes(line), "no key material in the message");
    assert.throws(() => r.socket!.write(bytes("x")), /closed/);
    await settle();
    assert.equal(connections, 0, "never connected");
    assert.equal(r.errors.length, 1);
  });

  test("the node profile accepts the EC client key", async () => {
    const port = await tlsServer(pki, { requestCert: true, rejectUnauthorized: true, ca: pki.ca });
    const r = openTls(nodeIo({ tlsProfile: "node" }), port, { ca: pki.ca, clientCertificate: pki.ecClientCert, clientKey: Secret.fromString(pki.ecClientKey) });
    assert.equal((await r.settled()).type, "writable");
    r.socket!.close();
  });
});

// ---------------------------------------------------------------------------------------------

describe("flash", () => {
  test("NVS limits: 15-byte keys, blob size, capacity of the 24 KiB partition", () => {
    const storage = Flash.inMemory().open();
    storage.write("k".repeat(15), bytes("ok"));
    assert.equal(text(storage.read("k".repeat(15))), "ok");
    for (const op of [() => storage.write("k".repeat(16), bytes("x")), () => storage.read("k".repeat(16)), () => storage.delete("k".repeat(16))]) {
      assert.throws(op, (e: unknown) => e instanceof StorageError && e.code === "key-too-long");
    }
    assert.throws(() => storage.write("", bytes("x")), (e: unknown) => e instanceof StorageError && e.code === "key-invalid");

    const flash = Flash.inMemory();
    const s = flash.open();
    assert.ok(flash.capacity > 16_000 && flash.capacity < 24_576, `usable bytes ${flash.capacity} below the 24 KiB partition`);
    s.write("a", new Uint8Array(8000));
    s.write("b", new Uint8Array(8000));
    assert.throws(() => s.write("c", new Uint8Array(8000)), (e: unknown) => e instanceof StorageError && e.code === "no-space");
    assert.equal(s.read("c"), undefined, "a refused write leaves nothing");
    s.write("a", new Uint8Array(9000)); // replacing a key frees its old space first
    assert.equal(flash.writeCount, 3, "refused writes do not reach flash");

    const big = Flash.inMemory({ partitionSize: 1024 * 1024 }).open();
    assert.throws(() => big.write("huge", new Uint8Array(508_001)), (e: unknown) => e instanceof StorageError && e.code === "value-too-large");
  });

  test("reads and writes copy", () => {
    const s = Flash.inMemory().open();
    const value = bytes("abc");
    s.write("k", value);
    value[0] = 0;
    const read = s.read("k")!;
    assert.equal(text(read), "abc");
    read[0] = 0;
    assert.equal(text(s.read("k")), "abc");
  });

  test("power cut at byte 0 erases the key; mid-value leaves a torn value; at n the value lands", () => {
    const old = bytes("OLD-VALUE-LONGER");
    const fresh = bytes("new-value");
    const outcomes = new Map<number, string | undefined>();
    for (const byte of [0, 4, fresh.length]) {
      const flash = Flash.inMemory();
      flash.open().write("k", old);
      flash.cutPowerAt(0, byte);
      const device = flash.open();
      assert.throws(() => device.write("k", fresh), PowerCut);
      outcomes.set(byte, text(flash.open().read("k")));
    }
    assert.equal(outcomes.get(0), undefined);
    assert.equal(outcomes.get(4), "new-VALUE-LONGER", "first 4 bytes new, the rest stale old bytes");
    assert.equal(outcomes.get(fresh.length), "new-value");
  });

  test("a torn write over a shorter old value leaves just the first bytes", () => {
    const flash = Flash.inMemory();
    flash.open().write("k", bytes("ab"));
    flash.cutPowerAt({ write: 0, byte: 5 });
    assert.throws(() => flash.open().write("k", bytes("0123456789")), PowerCut);
    assert.equal(text(flash.open().read("k")), "01234");
  });

  test("the cut counts writes and deletes from arming; the dead device throws until reboot", () => {
    const flash = Flash.inMemory();
    const device = flash.open();
    device.write("a", bytes("1"));
    flash.cutPowerAt(2, 0);
    device.write("b", bytes("2")); // write 0
    device.delete("a"); // write 1
    assert.throws(() => device.write("c", bytes("3")), (e: unknown) => isPowerCut(e) && /"c" after 0 of 1/.test((e as Error).message));
    assert.throws(() => device.read("b"), PowerCut);
    assert.throws(() => device.write("d", bytes("4")), PowerCut);
    assert.throws(() => device.delete("b"), PowerCut);
    const rebooted = flash.open();
    assert.equal(text(rebooted.read("b")), "2");
    assert.equal(rebooted.read("a"), undefined);
    assert.equal(rebooted.read("c"), undefined);
    assert.equal(flash.armed, false, "a cut fires once");
    rebooted.write("c", bytes("3"));
    assert.equal(flash.writeCount, 5);
    assert.equal(flash.deleteCount, 1);
  });

  test("a cut on a delete removes the key, then the power dies", () => {
    const flash = Flash.inMemory();
    flash.open().write("k", bytes("v"));
    flash.cutPowerAt(0, 0);
    assert.throws(() => flash.open().delete("k"), PowerCut);
    assert.equal(flash.open().read("k"), undefined);
  });

  test("a normal reboot writes nothing", () => {
    const flash = Flash.inMemory();
    flash.open().write("k", bytes("v"));
    const before = flash.writeCount;
    assert.equal(text(flash.open().read("k")), "v");
    assert.equal(flash.writeCount, before);
  });

  test("every cut point of a recorded dry run leaves the key old, absent, torn or new", () => {
    const old = bytes("old-old-old");
    const operation = (s: ReturnType<Flash["open"]>) => {
      s.write("x", bytes("new-new"));
      s.delete("y");
    };
    const dry = Flash.inMemory();
    dry.open().write("x", old);
    const recorder = dry.record();
    operation(dry.open());
    recorder.stop();
    assert.deepEqual(recorder.writes, [{ kind: "write", key: "x", size: 7 }, { kind: "delete", key: "y", size: 0 }]);
    const points = cutPoints(recorder.writes);
    assert.equal(points.length, 8 + 1);
    for (const point of points) {
      const flash = Flash.inMemory();
      flash.open().write("x", old);
      flash.open().write("y", bytes("y"));
      flash.cutPowerAt(point);
      assert.throws(() => operation(flash.open()), PowerCut, `cut at ${JSON.stringify(point)}`);
      const x = text(flash.open().read("x"));
      if (point.write === 0) {
        const torn = "new-new".slice(0, point.byte) + "old-old-old".slice(point.byte);
        const expected = point.byte === 0 ? undefined : point.byte === 7 ? "new-new" : torn;
        assert.equal(x, expected, `x after a cut at ${JSON.stringify(point)}`);
        assert.equal(text(flash.open().read("y")), "y");
      } else {
        assert.equal(x, "new-new");
        assert.equal(flash.open().read("y"), undefined);
      }
    }
  });

  test("file-backed flash: contents survive a new instance, a torn write included", () => {
    const dir = mkdtempSync(join(tmpdir(), "host-io-flash-"));
    try {
      const path = join(dir, "nvs.json");
      const first = Flash.file(path);
      first.open().write("cred.a", bytes("0123456789"));
      first.open().write("cred.b", bytes("bbbb"));
      first.cutPowerAt(0, 3);
      const device = first.open();
      assert.throws(() => device.write("cred.a", bytes("abcdefghij")), PowerCut);
      assert.throws(() => device.read("cred.b"), PowerCut);

      const second = Flash.file(path).open(); // another process opening the same image = reboot
      assert.equal(text(second.read("cred.a")), "abc3456789");
      assert.equal(text(second.read("cred.b")), "bbbb");
      second.delete("cred.b");
      assert.deepEqual(Flash.file(path).keys(), ["cred.a"]);
      assert.throws(() => Flash.file(path).open().write("way-too-long-key", bytes("x")), StorageError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a corrupt image file is reported, not treated as empty", () => {
    const dir = mkdtempSync(join(tmpdir(), "host-io-flash-"));
    try {
      const path = join(dir, "nvs.json");
      writeFileSync(path, "{not json");
      assert.throws(() => Flash.file(path), (e: unknown) => e instanceof StorageError && e.code === "file-corrupt");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------

describe("ManualClock", () => {
  test("timers fire in due order during advance, including ones set by callbacks", () => {
    const clock = new ManualClock(1_000);
    const fired: string[] = [];
    clock.timers.set(() => fired.push(`c@${clock.now()}`), 30);
    clock.timers.set(() => {
      fired.push(`a@${clock.now()}`);
      clock.timers.set(() => fired.push(`a2@${clock.now()}`), 5); // due at 15, before c
      clock.timers.set(() => fired.push(`late@${clock.now()}`), 100);
    }, 10);
    clock.timers.set(() => fired.push(`b@${clock.now()}`), 10); // same due time as a: insertion order
    const cleared = clock.timers.set(() => fired.push("cleared"), 20);
    clock.timers.clear(cleared);

    clock.advance(5);
    assert.deepEqual(fired, []);
    clock.advance(45);
    assert.deepEqual(fired, ["a@1010", "b@1010", "a2@1015", "c@1030"]);
    assert.equal(clock.now(), 1_050);
    assert.equal(clock.nextTimerIn(), 60);
    clock.advance(60);
    assert.deepEqual(fired.at(-1), "late@1110");
    assert.equal(clock.timers.pending, 0);
  });

  test("set() jumps the wall clock without firing timers", () => {
    const clock = new ManualClock(0);
    let fired = false;
    clock.timers.set(() => { fired = true; }, 1_000);
    clock.set(Date.UTC(2030, 0, 1));
    assert.equal(fired, false);
    assert.equal(clock.now(), Date.UTC(2030, 0, 1));
    clock.advance(1_000);
    assert.equal(fired, true);
    assert.equal(clock.now(), Date.UTC(2030, 0, 1) + 1_000);
  });

  test("M3: monotonic() moves with advance() and never with set()", () => {
    const clock = new ManualClock(1_000);
    clock.advance(40);
    clock.set(Date.UTC(2030, 0, 1));
    assert.equal(clock.monotonic(), 40);
    clock.set(0);
    clock.advance(10);
    assert.equal(clock.monotonic(), 50);
  });

  test("zero and negative delays fire on the next advance, even advance(0)", () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    clock.timers.set(() => fired.push(1), 0);
    clock.timers.set(() => fired.push(2), -5);
    clock.advance(0);
    assert.deepEqual(fired, [1, 2]);
  });
});

// ---------------------------------------------------------------------------------------------

describe("RealClock", () => {
  test("M3: setting the wall clock (SNTP) does not move monotonic time", () => {
    const clock = new RealClock(0);
    const before = clock.monotonic();
    clock.set(Date.UTC(2030, 0, 1));
    const after = clock.monotonic();
    assert.ok(after >= before && after - before < 60_000, `monotonic jumped by ${after - before} ms`);
    assert.ok(clock.now() >= Date.UTC(2030, 0, 1));
  });
});

describe("createNodeIo", () => {
  test("seeded random is reproducible; the default is not", () => {
    const a = new Uint8Array(40);
    const b = new Uint8Array(40);
    seededRandom(7)(a);
    createNodeIo({ random: { seed: 7 }, log: "silent" }).random(b);
    assert.deepEqual(a, b);
    const c = new Uint8Array(40);
    createNodeIo({ log: "silent" }).random(c);
    assert.notDeepEqual(c, a);
  });

  test("the MAC is unreadable until Wi-Fi starts when so configured; restart calls back", () => {
    let restarts = 0;
    const io = createNodeIo({ mac: "24:0a:c4:12:34:56", macAvailable: false, onRestart: () => restarts++, log: "silent" });
    assert.equal(io.device.mac(), undefined);
    io.device.startWifi();
    assert.equal(io.device.mac(), "24:0A:C4:12:34:56");
    io.device.restart();
    assert.equal(restarts, 1);
    assert.match(createNodeIo({ log: "silent" }).device.mac() ?? "", /^24:0A:C4(:[0-9A-F]{2}){3}$/);
  });

  test("a reboot over the same flash keeps contents and counts no writes", () => {
    const first = createNodeIo({ log: "silent" });
    first.storage.write("k", bytes("v"));
    const second = createNodeIo({ flash: first.flash, log: "silent" });
    assert.equal(text(second.storage.read("k")), "v");
    assert.equal(second.flash.writeCount, 1);
  });

  test("with a ManualClock, io.timers run on it and log records carry its time", () => {
    const clock = new ManualClock(5_000);
    const io = createNodeIo({ clock, log: "collect" });
    let fired = false;
    io.timers.set(() => { fired = true; }, 10);
    new Logger(io.log, () => io.clock.now(), "test").info("hello", { n: 1 });
    clock.advance(10);
    assert.equal(fired, true);
    assert.deepEqual(io.logs, [{ time: 5_000, level: "info", scope: "test", event: "hello", fields: { n: 1 } }]);
  });
});

describe("log sink secret guard", () => {
  test("field names that look secret", () => {
    for (const name of ["password", "wifiPassphrase", "pop", "clientKey", "privateKey", "api_key", "accessToken", "secret", "externalKey", "sk", "PoP"]) {
      assert.ok(looksLikeSecretField(name), name);
    }
    for (const name of ["key", "publicKey", "keepalive", "passwordLength", "tokenCount", "topic", "nodeId", "population"]) {
      assert.ok(!looksLikeSecretField(name), name);
    }
  });

  test("collecting (tests): a clear-text secret field throws, a Secret passes redacted", () => {
    const records: LogRecord[] = [];
    const log = new Logger(collectSink(records), () => 0, "wifi");
    log.info("join", { ssid: "home", passphrase: Secret.fromString("hunter22") });
    assert.equal(records[0]?.fields.passphrase, "[redacted]");
    assert.throws(() => log.info("join", { passphrase: "hunter22" }), (e: unknown) => e instanceof SecretInLog && !(e as Error).message.includes("hunter22"));
    assert.equal(records.length, 1);
  });

  test("printing (demo): the value is replaced and a warning goes to stderr", () => {
    const lines: Array<[string, string]> = [];
    const log = new Logger(printSink({ write: (line, stream) => lines.push([stream, line]) }), () => 0, "mqtt");
    log.warn("connect", { password: "s3cret!", user: "dev" });
    assert.ok(lines.every(([, line]) => !line.includes("s3cret!")));
    assert.equal(lines.length, 2);
    assert.match(lines[0]![1], /unredacted secret-looking field\(s\) password/);
    assert.equal(lines[1]![0], "stderr");
    assert.match(lines[1]![1], /WARN  mqtt: connect password=\[redacted\] user=dev/);
  });
});
