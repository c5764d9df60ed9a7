// Playback of the real Mainflux bootstrap service (issue 11, Deliver 3; issue 14, H4): a socket
// server writes exactly the bytes recorded from Mainflux 0.12.1, 0.13.0 and the 2023-08 master
// (test/fixtures/mainflux-bootstrap/recorded.json: status line, headers, body) to a simulated
// device that boots with a factory config naming that version, and the test checks what the device
// stores. The server's only logic is choosing which recorded exchange answers a request, as the real
// service would (the ID in the path, the key in the header, decrypted for /secure/); the bytes it
// sends are never ours. Over https the reply's broker and CA apply; over http (insecureTransport) they
// do not; over http without it nothing is even sent.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createTcpServer, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { generateTestPki, type TestPki } from "../../host-sim/certs/pki.js";
import { createSimDevice } from "../../host-sim/sim-device.js";
import { fromHex } from "../../src/bytes/bytes.js";
import { ConfigError, parseFactoryConfig, type FactoryConfig } from "../../src/config/factory-config.js";
import { Device, type DeviceEvent } from "../../src/lifecycle/device.js";
import { decryptExternalKey, serviceKeyBytes } from "../../src/onboarding/secure-bootstrap.js";
import { nodeCrypto } from "../../host-sim/io/node-crypto.js";
import { CredentialStore } from "../../src/storage/credential-store.js";
import { recordedJson, recordedVersion } from "../scenarios/bootstrap-recorded.scenario.js";
import { RECORDED, type RecordedConfig, type RecordedExchange } from "../scenarios/mainflux-recordings.js";
import { until } from "./until.js";

let dir: string;
let pki: TestPki;
const FLEET_BROKER = "mqtts://fleet.example:8883";

before(() => {
  dir = mkdtempSync(join(tmpdir(), "bootstrap-playback-"));
  pki = generateTestPki(join(dir, "pki"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("the recordings module holds exactly test/fixtures/mainflux-bootstrap/recorded.json", () => {
  const file = JSON.parse(readFileSync(new URL("../fixtures/mainflux-bootstrap/recorded.json", import.meta.url), "utf8")) as unknown;
  assert.deepEqual(JSON.parse(JSON.stringify(RECORDED)), file);
});

/** Which recorded exchange the real service would have answered this request with. */
function chooseExchange(entry: RecordedConfig, path: string, authorization: string | undefined): RecordedExchange {
  const pick = (name: string) => entry.exchanges.find((x) => x.case === name)!;
  const ok = pick("ok");
  const secure = entry.deviceConfig.secure;
  if (decodeURIComponent(path) !== decodeURIComponent(ok.path)) return pick("unknown-id");
  if (authorization === undefined) return pick("no-authorization");
  const scheme = entry.deviceConfig.generation === "thing" ? "Thing " : "";
  if (!authorization.startsWith(scheme)) return pick("other-scheme(Bearer)");
  const credential = authorization.slice(scheme.length);
  if (!secure) return credential === entry.deviceConfig.externalKey ? ok : pick("wrong-key");
  if (!/^([0-9a-fA-F]{2})+$/.test(credential)) return pick("secure-not-hex");
  // The service's key rule (0.12/0.13 hex-decode it; the 2023 master uses its ASCII bytes).
  const serviceKey = serviceKeyBytes(secure.key, recordedVersion(entry) === "mainflux-2023" ? "ascii" : "hex");
  const plain = decryptExternalKey(nodeCrypto, serviceKey, credential);
  return plain !== undefined && Buffer.from(plain).toString("utf8") === entry.deviceConfig.externalKey ? ok : pick("wrong-key");
}

/** The recorded response as bytes on the wire (a chunked body goes out as one chunk). */
function wireBytes(x: RecordedExchange): Buffer {
  const body = x.bodyHex !== undefined ? Buffer.from(fromHex(x.bodyHex)) : Buffer.from(x.bodyText ?? "", "utf8");
  const reason: Record<number, string> = { 200: "OK", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found" };
  let head = `HTTP/1.1 ${x.status} ${reason[x.status] ?? "Status"}\r\n`;
  for (const [name, value] of Object.entries(x.headers)) head += `${name}: ${value}\r\n`;
  const chunked = x.headers["transfer-encoding"] === "chunked";
  const payload = chunked ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from("\r\n0\r\n\r\n")]) : body;
  return Buffer.concat([Buffer.from(`${head}\r\n`), payload]);
}

interface Playback { readonly url: string; readonly requests: { path: string; authorization: string | undefined; answered: string }[]; close(): Promise<void> }

async function playback(entry: RecordedConfig, tls: boolean): Promise<Playback> {
  const requests: Playback["requests"] = [];
  const onSocket = (socket: Socket) => {
    let head = "";
    socket.on("data", (chunk: Buffer) => {
      head += chunk.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      const [requestLine, ...lines] = head.slice(0, end).split("\r\n");
      const path = requestLine!.split(" ")[1]!;
      const authorization = lines.find((l) => /^authorization:/i.test(l))?.replace(/^authorization:\s*/i, "");
      const exchange = chooseExchange(entry, path, authorization);
      requests.push({ path, authorization, answered: exchange.case });
      socket.end(wireBytes(exchange));
    });
    socket.on("error", () => undefined);
  };
  const server: Server = tls ? createTlsServer({ key: pki.serverKeyPem, cert: pki.serverCertPem }, onSocket) : createTcpServer(onSocket);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `${tls ? "https" : "http"}://localhost:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function factory(entry: RecordedConfig, url: string, extra: Record<string, unknown> = {}): FactoryConfig {
  const d = entry.deviceConfig;
  return parseFactoryConfig({
    chain: ["bootstrap"],
    broker: { url: FLEET_BROKER, ca: pki.wrongCaPem },
    retry: { attempts: 1, initialMs: 50, maxMs: 50, maxRounds: 1, parkedRetryMs: 3_600_000 },
    bootstrap: {
      url, version: recordedVersion(entry), externalKey: d.externalKey, ca: pki.caPem,
      ...(d.secure ? { secure: { key: d.secure.key, ...(d.secure.keyEncoding ? { keyEncoding: d.secure.keyEncoding } : {}) } } : {}),
      ...extra,
    },
  });
}

function boot(config: FactoryConfig, mac: string) {
  const sim = createSimDevice({ mac });
  const device = new Device(sim.io, { telemetryIntervalMs: 0, keepaliveSeconds: 30, backoff: { initialMs: 60_000, maxMs: 60_000, minMs: 60_000 }, factory: config });
  const failures: { kind: string; status?: number; detail: string }[] = [];
  device.on((e: DeviceEvent) => {
    if (e.type === "onboarding" && e.event.type === "failed") failures.push(e.event.failure);
  });
  device.boot();
  const stored = () => {
    const s = new CredentialStore(sim.io.storage).load();
    return s.status === "ok" ? s.record : undefined;
  };
  const stop = () => {
    device.shutdown();
    sim.io.shutdown();
  };
  return { sim, device, failures, stored, stop };
}

// 0525-…-default is the 2023 master refusing a hex-read key: with its version named the device
// sends the ASCII-key header instead (bootstrap-recorded.scenario.ts checks that); its "ok" bytes
// are a 403, so there is no reply of it to store.
const STORABLE = RECORDED.filter((e) => e.exchanges.find((x) => x.case === "ok")!.status === 200);

describe("bootstrap playback of the real Mainflux service", () => {
  test("13 recorded configs answer 200 (plain and secure, with and without certificates)", () => {
    assert.equal(STORABLE.length, 13);
    assert.ok(STORABLE.some((e) => e.deviceConfig.secure && e.file.endsWith("-all")), "secure with certificates");
  });

  for (const entry of STORABLE) {
    test(`${entry.file} (${entry.service}) over verified TLS: the device stores the recorded reply field for field`, async () => {
      const server = await playback(entry, true);
      const run = boot(factory(entry, server.url), entry.deviceConfig.externalId);
      try {
        await until("credentials persisted", () => run.stored()?.mqtt !== undefined || run.failures.length > 0);
        assert.deepEqual(run.failures, [], "no failure");
        assert.deepEqual(server.requests.map((r) => r.answered), ["ok"], "one request, answered with the recorded 200");
        assert.ok(!server.requests[0]!.path.includes("%3A"), "the MAC's colons unescaped in the path");
        const expected = JSON.parse(recordedJson(entry.exchanges.find((x) => x.case === "ok")!)!) as Record<string, string> & { mainflux_channels?: { id: string; metadata: { type: string } }[]; channels?: { id: string; metadata: { type: string } }[] };
        const prefix = "thing_id" in expected ? "thing" : "mainflux";
        const channels = (expected.channels ?? expected.mainflux_channels)!;
        const data = channels.find((c) => c.metadata.type === "data")!.id;
        const control = channels.find((c) => c.metadata.type === "control")!.id;
        const record = run.stored()!;
        const mqtt = record.mqtt!;
        assert.equal(mqtt.clientId, expected[`${prefix}_id`]);
        assert.equal(mqtt.username, expected[`${prefix}_id`]);
        assert.equal(mqtt.password?.revealString(), expected[`${prefix}_key`]);
        assert.equal(mqtt.brokerUrl, (JSON.parse(expected.content!) as { broker_url: string }).broker_url, "broker from the reply's content (verified TLS)");
        assert.equal(mqtt.ca, expected.ca_cert ?? pki.wrongCaPem, "CA from the reply when it has one (verified TLS)");
        assert.equal(mqtt.clientCertificate, expected.client_cert);
        assert.equal(mqtt.clientKey?.revealString(), expected.client_key);
        assert.deepEqual(mqtt.topics, { telemetry: `channels/${data}/messages`, status: `channels/${data}/messages/status`, command: `channels/${control}/messages/req` });
        assert.equal(record.strategy?.state.version, recordedVersion(entry));
        const logs = JSON.stringify(run.sim.logs);
        for (const secret of [entry.deviceConfig.externalKey, expected[`${prefix}_key`]!, ...(expected.client_key ? [expected.client_key.slice(40, 80)] : [])]) assert.ok(!logs.includes(secret), "no secret logged");
      } finally {
        run.stop();
        await server.close();
      }
    });
  }

  test("every recorded refusal reaches the device as a typed 'refused' with the recorded status (wrong key, unknown ID)", async () => {
    for (const entry of STORABLE) {
      for (const [what, mac, key] of [["wrong-key", entry.deviceConfig.externalId, "a-wrong-key"], ["unknown-id", "02:00:00:00:FF:FF", entry.deviceConfig.externalKey]] as const) {
        const server = await playback(entry, true);
        const config = factory(entry, server.url, { externalKey: key });
        const run = boot(config, mac);
        try {
          await until(`${entry.file} ${what}: failure`, () => run.failures.length > 0);
          const recorded = entry.exchanges.find((x) => x.case === what)!;
          assert.deepEqual(server.requests.map((r) => r.answered), [what], `${entry.file}: answered with the recorded ${what}`);
          assert.deepEqual([run.failures[0]!.kind, run.failures[0]!.status], ["refused", recorded.status], `${entry.file} ${what}`);
          assert.equal(run.stored()?.mqtt, undefined, "nothing stored");
        } finally {
          run.stop();
          await server.close();
        }
      }
    }
  });
});

describe("M7: the factory config's HTTP limit bounds the bootstrap reply (issue 14)", () => {
  // The largest recorded reply (a config with CA, client certificate and key) against a fleet that
  // set a 1 KiB body limit: refused while reading, typed, nothing stored; the default takes it.
  const largest = [...STORABLE].sort((a, b) => replyBytes(b) - replyBytes(a))[0]!;
  function replyBytes(e: RecordedConfig): number {
    const ok = e.exchanges.find((x) => x.case === "ok")!;
    return ok.bodyHex !== undefined ? ok.bodyHex.length / 2 : Buffer.byteLength(ok.bodyText ?? "");
  }

  test("M7: a recorded reply larger than limits.httpBodyBytes is a typed malformed-reply and nothing is stored", async () => {
    assert.ok(replyBytes(largest) > 1024, `the largest recorded reply is ${replyBytes(largest)} bytes`);
    const server = await playback(largest, true);
    const base = factory(largest, server.url);
    const run = boot({ ...base, limits: { mqttPacketBytes: 4096, httpBodyBytes: 1024, httpHeaderBytes: 4096 } }, largest.deviceConfig.externalId);
    try {
      await until("failure", () => run.failures.length > 0);
      assert.equal(run.failures[0]!.kind, "malformed-reply");
      assert.match(run.failures[0]!.detail, /exceeds 1024/);
      assert.equal(run.stored()?.mqtt, undefined, "nothing stored");
    } finally {
      run.stop();
      await server.close();
    }
  });
});

describe("H4: bootstrap over http:// (issue 14)", () => {
  const entry = RECORDED.find((e) => e.file === "013-thing-secure-all")!;

  test("H4: an http:// bootstrap URL is refused by the factory config unless insecureTransport is set", () => {
    assert.throws(() => factory(entry, "http://localhost:9"), (e: unknown) => e instanceof ConfigError && e.path === "bootstrap.url" && /insecureTransport/.test(e.message));
    const allowed = factory(entry, "http://localhost:9", { insecureTransport: true }).bootstrap!;
    assert.deepEqual([allowed.insecureTransport, allowed.requireContentExternalId], [true, true], "binding required by default over plain HTTP");
    assert.equal(factory(entry, "https://localhost:9").bootstrap!.requireContentExternalId, undefined, "not over https");
    assert.throws(() => parseFactoryConfig({ chain: ["register"], broker: { url: FLEET_BROKER }, register: { url: "http://localhost:9/register" } }), (e: unknown) => e instanceof ConfigError && e.path === "register.url");
  });

  test("H4: a strategy handed an http:// config without insecureTransport sends nothing and fails typed", async () => {
    const server = await playback(entry, false);
    const parsed = factory(entry, server.url, { insecureTransport: true });
    // A config built without the parser (the strategy checks again at run time).
    const config: FactoryConfig = { ...parsed, bootstrap: { ...parsed.bootstrap!, insecureTransport: false } };
    const run = boot(config, entry.deviceConfig.externalId);
    try {
      await until("failure", () => run.failures.length > 0);
      assert.equal(run.failures[0]!.kind, "not-applicable");
      assert.match(run.failures[0]!.detail, /^insecure-transport: /);
      assert.deepEqual(server.requests, [], "no request left the device");
      assert.ok(run.sim.logs.some((l) => l.event === "insecure-transport"), "logged");
      assert.ok(!JSON.stringify(run.sim.logs).includes(entry.deviceConfig.externalKey));
    } finally {
      run.stop();
      await server.close();
    }
  });

  test("H4: over http:// a reply whose content does not name the unit is refused by default (replayable to any unit)", async () => {
    const server = await playback(entry, false);
    const run = boot(factory(entry, server.url, { insecureTransport: true }), entry.deviceConfig.externalId);
    try {
      await until("failure", () => run.failures.length > 0);
      assert.equal(run.failures[0]!.kind, "malformed-reply");
      assert.match(run.failures[0]!.detail, /^reply-not-bound: /);
      assert.deepEqual(server.requests.map((r) => r.answered), ["ok"], "the recorded 200 was served");
      assert.equal(run.stored()?.mqtt, undefined, "nothing stored");
      assert.ok(run.sim.logs.some((l) => l.event === "reply-not-bound"));
    } finally {
      run.stop();
      await server.close();
    }
  });

  test("H4: register over http:// without insecureTransport sends nothing and fails typed", async () => {
    const server = await playback(entry, false);
    const config: FactoryConfig = {
      chain: ["register"], broker: { url: FLEET_BROKER }, retry: { attempts: 1, initialMs: 50, maxMs: 50, maxRounds: 1 },
      register: { url: `${server.url}/register`, fields: { deviceId: "deviceId", key: "key", secret: "secret" } },
    };
    const run = boot(config, "02:00:00:00:0E:01");
    try {
      await until("failure", () => run.failures.length > 0);
      assert.equal(run.failures[0]!.kind, "not-applicable");
      assert.match(run.failures[0]!.detail, /^insecure-transport: /);
      assert.deepEqual(server.requests, [], "no request left the device");
    } finally {
      run.stop();
      await server.close();
    }
  });

  test("H4: over http:// with insecureTransport (binding opted out) the recorded reply gives credentials but not its broker URL or CA", async () => {
    const server = await playback(entry, false);
    const run = boot(factory(entry, server.url, { insecureTransport: true, requireContentExternalId: false }), entry.deviceConfig.externalId);
    try {
      await until("credentials persisted", () => run.stored()?.mqtt !== undefined || run.failures.length > 0);
      assert.deepEqual(run.failures, []);
      const expected = JSON.parse(recordedJson(entry.exchanges[0]!)!) as Record<string, string>;
      const mqtt = run.stored()!.mqtt!;
      assert.equal(mqtt.username, expected.mainflux_id);
      assert.equal(mqtt.brokerUrl, FLEET_BROKER, "the factory broker, not the reply's broker_url");
      assert.equal(mqtt.ca, pki.wrongCaPem, "the factory CA, not the reply's ca_cert");
      const ignored = run.sim.logs.find((l) => l.event === "reply-fields-ignored");
      assert.ok(ignored && /content\.broker_url/.test(JSON.stringify(ignored)) && /ca_cert/.test(JSON.stringify(ignored)), "what was ignored is logged");
    } finally {
      run.stop();
      await server.close();
    }
  });
});
