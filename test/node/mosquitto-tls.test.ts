// Mutual TLS and dead-peer detection against Debian's Mosquitto, with the device's TLS in the
// board profile (TLS 1.2, the SDK's suites, RSA client keys only).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { generateIdentity, nodeIdOf } from "../../src/identity/identity.js";
import { Device, type DeviceEvent } from "../../src/lifecycle/device.js";
import { Secret } from "../../src/secrets/secret.js";
import { CredentialStore } from "../../src/storage/credential-store.js";
import type { MqttCredentials } from "../../src/storage/credential-record.js";
import { generateTestPki, type TestPki } from "../../host-sim/certs/pki.js";
import { startMosquitto, type MosquittoBroker } from "../../host-sim/broker/mosquitto.js";
import { createSimDevice, type HostSimDevice } from "../../host-sim/sim-device.js";
import { nodeCrypto } from "../../host-sim/io/node-crypto.js";

const DEVICE = { username: "device", password: "device-password" };
let dir: string;
let pki: TestPki;
let mtls: MosquittoBroker;
let plain: MosquittoBroker;
const devices: Device[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "mosquitto-tls-"));
  pki = generateTestPki(join(dir, "pki"));
  mtls = await startMosquitto({ pki, users: { [DEVICE.username]: DEVICE.password }, requireCertificate: true });
  plain = await startMosquitto({ pki, users: { [DEVICE.username]: DEVICE.password } });
});

after(async () => {
  for (const d of devices) d.shutdown();
  try { process.kill(plain.pid!, "SIGCONT"); } catch { /* already gone */ }
  await mtls?.dispose();
  await plain?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

async function until(condition: () => boolean, what: string, broker: MosquittoBroker, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n--- mosquitto log ---\n${broker.logTail(20)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function boot(broker: MosquittoBroker, mqtt: Partial<MqttCredentials>, keepaliveSeconds = 30): { device: Device; sim: HostSimDevice; events: DeviceEvent[] } {
  const sim = createSimDevice();
  const identity = generateIdentity(sim.io);
  new CredentialStore(sim.io.storage).save({
    version: 1,
    identity,
    mqtt: {
      brokerUrl: `mqtts://localhost:${broker.port}`,
      clientId: nodeIdOf(nodeCrypto, identity),
      username: DEVICE.username,
      password: Secret.fromString(DEVICE.password),
      ca: pki.caPem,
      ...mqtt,
    },
  });
  const device = new Device(sim.io, { telemetryIntervalMs: 0, keepaliveSeconds, backoff: { initialMs: 200, maxMs: 1_000, minMs: 100 } });
  devices.push(device);
  const events: DeviceEvent[] = [];
  device.on((e) => events.push(e));
  device.boot();
  return { device, sim, events };
}

test("mutual TLS: a device with the CA-issued RSA client certificate gets in", { timeout: 30_000 }, async () => {
  const { device } = boot(mtls, { clientCertificate: pki.client.certPem, clientKey: Secret.fromString(pki.client.keyPem) });
  await until(() => device.state === "online", "online with a client certificate", mtls);
});

test("mutual TLS: without a client certificate the broker refuses the handshake", { timeout: 30_000 }, async () => {
  const { device, events } = boot(mtls, {});
  const offline = () => events.flatMap((e) => (e.type === "mqtt" && e.event.type === "offline" ? [e.event] : []));
  await until(() => offline().length >= 1, "refusal", mtls);
  assert.notEqual(device.state, "online");
  const first = offline()[0]!;
  assert.ok(first.type === "offline" && first.socketError !== undefined, "refused at the transport");
});

test("dead peer: a broker that stops answering is detected by keepalive and the device reconnects", { timeout: 60_000 }, async () => {
  const { device, events } = boot(plain, {}, 1);
  await until(() => device.state === "online", "online", plain);
  process.kill(plain.pid!, "SIGSTOP"); // the broker hangs: TCP stays up, nothing answers
  const reasons = () => events.flatMap((e) => (e.type === "mqtt" && e.event.type === "offline" ? [e.event.reason] : []));
  await until(() => reasons().includes("keepalive-timeout"), "keepalive timeout", plain);
  process.kill(plain.pid!, "SIGCONT");
  await until(() => device.state === "online" && reasons().length > 0, "back online after the broker wakes up", plain);
});
