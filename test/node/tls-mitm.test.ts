// Man-in-the-middle attacks on the device's TLS (issue #13), on Node: each attacker of
// host-sim/net-faults/mitm.ts stands where the device expects its broker and its cloud. The
// device's MQTT client (with its password) and its HTTPS client must be refused with the
// verifier's typed reason, and the attacker must receive no application byte. Through a
// transparent proxy the real broker still works. The same attacks run inside XS in
// test/scenarios/tls-mitm.scenario.ts.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startEmbeddedBroker, type EmbeddedBroker } from "../../host-sim/broker/embedded.js";
import { generateTestPki, type TestPki } from "../../host-sim/certs/pki.js";
import { createNodeIo, type NodeIo } from "../../host-sim/io/node-io.js";
import { ATTACKS, EXPECTED_REASON, startTlsAttacker, type TlsAttacker } from "../../host-sim/net-faults/mitm.js";
import { startTcpProxy, type TcpProxy } from "../../host-sim/net-faults/proxy.js";
import { httpFetch } from "../../src/http/client.js";
import { MqttClient, type ClientEvent } from "../../src/mqtt/client.js";
import { Secret } from "../../src/secrets/secret.js";
import { until } from "./until.js";

const PASSWORD = "mitm-test-password-6f1d";
let dir: string;
let pki: TestPki;
const ios: NodeIo[] = [];

before(() => {
  dir = mkdtempSync(join(tmpdir(), "tls-mitm-"));
  pki = generateTestPki(join(dir, "pki"));
});
after(() => {
  for (const io of ios) io.shutdown();
  rmSync(dir, { recursive: true, force: true });
});

function device(): NodeIo {
  const io = createNodeIo({ log: "collect" });
  ios.push(io);
  return io;
}

async function mqttUntilSettled(io: NodeIo, host: string, port: number): Promise<ClientEvent[]> {
  const events: ClientEvent[] = [];
  const client = new MqttClient(io, {
    endpoint: { host, port, ca: pki.caPem, serverName: "localhost" },
    clientId: "mitm-victim", username: "device", password: Secret.fromString(PASSWORD), keepaliveSeconds: 30,
  });
  client.on((e) => events.push(e));
  client.start();
  await until("the client settles", () => events.some((e) => e.type === "offline" || e.type === "online"));
  client.stop();
  return events;
}

describe("attacks are refused before a byte of application data", () => {
  for (const kind of ATTACKS) {
    test(`${kind} → ${EXPECTED_REASON[kind]}`, async () => {
      const attacker: TlsAttacker = await startTlsAttacker(kind, pki, join(dir, kind));
      try {
        const io = device();
        const events = await mqttUntilSettled(io, attacker.host, attacker.port);
        const offline = events.find((e) => e.type === "offline");
        assert.ok(offline && offline.type === "offline", "MQTT went offline");
        assert.equal(offline.socketError?.kind, "tls");
        assert.equal(offline.socketError?.reason, EXPECTED_REASON[kind], offline.socketError?.message);
        assert.ok(!events.some((e) => e.type === "transport-up" || e.type === "online"), "never reached CONNECT");

        await assert.rejects(
          httpFetch(io, `https://localhost:${attacker.port}/bootstrap`, { ca: pki.caPem, json: { key: PASSWORD }, timeoutMs: 5000 }),
          (e: Error) => e.message.includes(EXPECTED_REASON[kind]),
        );

        const refusals = io.logs.filter((r) => r.scope === "tls" && r.event === "refused");
        assert.ok(refusals.length >= 2 && refusals.every((r) => r.fields.reason === EXPECTED_REASON[kind]), "each refusal logged with its reason");
        assert.ok(!JSON.stringify(io.logs).includes(PASSWORD), "no secret in the logs");

        const report = attacker.report();
        assert.ok(report.connections >= 2, "the attacker was reached");
        assert.equal(report.applicationBytes, 0, "no application_data record reached the attacker");
        assert.equal(report.plaintextBytes, 0, "the attacker decrypted nothing");
        assert.ok(!report.received.includes(Buffer.from(PASSWORD)), "the password never crossed in clear");
      } finally {
        await attacker.close();
      }
    });
  }

  test("the device clock decides the dates: a valid certificate with the clock years ahead is expired", async () => {
    const broker: EmbeddedBroker = await startEmbeddedBroker({ pki: embeddedPki(pki), users: { device: PASSWORD } });
    try {
      const io = createNodeIo({ log: "collect", clockStartsAt: Date.now() + 20 * 365 * 86_400_000 });
      ios.push(io);
      const events = await mqttUntilSettled(io, "127.0.0.1", broker.port);
      const offline = events.find((e) => e.type === "offline");
      assert.equal(offline?.type === "offline" ? offline.socketError?.reason : undefined, "expired");
    } finally {
      await broker.close();
    }
  });
});

describe("the real server through a transparent proxy", () => {
  let broker: EmbeddedBroker;
  let proxy: TcpProxy;
  before(async () => {
    broker = await startEmbeddedBroker({ pki: embeddedPki(pki), users: { device: PASSWORD } });
    proxy = await startTcpProxy({ target: { host: "127.0.0.1", port: broker.port } });
  });
  after(async () => {
    await proxy.close();
    await broker.close();
  });

  test("connects, verified, with leaf + intermediate", async () => {
    const io = device();
    const events = await mqttUntilSettled(io, proxy.host, proxy.port);
    assert.ok(events.some((e) => e.type === "online"), JSON.stringify(events.filter((e) => e.type === "offline")));
    assert.ok(io.logs.some((r) => r.scope === "tls" && r.event === "verified" && r.fields.chain === true));
  });
});

function embeddedPki(p: TestPki) {
  return { caPem: p.caPem, serverCertPem: p.serverCertPem, serverKeyPem: p.serverKeyPem };
}
