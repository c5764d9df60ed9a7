// The firmware core against Debian's Mosquitto over TLS, watched by an independent client
// (mqtt.js): the broker dies mid-session and comes back; every QoS 1 telemetry message the device
// produced, before, during and after the outage, must reach the subscriber.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { connect, type MqttClient } from "mqtt";
import { generateIdentity, nodeIdOf } from "../../src/identity/identity.js";
import { Device, type DeviceEvent } from "../../src/lifecycle/device.js";
import { Secret } from "../../src/secrets/secret.js";
import { CredentialStore } from "../../src/storage/credential-store.js";
import { generateTestPki, type TestPki } from "../../host-sim/certs/pki.js";
import { startMosquitto, type MosquittoBroker } from "../../host-sim/broker/mosquitto.js";
import { createSimDevice, type HostSimDevice } from "../../host-sim/sim-device.js";
import { nodeCrypto } from "../../host-sim/io/node-crypto.js";

const DEVICE = { username: "device", password: "device-password" };
const OBSERVER = { username: "observer", password: "observer-password" };

let dir: string;
let pki: TestPki;
let broker: MosquittoBroker;
const cleanups: (() => void | Promise<void>)[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "mosquitto-interop-"));
  pki = generateTestPki(join(dir, "pki"));
  broker = await startMosquitto({ pki, users: { [DEVICE.username]: DEVICE.password, [OBSERVER.username]: OBSERVER.password } });
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await broker?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** Resolves when `condition` holds; polls on real time, fails with `what` after `ms`. */
async function until(condition: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n--- mosquitto log ---\n${broker.logTail(30)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function provisionedDevice(): { sim: HostSimDevice; nodeId: string } {
  const sim = createSimDevice();
  const identity = generateIdentity(sim.io);
  const nodeId = nodeIdOf(nodeCrypto, identity);
  new CredentialStore(sim.io.storage).save({
    version: 1,
    identity,
    mqtt: {
      brokerUrl: `mqtts://localhost:${broker.port}`,
      clientId: nodeId,
      username: DEVICE.username,
      password: Secret.fromString(DEVICE.password),
      ca: pki.caPem,
    },
  });
  return { sim, nodeId };
}

/** mqtt.js on a persistent session (clean: false) so the broker queues QoS 1 messages for it. */
async function observer(clientId: string, filter: string): Promise<{ client: MqttClient; messages: { topic: string; payload: string; retain: boolean }[] }> {
  const messages: { topic: string; payload: string; retain: boolean }[] = [];
  const client = connect({
    protocol: "mqtts", host: "localhost", port: broker.port, ca: pki.caPem, protocolVersion: 4,
    clientId, clean: false, reconnectPeriod: 100, connectTimeout: 5_000, ...OBSERVER,
  });
  cleanups.push(() => client.endAsync(true));
  client.on("message", (topic, payload, packet) => messages.push({ topic, payload: payload.toString("utf8"), retain: packet.retain }));
  client.on("error", () => {}); // reconnects on its own; errors are expected while the broker is down
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", reject);
  });
  await client.subscribeAsync(filter, { qos: 1 });
  return { client, messages };
}

test("broker killed and restarted mid-session: the device reconnects and every QoS 1 message arrives", { timeout: 90_000 }, async (t) => {
  const { sim, nodeId } = provisionedDevice();
  const watch = await observer("interop-observer", `devices/${nodeId}/telemetry`);
  // The observer's subscription must survive a SIGKILL: have Mosquitto write its database now.
  await broker.persistNow();

  const device = new Device(sim.io, { telemetryIntervalMs: 100, keepaliveSeconds: 10, backoff: { initialMs: 300, maxMs: 2_000, minMs: 100 } });
  cleanups.push(() => device.shutdown());
  const states: string[] = [];
  let resent = 0;
  let dials = 0;
  device.on((e: DeviceEvent) => {
    if (e.type === "state") states.push(e.state);
    if (e.type === "mqtt" && e.event.type === "online") resent += e.event.resent;
    if (e.type === "mqtt" && e.event.type === "dialing") dials++;
  });
  device.boot();
  const seqs = () => new Set(watch.messages.map((m) => (JSON.parse(m.payload) as { seq: number }).seq));
  await until(() => seqs().size >= 5, "five telemetry messages before the outage");

  // Freeze the broker first so a few messages are surely in flight (sent, never acknowledged),
  // then kill it: no goodbye to anyone.
  const producedBeforeRestart = () => sim.logs.filter((r) => r.event === "telemetry").length;
  process.kill(broker.pid!, "SIGSTOP");
  const atFreeze = producedBeforeRestart();
  await until(() => producedBeforeRestart() >= atFreeze + 3, "messages sent into a frozen broker");
  await broker.kill();
  const atKill = producedBeforeRestart();
  await until(() => producedBeforeRestart() >= atKill + 8 && device.state !== "online", "telemetry produced while the broker is down");
  assert.ok(device.mqtt!.outboxSize > 0, "messages are held while the broker is down");

  const heldAtRestart = device.mqtt!.outboxSize;
  const dialsDuringOutage = dials - 1;
  await broker.restart();
  await until(() => device.state === "online", "the device back online");
  const lastSeq = producedBeforeRestart() + 3;
  await until(() => producedBeforeRestart() >= lastSeq && device.mqtt!.outboxSize === 0, "outbox drained after reconnect");
  device.shutdown();

  const produced = sim.logs.filter((r) => r.event === "telemetry").map((r) => r.fields.seq as number);
  await until(() => produced.every((s) => seqs().has(s)), "every telemetry message at the subscriber");
  assert.deepEqual([...seqs()].sort((a, b) => a - b), produced, "exactly the produced sequence numbers (duplicates allowed, none missing)");
  assert.ok(states.includes("backoff"), "the device backed off while the broker was away");
  assert.ok(resent >= 3, `in-flight messages resent with DUP after reconnect (${resent})`);
  assert.ok(states.lastIndexOf("online") > states.indexOf("backoff"), "and came back online");
  t.diagnostic(`produced ${produced.length} messages; ${heldAtRestart} held in the outbox at restart; ` +
    `${dialsDuringOutage} reconnect attempts during the outage; ${resent} resent with DUP; ` +
    `${watch.messages.length - seqs().size} duplicates at the subscriber`);
});

test("a device that loses power leaves its retained will: status goes to offline", { timeout: 30_000 }, async () => {
  const { sim, nodeId } = provisionedDevice();
  const device = new Device(sim.io, { telemetryIntervalMs: 0, keepaliveSeconds: 10 });
  device.boot();
  await until(() => device.state === "online", "online");
  const watch = await observer("status-observer", `devices/${nodeId}/status`);
  await until(() => watch.messages.some((m) => m.payload === '{"online":true}'), "retained online status");
  sim.io.shutdown(); // power gone: the socket drops with no MQTT DISCONNECT
  await until(() => watch.messages.some((m) => m.payload === '{"online":false}'), "the will, published by the broker");
});

test("wrong password: the device reports a typed refusal and stops retrying", { timeout: 30_000 }, async () => {
  const { sim } = provisionedDevice();
  const rebooted = sim.reboot();
  const store = new CredentialStore(rebooted.io.storage);
  const loaded = store.load();
  assert.equal(loaded.status, "ok");
  if (loaded.status !== "ok") return;
  store.save({ ...loaded.record, mqtt: { ...loaded.record.mqtt!, password: Secret.fromString("not the password") } });
  const device = new Device(rebooted.io, { telemetryIntervalMs: 0, keepaliveSeconds: 10 });
  const reasons: string[] = [];
  device.on((e) => { if (e.type === "state" && e.reason) reasons.push(e.reason); });
  device.boot();
  await until(() => device.state === "needs-onboarding", "needs-onboarding");
  // Mosquitto 2.0 answers a wrong password with CONNACK 5 (not authorised) on MQTT 3.1.1.
  assert.match(reasons.at(-1) ?? "", /credentials rejected: (not-authorized|bad-credentials)/);
  assert.ok(!rebooted.logs.some((r) => JSON.stringify(r).includes("not the password")), "password never logged");
});
