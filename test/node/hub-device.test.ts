// The hub strategy's device side against real sockets: the DNS codec against dns-packet (an
// independent implementation), discovery over real UDP (a dns-packet responder and an announcer
// written here), TLS trust on first use against real TLS servers with openssl-made certificates
// (first use pins, same key accepted, an impostor refused before it gets a byte, a relayed
// request fails), the typed failures of PROTOCOL.md §2, re-discovery of a hub that moved, the
// approval timeout, and the emoncms dialect.
import assert from "node:assert/strict";
import { createHash, createPublicKey, verify as cryptoVerify, X509Certificate } from "node:crypto";
import { createSocket, type Socket as DgramSocket } from "node:dgram";
import { once } from "node:events";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo, Server as NetServer } from "node:net";
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import dnsPacket from "dns-packet";
import { generateTestPki, type IssuedCert, type TestPki } from "../../host-sim/certs/pki.js";
import { createSimDevice, type HostSimDevice } from "../../host-sim/sim-device.js";
import { parseFactoryConfig, type HubConfig } from "../../src/config/factory-config.js";
import { HttpError } from "../../src/http/codec.js";
import { httpFetch } from "../../src/http/client.js";
import { generateIdentity, nodeIdOf } from "../../src/identity/identity.js";
import { Device, type DeviceEvent } from "../../src/lifecycle/device.js";
import { Logger } from "../../src/log/logger.js";
import { discoverHub } from "../../src/onboarding/hub/discovery.js";
import { decodeMessage, DnsError, encodeMessage, type DnsMessage, type DnsRecord } from "../../src/onboarding/hub/mdns.js";
import { EmoncmsReplyError, parseEmoncmsReply } from "../../src/onboarding/hub/emoncms-reply.js";
import { decodePairReply, PairReplyError } from "../../src/onboarding/hub/pair.js";
import { hubStrategy } from "../../src/onboarding/hub/strategy.js";
import { probeServerKey } from "../../src/onboarding/hub/tofu.js";
import type { OnboardingContext, StrategyResult } from "../../src/onboarding/strategy.js";
import type { CredentialRecord, StrategyStateValue } from "../../src/storage/credential-record.js";
import { nodeCrypto } from "../../host-sim/io/node-crypto.js";

// ---- helpers

let pki: TestPki;
let dir: string;
let hubCert: IssuedCert;
let impostorCert: IssuedCert;
const devices: HostSimDevice[] = [];

before(() => {
  dir = mkdtempSync(join(tmpdir(), "hub-device-"));
  pki = generateTestPki(dir);
  hubCert = pki.issueServerCert({ commonName: "hub" });
  impostorCert = pki.issueServerCert({ commonName: "impostor", keyType: "ec" });
});
after(() => {
  for (const d of devices) d.io.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

/** The hub key by node:crypto: SHA-256 of the leaf's DER SubjectPublicKeyInfo. */
function keyOf(certPem: string): Buffer {
  return createHash("sha256").update(new X509Certificate(certPem).publicKey.export({ type: "spki", format: "der" })).digest();
}

/** The pairing code by node:crypto, from PROTOCOL.md's text. */
function codeOf(hubKey: Buffer, publicKeyHex: string, nonceHex: string): string {
  const h = createHash("sha256").update("onboard-hub-pairing-v1").update(hubKey).update(Buffer.from(publicKeyHex, "hex")).update(Buffer.from(nonceHex, "hex")).digest();
  const digits = String(h.readUInt32BE(0) % 1_000_000).padStart(6, "0");
  return `${digits.slice(0, 3)} ${digits.slice(3)}`;
}

function hubConfig(extra: Record<string, unknown>): HubConfig {
  return parseFactoryConfig({ chain: ["hub"], hub: { pollIntervalMs: 100, discoveryTimeoutMs: 1_000, udpPort: 0, ...(extra.mode === "emoncms" || extra.hubKey !== undefined ? {} : { trustOnFirstUse: true }), ...extra } }).hub!;
}

function context(strategyState?: Record<string, StrategyStateValue>): { ctx: OnboardingContext; device: HostSimDevice; record: CredentialRecord } {
  const device = createSimDevice();
  devices.push(device);
  const identity = generateIdentity(device.io);
  const record: CredentialRecord = { version: 1, identity, ...(strategyState ? { strategy: { name: "hub", state: strategyState } } : {}) };
  const ctx: OnboardingContext = {
    io: device.io,
    log: new Logger(device.io.log, () => device.io.clock.now(), "onboarding"),
    record,
    nodeId: nodeIdOf(nodeCrypto, identity),
    mac: device.io.device.mac(),
    storedRejected: false,
  };
  return { ctx, device, record };
}

function failure(result: StrategyResult) {
  assert.equal(result.ok, false, "expected a failure");
  return (result as Extract<StrategyResult, { ok: false }>).failure;
}

interface PairBody { v: number; node_id: string; public_key: string; name: string; nonce: string; signature: string }

type Answer = { status: number; body: unknown; headers?: Record<string, string> };

/**
 * A small secure hub as PROTOCOL.md §2 describes it: checks node ID and signature against its
 * own key, then answers what `decide` says (the approval rules are the reference hub's business).
 */
class TestHub {
  readonly requests: (PairBody & { valid: boolean; code: string })[] = [];
  readonly key: Buffer;
  server!: HttpsServer;
  constructor(readonly cert: IssuedCert, readonly decide: (request: PairBody, n: number) => Answer) {
    this.key = keyOf(cert.certPem);
  }

  async listen(host = "127.0.0.1", port = 0): Promise<number> {
    this.server = createHttpsServer({ key: this.cert.keyPem, cert: this.cert.certPem }, (req, res) => void this.#handle(req, res));
    this.server.listen(port, host);
    await once(this.server, "listening");
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const send = (a: Answer) => {
      const body = typeof a.body === "string" ? a.body : JSON.stringify(a.body);
      res.writeHead(a.status, { "Content-Type": "application/json", ...(a.headers ?? {}) });
      res.end(body);
    };
    if (req.method !== "POST" || req.url !== "/hub/v1/pair") return send({ status: 404, body: { status: "error" } });
    const r = JSON.parse(Buffer.concat(chunks).toString("utf8")) as PairBody;
    const publicKey = Buffer.from(r.public_key, "hex");
    const spki = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), publicKey]);
    const signed = Buffer.concat([Buffer.from("onboard-sig-v1\0hub-pair\0"), Buffer.from(["onboard-hub-pair-v2", r.node_id, r.nonce, this.key.toString("hex"), r.name].join("\n"), "utf8")]);
    const nodeOk = createHash("sha512").update(publicKey).digest("hex").slice(0, 20) === r.node_id;
    const valid = nodeOk && cryptoVerify(null, signed, createPublicKey({ key: spki, format: "der", type: "spki" }), Buffer.from(r.signature, "hex"));
    const code = codeOf(this.key, r.public_key, r.nonce);
    this.requests.push({ ...r, valid, code });
    if (!valid) return send({ status: 400, body: { status: "error", message: "signature does not verify for this hub" } });
    send(this.decide(r, this.requests.length));
  }
}

const pending = (code = "000 000"): Answer => ({ status: 202, body: { status: "pending", pairing_code: code, poll_ms: 0 } });
const releasedAnswer = (r: PairBody): Answer => ({
  status: 200,
  body: { status: "released", mqtt: { url: "mqtts://127.0.0.1:8883", client_id: r.node_id, username: `node-${r.node_id}`, password: "pw-123", base_topic: "hub", ca: pki.caPem, server_name: "localhost" } },
});

/** A DNS-SD responder (dns-packet) answering legacy-unicast queries for one hub. */
class Responder {
  readonly socket: DgramSocket = createSocket("udp4");
  readonly asked: string[] = [];
  hub: { address: string; port: number } | undefined;
  answerPtr = true;
  async start(): Promise<number> {
    this.socket.on("message", (msg, from) => {
      const q = dnsPacket.decode(msg);
      const question = q.questions![0]!;
      this.asked.push(`${question.type} ${question.name}`);
      if (!this.hub) return;
      const svc = "_onboard-hub._tcp.local";
      let answers: dnsPacket.Answer[] = [];
      let additionals: dnsPacket.Answer[] = [];
      if (question.type === "PTR" && question.name.toLowerCase() === svc && this.answerPtr) {
        answers = [{ type: "PTR", name: svc, ttl: 120, data: `Test Hub.${svc}` }];
        additionals = [
          { type: "SRV", name: `Test Hub.${svc}`, ttl: 120, flush: true, data: { port: this.hub.port, target: "testhub.local", priority: 0, weight: 0 } },
          { type: "TXT", name: `Test Hub.${svc}`, ttl: 120, data: ["v=1"] },
          { type: "A", name: "testhub.local", ttl: 120, flush: true, data: this.hub.address },
        ];
      } else if (question.type === "A" && question.name.toLowerCase() === "emonpi.local") {
        answers = [{ type: "A", name: "emonpi.local", ttl: 120, data: this.hub.address }];
      } else return;
      this.socket.send(dnsPacket.encode({ type: "response", id: q.id, flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: q.questions, answers, additionals }), from.port, from.address);
    });
    this.socket.bind(0, "127.0.0.1");
    await once(this.socket, "listening");
    return this.socket.address().port;
  }
  close(): void { this.socket.close(); }
}

/** Sends "emonpi.local" (and noise) to 127.0.0.1:port every 50 ms from `from` (an address on lo). */
function announcer(port: number): { stop(): void } {
  const s = createSocket("udp4");
  const timer = setInterval(() => {
    s.send("hello", port, "127.0.0.1");
    s.send("emonpi.local", port, "127.0.0.1");
  }, 50);
  return { stop: () => { clearInterval(timer); s.close(); } };
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket("udp4");
  s.bind(0, "127.0.0.1");
  await once(s, "listening");
  const port = s.address().port;
  s.close();
  return port;
}

// ---- DNS codec vs dns-packet

/** A dns-packet record, read without its per-type typings. */
interface Loose { name: string; ttl?: number; flush?: boolean; data: unknown }

describe("DNS codec against dns-packet", () => {
  const records = (seed: number): dnsPacket.Answer[] => [
    { type: "A", name: `h${seed}.local`, ttl: 100 + seed, data: `10.${seed % 256}.0.${(seed * 7) % 256}` },
    { type: "PTR", name: "_onboard-hub._tcp.local", ttl: 4500, data: `Hub-${seed}._onboard-hub._tcp.local` },
    { type: "SRV", name: `Hub-${seed}._onboard-hub._tcp.local`, ttl: 120, flush: seed % 2 === 0, data: { port: 8000 + seed, target: `h${seed}.local`, priority: seed % 3, weight: seed % 5 } },
    { type: "TXT", name: `Hub-${seed}._onboard-hub._tcp.local`, ttl: 120, data: ["v=1", `n=${seed}`] },
  ];

  test("what dns-packet encodes, we decode to the same records", () => {
    for (let seed = 0; seed < 50; seed++) {
      const id = (seed * 2654435761) & 0xffff;
      const bytes = dnsPacket.encode({ type: "response", id, flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: [{ type: "PTR", name: "_onboard-hub._tcp.local" }], answers: records(seed).slice(0, 2), additionals: records(seed).slice(2) });
      const m = decodeMessage(new Uint8Array(bytes));
      assert.equal(m.id, id);
      const back = dnsPacket.decode(bytes);
      const all = [...m.answers, ...m.additionals];
      const theirs = [...back.answers!, ...back.additionals!];
      assert.equal(all.length, theirs.length);
      all.forEach((r, i) => {
        const t = theirs[i] as unknown as Loose;
        assert.equal(r.name, t.name);
        assert.equal(r.ttl, t.ttl);
        assert.equal(r.flush, t.flush ?? false);
        if ("address" in r) assert.equal(r.address, t.data);
        else if ("port" in r) assert.deepEqual({ port: r.port, target: r.target, priority: r.priority, weight: r.weight }, t.data);
        else if ("target" in r) assert.equal(r.target, t.data);
        else if ("strings" in r) assert.deepEqual(r.strings.map((s) => Buffer.from(s).toString()), (t.data as Buffer[]).map((b) => b.toString()));
        else assert.fail(`unexpected record ${JSON.stringify(r)}`);
      });
    }
  });

  test("what we encode, dns-packet decodes to the same records", () => {
    for (let seed = 0; seed < 50; seed++) {
      const base = { class: 1, flush: seed % 2 === 1, ttl: seed * 11 };
      const answers: DnsRecord[] = [
        { ...base, name: `x${seed}.local`, type: 1, address: `192.168.${seed}.${255 - seed}` },
        { ...base, name: "_svc._tcp.local", type: 12, target: `i${seed}._svc._tcp.local` },
        { ...base, name: `i${seed}._svc._tcp.local`, type: 33, priority: seed, weight: 2 * seed, port: 1000 + seed, target: `x${seed}.local` },
        { ...base, name: `i${seed}._svc._tcp.local`, type: 16, strings: [new Uint8Array(Buffer.from(`k=${seed}`))] },
      ];
      const m: DnsMessage = { id: seed, flags: 0x8400, questions: [{ name: `x${seed}.local`, type: 1, class: 1 }], answers, authorities: [], additionals: [] };
      const theirs = dnsPacket.decode(Buffer.from(encodeMessage(m)));
      assert.equal(theirs.id, seed);
      assert.equal(theirs.questions![0]!.name, `x${seed}.local`);
      const t = theirs.answers! as unknown as Loose[];
      assert.equal(t[0]!.data, `192.168.${seed}.${255 - seed}`);
      assert.equal(t[1]!.data, `i${seed}._svc._tcp.local`);
      assert.deepEqual(t[2]!.data, { priority: seed, weight: 2 * seed, port: 1000 + seed, target: `x${seed}.local` });
      assert.deepEqual((t[3]!.data as Buffer[]).map(String), [`k=${seed}`]);
      for (const r of t) assert.equal(r.flush ?? false, seed % 2 === 1);
    }
  });
});

describe("decoders under mutation: typed errors only", () => {
  // A small deterministic generator (xorshift32): failures reproduce from the seed in the message.
  const rng = (seed: number) => () => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) / 0x100000000; };

  function mutate(input: Uint8Array, next: () => number): Uint8Array {
    const out = [...input];
    for (let n = 1 + Math.floor(next() * 4); n > 0; n--) {
      const at = Math.floor(next() * (out.length + 1));
      const op = next();
      if (op < 0.4 && out.length > 0) out[Math.min(at, out.length - 1)] = Math.floor(next() * 256);
      else if (op < 0.6) out.splice(at, 0, [0xc0, 0x3f, 0x00, 0xff][Math.floor(next() * 4)]!);
      else if (op < 0.8) out.splice(at, 1);
      else out.length = Math.min(out.length, at);
    }
    return new Uint8Array(out);
  }

  test("DNS: 20 000 mutated replies (from dns-packet, with compression bits) decode or throw DnsError", () => {
    const seeds = [dnsPacket.encode({ type: "response", id: 1, flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: [{ type: "PTR", name: "_onboard-hub._tcp.local" }],
      answers: [{ type: "PTR", name: "_onboard-hub._tcp.local", ttl: 1, data: "a._onboard-hub._tcp.local" }],
      additionals: [{ type: "SRV", name: "a._onboard-hub._tcp.local", ttl: 1, data: { port: 1, target: "h.local" } }, { type: "TXT", name: "a._onboard-hub._tcp.local", ttl: 1, data: ["v=1"] }, { type: "A", name: "h.local", ttl: 1, data: "1.2.3.4" }] })];
    const next = rng(0x5eed);
    for (let i = 0; i < 20_000; i++) {
      const bytes = mutate(new Uint8Array(seeds[0]!), next);
      try {
        decodeMessage(bytes);
      } catch (e) {
        assert.ok(e instanceof DnsError, `input ${Buffer.from(bytes).toString("hex")}: ${String(e)}`);
      }
    }
  });

  test("pair replies and emoncms texts: 5 000 mutated bodies each decode or throw their typed error", () => {
    const pairBody = Buffer.from(JSON.stringify({ status: "released", mqtt: { url: "mqtts://h:1", client_id: "c", username: "u", password: "p", base_topic: "b", ca: "-----BEGIN CERTIFICATE-----" } }));
    const next = rng(0xbeef);
    for (let i = 0; i < 5_000; i++) {
      const body = mutate(new Uint8Array(pairBody), next);
      for (const status of [200, 202, 400, 403, 429]) {
        try {
          decodePairReply({ status, reason: "", headers: {}, body }, 0);
        } catch (e) {
          assert.ok(e instanceof PairReplyError, `status ${status}, body ${Buffer.from(body).toString("hex")}: ${String(e)}`);
        }
      }
      const text = Buffer.from(mutate(new Uint8Array(Buffer.from("user:pass:emon:8883")), next)).toString("latin1");
      try {
        parseEmoncmsReply(text);
      } catch (e) {
        assert.ok(e instanceof EmoncmsReplyError, `${JSON.stringify(text)}: ${String(e)}`);
      }
    }
  });
});

// ---- discovery over real UDP

describe("discovery over real UDP", () => {
  test("DNS-SD first; the host name's A record when no service answers; the announcement last", async () => {
    const responder = new Responder();
    const mdnsPort = await responder.start();
    const udpPort = await freeUdpPort();
    const { ctx } = context();
    try {
      responder.hub = { address: "127.0.0.1", port: 19443 };
      assert.deepEqual(await discoverHub(ctx.io, hubConfig({ mdnsServer: `127.0.0.1:${mdnsPort}`, udpPort })), { address: "127.0.0.1", port: 19443, via: "dns-sd" });
      assert.deepEqual(responder.asked, ["PTR _onboard-hub._tcp.local"]);

      responder.answerPtr = false;
      responder.asked.length = 0;
      assert.deepEqual(await discoverHub(ctx.io, hubConfig({ mdnsServer: `127.0.0.1:${mdnsPort}`, udpPort, discoveryTimeoutMs: 300 })), { address: "127.0.0.1", port: 8443, via: "mdns" });
      assert.deepEqual(responder.asked, ["PTR _onboard-hub._tcp.local", "A emonpi.local"]);

      responder.hub = undefined;
      responder.asked.length = 0;
      const a = announcer(udpPort);
      try {
        assert.deepEqual(await discoverHub(ctx.io, hubConfig({ mdnsServer: `127.0.0.1:${mdnsPort}`, udpPort, discoveryTimeoutMs: 300, port: 8080 })), { address: "127.0.0.1", port: 8080, via: "udp" });
      } finally {
        a.stop();
      }
      assert.deepEqual(responder.asked, ["PTR _onboard-hub._tcp.local", "A emonpi.local"]);
    } finally {
      responder.close();
    }
  });

  test("a reply with another ID or garbage is ignored; the right one is taken", async () => {
    const s = createSocket("udp4");
    s.on("message", (msg, from) => {
      const q = dnsPacket.decode(msg);
      const answer = (id: number) => dnsPacket.encode({ type: "response", id, flags: dnsPacket.AUTHORITATIVE_ANSWER, answers: [{ type: "A", name: "emonpi.local", ttl: 1, data: "127.0.0.9" }] });
      s.send(answer((q.id! + 1) & 0xffff), from.port, from.address);
      s.send(Buffer.from([1, 2, 3]), from.port, from.address);
      s.send(answer(q.id!), from.port, from.address);
    });
    s.bind(0, "127.0.0.1");
    await once(s, "listening");
    try {
      const { ctx } = context();
      const found = await discoverHub(ctx.io, hubConfig({ service: "", mdnsServer: `127.0.0.1:${s.address().port}` }));
      assert.deepEqual(found, { address: "127.0.0.9", port: 8443, via: "mdns" });
    } finally {
      s.close();
    }
  });
});

// ---- TLS trust on first use

describe("TLS trust on first use", () => {
  test("the simulator reports the leaf's SPKI hash (RSA and EC) and the HTTP client refuses another key before writing", async () => {
    for (const cert of [hubCert, impostorCert]) {
      let received = 0;
      const server = createTlsServer({ key: cert.keyPem, cert: cert.certPem }, (s) => s.on("data", (d: Buffer) => { received += d.length; }));
      server.listen(0, "127.0.0.1");
      await once(server, "listening");
      const port = (server.address() as AddressInfo).port;
      const { ctx } = context();
      let seen: Uint8Array | undefined;
      const wrong = new Uint8Array(32).fill(7);
      await assert.rejects(
        httpFetch(ctx.io, `https://127.0.0.1:${port}/x`, { pin: { expected: wrong, seen: (k) => { seen = k; } } }),
        (e: unknown) => e instanceof HttpError && e.code === "pin-mismatch" && e.message.includes(keyOf(cert.certPem).toString("hex")),
      );
      assert.deepEqual(Buffer.from(seen!), keyOf(cert.certPem));
      await new Promise((r) => setTimeout(r, 100)); // let any stray bytes arrive before counting
      assert.equal(received, 0, "the server got no request byte");
      server.close();
    }
  });

  test("trust on first use keeps the board profile: a TLS 1.3-only hub is refused, a TLS 1.2 one is not", async () => {
    for (const [minVersion, accepted] of [["TLSv1.3", false], ["TLSv1.2", true]] as const) {
      const server = createTlsServer({ key: hubCert.keyPem, cert: hubCert.certPem, minVersion }, (s) => s.on("error", () => {}));
      server.listen(0, "127.0.0.1");
      await once(server, "listening");
      try {
        const { ctx } = context();
        const probe = probeServerKey(ctx.io, "127.0.0.1", (server.address() as AddressInfo).port);
        if (accepted) assert.deepEqual(Buffer.from(await probe), keyOf(hubCert.certPem));
        else await assert.rejects(probe, (e: unknown) => (e as { code?: string }).code === "unreachable" && /tls/.test((e as Error).message));
      } finally {
        server.close();
      }
    }
  });

  test("first use pins the hub key, shows the pairing code, polls with one nonce, and gets the credentials", async () => {
    const hub = new TestHub(hubCert, (r, n) => (n < 3 ? pending(codeOf(keyOf(hubCert.certPem), r.public_key, r.nonce)) : releasedAnswer(r)));
    const port = await hub.listen();
    const responder = new Responder();
    const mdnsPort = await responder.start();
    responder.hub = { address: "127.0.0.1", port };
    try {
      const { ctx, device } = context();
      const result = await hubStrategy(hubConfig({ mdnsServer: `127.0.0.1:${mdnsPort}` })).obtain(ctx);
      assert.equal(result.ok, true, JSON.stringify(result));
      const creds = (result as Extract<StrategyResult, { ok: true }>).credentials;
      assert.deepEqual(creds.state, { mode: "secure", hubKey: hub.key.toString("hex"), hubAddress: "127.0.0.1", hubPort: port });
      assert.equal(creds.mqtt.brokerUrl, "mqtts://127.0.0.1:8883");
      assert.equal(creds.mqtt.clientId, ctx.nodeId);
      assert.equal(creds.mqtt.password?.revealString(), "pw-123");
      assert.equal(creds.mqtt.serverName, "localhost");
      assert.deepEqual(creds.mqtt.topics, { telemetry: `hub/${ctx.nodeId}/telemetry`, status: `hub/${ctx.nodeId}/status`, command: `hub/${ctx.nodeId}/in` });
      assert.equal(hub.requests.length, 3);
      assert.ok(hub.requests.every((r) => r.valid), "every request verified against the hub's key");
      assert.equal(new Set(hub.requests.map((r) => r.nonce)).size, 1, "one nonce for the whole run");
      const logged = device.logs.filter((l) => l.event === "hub-pairing-code");
      assert.equal(logged.length, 1, "the code is shown once per run");
      assert.equal(logged[0]!.fields.code, hub.requests[0]!.code, "the device's code is the hub's");
      assert.equal(device.logs.filter((l) => l.event === "hub-pairing-code-differs").length, 0);
      assert.ok(!JSON.stringify(device.logs).includes("pw-123"), "the password is not logged");
    } finally {
      responder.close();
      await hub.close();
    }
  });

  test("a stored pin: the same key is accepted; an impostor with another key is refused and gets zero bytes", async () => {
    const hub = new TestHub(hubCert, (r) => releasedAnswer(r));
    const port = await hub.listen();
    const state = { mode: "secure", hubKey: hub.key.toString("hex"), hubAddress: "127.0.0.1", hubPort: port };
    try {
      const same = await hubStrategy(hubConfig({ service: "" })).obtain(context(state).ctx);
      assert.equal(same.ok, true, JSON.stringify(same));
      assert.equal(hub.requests.length, 1, "no probe connection with a stored pin: the request went straight out");
    } finally {
      await hub.close();
    }

    let received = 0;
    let connections = 0;
    const closed: Promise<unknown>[] = [];
    const impostor = createTlsServer({ key: impostorCert.keyPem, cert: impostorCert.certPem }, (s: TLSSocket) => {
      connections++;
      closed.push(once(s, "close"));
      s.on("data", (d: Buffer) => { received += d.length; });
      s.on("error", () => {});
    });
    impostor.listen(0, "127.0.0.1");
    await once(impostor, "listening");
    try {
      const impostorPort = (impostor.address() as AddressInfo).port;
      const { ctx, device } = context({ ...state, hubPort: impostorPort });
      const result = failure(await hubStrategy(hubConfig({ service: "" })).obtain(ctx));
      assert.equal(result.kind, "refused");
      assert.match(result.detail, /hub key changed/);
      assert.ok(result.detail.includes(keyOf(impostorCert.certPem).toString("hex")), "the detail names the key seen");
      await Promise.all(closed);
      assert.equal(connections, 1, "the handshake completed once");
      assert.equal(received, 0, "the impostor received zero request bytes");
      assert.equal(device.logs.filter((l) => l.event === "hub-pairing-code").length, 1);
    } finally {
      impostor.close();
    }
  });

  test("M5: with the hub key pinned in the factory config, a rogue hub answering the very first pairing gets zero request bytes and releases nothing", async () => {
    let received = 0;
    const closed: Promise<unknown>[] = [];
    const rogue = createTlsServer({ key: impostorCert.keyPem, cert: impostorCert.certPem }, (s: TLSSocket) => {
      closed.push(once(s, "close"));
      s.on("data", (d: Buffer) => { received += d.length; });
      s.on("error", () => {});
    });
    rogue.listen(0, "127.0.0.1");
    await once(rogue, "listening");
    try {
      const { ctx, device } = context(); // blank unit: nothing pinned on first use yet
      const config = hubConfig({ service: "", address: "127.0.0.1", port: (rogue.address() as AddressInfo).port, hubKey: keyOf(hubCert.certPem).toString("hex") });
      const result = failure(await hubStrategy(config).obtain(ctx));
      assert.equal(result.kind, "refused", JSON.stringify(result));
      assert.ok(result.detail.includes(keyOf(impostorCert.certPem).toString("hex")), "the detail names the rogue key");
      await Promise.all(closed);
      assert.equal(received, 0, "the rogue hub received no request byte");
      assert.ok(!device.logs.some((l) => l.event === "hub-key-pinned"), "nothing pinned on first use");
    } finally {
      rogue.close();
    }
    // Without a factory pin, trust on first use must be asked for explicitly.
    assert.throws(() => hubConfig({ trustOnFirstUse: false }), /hubKey|trustOnFirstUse/);
  });

  test("an impostor relaying to the real hub: the request is signed for the impostor's key and fails; the codes differ", async () => {
    const hub = new TestHub(hubCert, (r) => releasedAnswer(r));
    const hubPort = await hub.listen();
    const relay = createTlsServer({ key: impostorCert.keyPem, cert: impostorCert.certPem }, (s: TLSSocket) => {
      const upstream = tlsConnect({ host: "127.0.0.1", port: hubPort, rejectUnauthorized: false });
      s.pipe(upstream).pipe(s);
      s.on("error", () => upstream.destroy());
      upstream.on("error", () => s.destroy());
    });
    relay.listen(0, "127.0.0.1");
    await once(relay, "listening");
    try {
      const { ctx, device } = context();
      const result = failure(await hubStrategy(hubConfig({ service: "", address: "127.0.0.1", port: (relay.address() as AddressInfo).port })).obtain(ctx));
      assert.equal(result.kind, "refused");
      assert.equal(result.status, 400);
      assert.equal(hub.requests.length, 1);
      assert.equal(hub.requests[0]!.valid, false, "the real hub rejected the signature");
      const deviceCode = device.logs.find((l) => l.event === "hub-pairing-code")!.fields.code;
      assert.notEqual(deviceCode, hub.requests[0]!.code, "the two screens show different codes");
      assert.equal(deviceCode, codeOf(keyOf(impostorCert.certPem), hub.requests[0]!.public_key, hub.requests[0]!.nonce));
    } finally {
      relay.close();
      await hub.close();
    }
  });
});

// ---- typed failures, moving hub, timeout

describe("secure replies → typed failures", () => {
  const cases: [string, Answer, (f: ReturnType<typeof failure>) => void][] = [
    ["403 denied", { status: 403, body: { status: "denied" } }, (f) => assert.equal(f.kind, "denied")],
    ["400 error", { status: 400, body: { status: "error", message: "unknown version" } }, (f) => { assert.equal(f.kind, "refused"); assert.match(f.detail, /unknown version/); }],
    ["429 + Retry-After", { status: 429, body: { status: "busy" }, headers: { "Retry-After": "7" } }, (f) => { assert.equal(f.kind, "not-approved"); assert.equal(f.retryAfterMs, 7_000); }],
    ["503", { status: 503, body: "maintenance" }, (f) => { assert.equal(f.kind, "unreachable"); assert.equal(f.status, 503); }],
    ["oversize", { status: 202, body: { status: "pending", pairing_code: "123 456", pad: "x".repeat(17 * 1024) } }, (f) => { assert.equal(f.kind, "malformed-reply"); assert.match(f.detail, /exceeds/); }],
    ["not JSON", { status: 202, body: "<html>" }, (f) => assert.equal(f.kind, "malformed-reply")],
    ["200 with a plain mqtt:// URL", { status: 200, body: { status: "released", mqtt: { url: "mqtt://x:1883" } } }, (f) => assert.equal(f.kind, "malformed-reply")],
  ];
  for (const [name, answer, expect] of cases) {
    test(name, async () => {
      const hub = new TestHub(hubCert, () => answer);
      const port = await hub.listen();
      try {
        expect(failure(await hubStrategy(hubConfig({ service: "", address: "127.0.0.1", port })).obtain(context().ctx)));
      } finally {
        await hub.close();
      }
    });
  }

  test("the device lifecycle: a chain of just \"hub\" needs no broker, and a denial parks the device in onboarding-denied", async () => {
    const hub = new TestHub(hubCert, () => ({ status: 403, body: { status: "denied" } }));
    const port = await hub.listen();
    const sim = createSimDevice();
    devices.push(sim);
    try {
      const factory = parseFactoryConfig({ chain: ["hub"], hub: { address: "127.0.0.1", port, service: "", udpPort: 0, pollIntervalMs: 100, trustOnFirstUse: true }, retry: { attempts: 2, initialMs: 100, maxMs: 400 } });
      const device = new Device(sim.io, { telemetryIntervalMs: 0, keepaliveSeconds: 30, factory });
      const states: string[] = [];
      device.on((e: DeviceEvent) => { if (e.type === "state") states.push(e.reason ? `${e.state}: ${e.reason}` : e.state); });
      device.boot();
      const start = Date.now();
      while (device.state !== "onboarding-denied") {
        assert.ok(Date.now() - start < 15_000, `stuck in ${device.state}: ${states.join(" | ")}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.match(states.at(-1)!, /^onboarding-denied: hub: a person denied this device/);
      assert.ok(!states.some((s) => s.startsWith("onboarding-backoff")), "no back-off: the device stopped asking");
      assert.equal(hub.requests.length, 1);
      device.shutdown();
    } finally {
      await hub.close();
    }
  });

  test("a hub that moved is found again at its new address (same key), with the same nonce", async () => {
    const responder = new Responder();
    const mdnsPort = await responder.start();
    const first = new TestHub(hubCert, () => pending());
    const firstPort = await first.listen("127.0.0.1");
    responder.hub = { address: "127.0.0.1", port: firstPort };
    const second = new TestHub(hubCert, (r) => releasedAnswer(r));
    const { ctx } = context();
    const strategy = hubStrategy(hubConfig({ mdnsServer: `127.0.0.1:${mdnsPort}`, pollIntervalMs: 300 }));
    const result = strategy.obtain(ctx);
    try {
      while (first.requests.length === 0) await new Promise((r) => setTimeout(r, 20));
      await first.close();
      const secondPort = await second.listen("127.0.0.2");
      responder.hub = { address: "127.0.0.2", port: secondPort };
      const done = await result;
      assert.equal(done.ok, true, JSON.stringify(done));
      const state = (done as Extract<StrategyResult, { ok: true }>).credentials.state!;
      assert.equal(state.hubAddress, "127.0.0.2");
      assert.equal(state.hubPort, secondPort);
      assert.equal(second.requests[0]!.nonce, first.requests[0]!.nonce, "the same pairing run");
      assert.deepEqual(responder.asked.filter((q) => q.startsWith("PTR")).length, 2, "discovery ran again");
    } finally {
      responder.close();
      await second.close().catch(() => {});
    }
  });

  test("no decision within approvalTimeoutMs: not-approved, and the next run has a fresh nonce", async () => {
    const hub = new TestHub(hubCert, () => pending());
    const port = await hub.listen();
    try {
      const { ctx } = context();
      const strategy = hubStrategy(hubConfig({ service: "", address: "127.0.0.1", port, approvalTimeoutMs: 1_000, pollIntervalMs: 200 }));
      const f = failure(await strategy.obtain(ctx));
      assert.equal(f.kind, "not-approved");
      assert.match(f.detail, /no decision/);
      const polls = hub.requests.length;
      assert.ok(polls >= 2, `polled ${polls} times`);
      failure(await strategy.obtain(ctx));
      assert.notEqual(hub.requests[polls]!.nonce, hub.requests[0]!.nonce, "a new run, a new nonce");
    } finally {
      await hub.close();
    }
  });

  test("no hub anywhere: unreachable after discovery", async () => {
    const silent = await freeUdpPort();
    const f = failure(await hubStrategy(hubConfig({ mdnsServer: `127.0.0.1:${silent}`, discoveryTimeoutMs: 200 })).obtain(context().ctx));
    assert.equal(f.kind, "unreachable");
    assert.match(f.detail, /no hub found/);
  });
});

// ---- emoncms dialect

describe("emoncms dialect", () => {
  async function emoncmsHub(replies: string[]): Promise<{ server: NetServer; port: number; paths: string[] }> {
    const paths: string[] = [];
    const server = createHttpServer((req, res) => {
      paths.push(`${req.method} ${req.url}`);
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.end(replies[Math.min(paths.length - 1, replies.length - 1)]);
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return { server, port: (server.address() as AddressInfo).port, paths };
  }

  test("found by its UDP announcement; pending, then user:password:basetopic:port", async () => {
    const { server, port, paths } = await emoncmsHub(["request registered", "Authentication request registered for IP 127.0.0.1", "emonpi:pw:emon:8884", "unused"]);
    const udpPort = await freeUdpPort();
    const silent = await freeUdpPort();
    const a = announcer(udpPort);
    try {
      const { ctx } = context();
      const config = hubConfig({ mode: "emoncms", port, udpPort, mdnsServer: `127.0.0.1:${silent}`, discoveryTimeoutMs: 300, broker: { ca: pki.caPem, serverName: "localhost" } });
      const result = await hubStrategy(config).obtain(ctx);
      assert.equal(result.ok, true, JSON.stringify(result));
      const { mqtt, state } = (result as Extract<StrategyResult, { ok: true }>).credentials;
      assert.equal(mqtt.brokerUrl, "mqtts://127.0.0.1:8884");
      assert.equal(mqtt.username, "emonpi");
      assert.equal(mqtt.password?.revealString(), "pw");
      assert.equal(mqtt.ca, pki.caPem);
      assert.equal(mqtt.topics?.telemetry, `emon/${ctx.nodeId}/telemetry`);
      assert.deepEqual(state, { mode: "emoncms", hubAddress: "127.0.0.1", hubPort: port });
      assert.deepEqual(paths, Array(3).fill("GET /emoncms/device/auth/request.json"));
    } finally {
      a.stop();
      server.close();
    }
  });

  test("a password with ':' is a malformed reply that says why", async () => {
    const { server, port } = await emoncmsHub(["emonpi:pass:word:emon:1883"]);
    try {
      const f = failure(await hubStrategy(hubConfig({ mode: "emoncms", service: "", address: "127.0.0.1", port })).obtain(context().ctx));
      assert.equal(f.kind, "malformed-reply");
      assert.match(f.detail, /password .*":"/);
      assert.ok(!f.detail.includes("pass:word"));
    } finally {
      server.close();
    }
  });
});
