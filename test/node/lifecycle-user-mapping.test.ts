// The user-mapping publish that the broker never acknowledges is bounded. The broker here is a real
// aedes over TLS (the board profile on the device side) whose authorizePublish refuses RainMaker's
// mapping topic — aedes then drops the connection, as AWS IoT and HiveMQ do for an unauthorised
// publish — so the PUBACK never comes and the QoS 1 outbox would resend it at every reconnect.
// The device gives up after `maxSessions` sessions or `maxWaitMs`, keeps the pair in flash (no
// write), stops resending, reports "abandoned", and tries once more on the next boot.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Socket } from "node:net";
import { createServer, type Server } from "node:tls";
import { after, before, test } from "node:test";
import { Aedes } from "aedes";
import { generateTestPki, type TestPki } from "../../host-sim/certs/pki.js";
import { createSimDevice, type HostSimDevice } from "../../host-sim/sim-device.js";
import { generateIdentity, nodeIdOf } from "../../src/identity/identity.js";
import { Device, type DeviceConfig, type DeviceEvent } from "../../src/lifecycle/device.js";
import { mappingRequested } from "../../src/lifecycle/user-mapping-record.js";
import { Secret } from "../../src/secrets/secret.js";
import { CredentialStore } from "../../src/storage/credential-store.js";
import { until } from "./until.js";
import { nodeCrypto } from "../../host-sim/io/node-crypto.js";

const USER = "dev-1";
const PASSWORD = "dev-1-password";
let dir: string;
let pki: TestPki;
let server: Server;
let broker: Aedes;
let port: number;
const sockets = new Set<Socket>();
/** Mapping publishes the broker refused (and dropped the connection for). */
const refused: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "mapping-unacked-"));
  pki = generateTestPki(join(dir, "pki"));
  broker = await Aedes.createBroker({
    authenticate(_client, username, password, done) {
      done(null, username === USER && password?.toString("utf8") === PASSWORD);
    },
    authorizePublish(_client, packet, callback) {
      if (/^node\/[^/]+\/user\/mapping$/.test(packet.topic)) {
        refused.push(packet.topic);
        return callback(new Error("mapping topic not allowed"));
      }
      callback(null);
    },
  });
  server = createServer({ key: pki.serverKeyPem, cert: pki.serverCertPem, minVersion: "TLSv1.2" }, (s) => broker.handle(s));
  server.on("connection", (s: Socket) => { sockets.add(s); s.once("close", () => sockets.delete(s)); });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert.ok(address && typeof address === "object");
  port = address.port;
});
after(async () => {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  await new Promise<void>((resolve) => broker.close(() => resolve()));
  for (const s of sockets) s.destroy();
  await closed;
  rmSync(dir, { recursive: true, force: true });
});


/** A unit whose flash holds working MQTT credentials and a mapping pair still to be published. */
function unit(): { sim: HostSimDevice; nodeId: string } {
  const sim = createSimDevice();
  const identity = generateIdentity(sim.io);
  const nodeId = nodeIdOf(nodeCrypto, identity);
  new CredentialStore(sim.io.storage).save(mappingRequested({
    version: 1,
    identity,
    mqtt: { brokerUrl: `mqtts://localhost:${port}`, clientId: nodeId, username: USER, password: Secret.fromString(PASSWORD), ca: pki.caPem },
  }, "user-7", Secret.fromString("secret-key-7")));
  return { sim: sim.reboot(), nodeId };
}

function start(sim: HostSimDevice, userMapping: DeviceConfig["userMapping"]) {
  const device = new Device(sim.io, { telemetryIntervalMs: 0, keepaliveSeconds: 30, backoff: { initialMs: 100, maxMs: 200, minMs: 20 }, userMapping });
  const events: DeviceEvent[] = [];
  device.on((e) => events.push(e));
  device.boot();
  return { device, events };
}

const mapping = (events: DeviceEvent[]) => events.flatMap((e) => (e.type === "user-mapping" ? [e.status] : []));
const onlines = (events: DeviceEvent[]) => events.filter((e) => e.type === "state" && e.state === "online").length;

test("no PUBACK in maxSessions sessions → abandoned: pair kept, no more resending, the device stays online; the next boot tries once more", async () => {
  const { sim, nodeId } = unit();
  const topic = `node/${nodeId}/user/mapping`;
  const seen = () => refused.filter((t) => t === topic).length;
  const { device, events } = start(sim, { maxSessions: 3 });
  await until("abandoned", () => mapping(events).includes("abandoned"));
  assert.deepEqual(mapping(events), ["published", "abandoned"], "published once (the outbox resent it), then given up");
  assert.equal(seen(), 3, "sent in three sessions");
  assert.ok(sim.logs.some((r) => r.event === "user-mapping-abandoned" && r.fields["userId"] === "user-7" && r.fields["sessions"] === 3));
  // The next session is left alone: online, its status acknowledged, the mapping not sent again.
  const after = onlines(events);
  const acks = events.filter((e) => e.type === "mqtt" && e.event.type === "delivered").length;
  await until("online again", () => onlines(events) > after);
  await until("a PUBACK in the new session", () => events.filter((e) => e.type === "mqtt" && e.event.type === "delivered").length > acks);
  assert.equal(seen(), 3, "not resent after giving up");
  assert.equal(device.state, "online");
  assert.ok(!sim.logs.some((r) => r.event === "publish-refused"), "a dropped mapping is not a refused device");
  assert.equal(sim.flash.writeCount, 0, "nothing written");
  const kept = new CredentialStore(sim.io.storage).load();
  assert.ok(kept.status === "ok" && kept.record.user?.pending?.userId === "user-7", "the pair stays for a retry");
  assert.ok(!JSON.stringify(sim.logs).includes("secret-key-7"), "the secret key is never logged");
  device.shutdown();

  const rebooted = sim.reboot();
  const again = start(rebooted, { maxSessions: 1 });
  await until("published again on the next boot", () => mapping(again.events).includes("abandoned"));
  assert.deepEqual(mapping(again.events), ["published", "abandoned"]);
  assert.equal(seen(), 4, "one more try");
  again.device.shutdown();
  rebooted.io.shutdown();
});

test("no PUBACK within maxWaitMs → abandoned, whatever the session count", async () => {
  const { sim, nodeId } = unit();
  const topic = `node/${nodeId}/user/mapping`;
  const { device, events } = start(sim, { maxSessions: 1_000, maxWaitMs: 700 });
  await until("abandoned", () => mapping(events).includes("abandoned"));
  const record = sim.logs.find((r) => r.event === "user-mapping-abandoned");
  assert.ok(record && /within 700 ms/.test(String(record.fields["why"])), JSON.stringify(record));
  assert.ok(refused.some((t) => t === topic));
  const acked = (id: number) => events.some((e) => e.type === "mqtt" && e.event.type === "delivered" && e.event.messageId === id);
  await until("online", () => device.state === "online");
  const sent = refused.filter((t) => t === topic).length;
  const id = device.publishTelemetry({ probe: 1 });
  assert.ok(id !== undefined);
  await until("a reading acknowledged after giving up", () => acked(id));
  assert.equal(refused.filter((t) => t === topic).length, sent, "not resent after giving up");
  assert.equal(device.state, "online");
  device.shutdown();
  sim.io.shutdown();
});
