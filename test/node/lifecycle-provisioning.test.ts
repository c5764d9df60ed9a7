// The lifecycle with radios, end to end on Node: a device whose flash holds no Wi-Fi credentials
// opens the BLE provisioning window by itself, the phone-app stand-in provisions it over the
// simulated BLE link, the device stores the network, joins, connects to a real Mosquitto over TLS
// and (secret-key method) publishes the user mapping that the reference cloud confirms. Also: a
// rejected passphrase reported to the app and corrected, a reboot that goes online without the
// window and without a flash write, and a factory reset that reopens the window.
import assert from "node:assert/strict";
import { randomFillSync } from "node:crypto";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { generateIdentity, nodeIdOf } from "../../src/identity/identity.js";
import { Device, type DeviceConfig, type DeviceEvent } from "../../src/lifecycle/device.js";
import { ProvisioningClient } from "../../src/provisioning/client.js";
import { CHALLENGE_SIGNATURE, parseFactoryConfig } from "../../src/config/factory-config.js";
import type { SecurityVersion } from "../../src/provisioning/security.js";
import { DEFAULT_SERVICE_UUID } from "../../src/provisioning/uuid.js";
import { Secret } from "../../src/secrets/secret.js";
import { CredentialStore } from "../../src/storage/credential-store.js";
import { BleProtocommTransport, SimBleRadio } from "../../host-sim/ble/link.js";
import { CloudApiClient, startCloudApi, type CloudApiServer } from "../../host-sim/cloud/user-mapping/http-api.js";
import { attachMappingSubscriber } from "../../host-sim/cloud/user-mapping/mqtt-bridge.js";
import { UserMappingCloud } from "../../host-sim/cloud/user-mapping/service.js";
import { provisionDevice, waitForMapping } from "../../host-sim/provisioning/app.js";
import { withRadios } from "../../host-sim/provisioning/kit.js";
import { HttpProtocommTransport, startHttpTransport } from "../../host-sim/provisioning/http-transport.js";
import { createSimDevice, type HostSimDevice } from "../../host-sim/sim-device.js";
import { startScenarioBroker, type ScenarioBroker } from "../support/scenario-broker.js";
import { until } from "./until.js";
import { nodeCrypto } from "../../host-sim/io/node-crypto.js";

const random = (b: Uint8Array): void => void randomFillSync(b);
const POP = "lifecycle-pop-42";
let broker: ScenarioBroker;
let cloud: UserMappingCloud;
let api: CloudApiServer;
let subscriber: { close(): Promise<void> };

before(async () => {
  broker = await startScenarioBroker();
  cloud = new UserMappingCloud();
  api = await startCloudApi(cloud);
  const env = broker.env;
  subscriber = await attachMappingSubscriber(cloud, { url: `mqtts://${env.host}:${env.port}`, username: env.observer.username, password: env.observer.password, ca: env.ca });
});
after(async () => {
  await subscriber.close();
  await api.close();
  await broker.stop();
});

function config(security: SecurityVersion, challenge = false): DeviceConfig {
  return {
    // ch_resp only with a factory config naming a mapping cloud that verifies our signatures (the reference cloud's API).
    ...(challenge ? { factory: parseFactoryConfig({ chain: ["stored"], userMapping: { challengeResponse: { cloud: api.url, signature: CHALLENGE_SIGNATURE } } }) } : {}),
    telemetryIntervalMs: 200,
    keepaliveSeconds: 30,
    backoff: { initialMs: 200, maxMs: 1000, minMs: 50 },
    provisioning: { security, pop: Secret.fromString(POP), closeAfterSuccessMs: 100, connectAttempts: 1, retryDelayMs: 20 },
  };
}

/** A unit off the production line: identity and cloud credentials in flash, no Wi-Fi (that is the user's). */
function unit(radio: SimBleRadio) {
  const sim = createSimDevice();
  const identity = generateIdentity(sim.io);
  const nodeId = nodeIdOf(nodeCrypto, identity);
  const env = broker.env;
  new CredentialStore(sim.io.storage).save({
    version: 1,
    identity,
    mqtt: { brokerUrl: `mqtts://${env.host}:${env.port}`, clientId: nodeId, username: env.username, password: Secret.fromString(env.password), ca: env.ca },
  });
  cloud.registerNode(nodeId, identity.publicKey);
  return { sim: sim.reboot(), nodeId, radio };
}

function start(sim: HostSimDevice, radio: SimBleRadio, cfg: DeviceConfig) {
  const io = withRadios(sim.io, radio, undefined, { scanMs: 5, connectMs: 20 }).io;
  const device = new Device(io, cfg);
  const events: DeviceEvent[] = [];
  device.on((e) => events.push(e));
  device.boot();
  return { device, events };
}


const opened = (events: DeviceEvent[]) => events.filter((e) => e.type === "provisioning" && e.event.type === "opened").length;

async function phone(radio: SimBleRadio, device: Device) {
  const name = device.provisioningWindow!.deviceName;
  const gatt = await radio.connect(name, { mtu: 185 });
  return BleProtocommTransport.open(gatt, DEFAULT_SERVICE_UUID);
}

for (const [security, method] of [[2, "challenge"], [1, "secret-key"], [2, "secret-key"], [1, "challenge"]] as const) {
  test(`blank Wi-Fi: window opens, Security ${security} + ${method} mapping over BLE, joins, online; reboot goes online with zero flash writes`, async () => {
    const radio = new SimBleRadio();
    const u = unit(radio);
    const { device, events } = start(u.sim, radio, config(security, method === "challenge"));
    assert.equal(device.state, "provisioning");
    assert.equal(opened(events), 1);
    const qr = events.find((e) => e.type === "provisioning" && e.event.type === "opened");
    assert.ok(qr && qr.type === "provisioning" && qr.event.type === "opened");
    assert.equal(JSON.parse(qr.event.qr).pop, POP, "the QR payload carries the PoP for the app");
    assert.ok(!JSON.stringify(u.sim.logs).includes(POP), "the PoP is never logged");

    const user = `user-${security}-${method}`;
    const cloudClient = new CloudApiClient(api.url, user);
    const transport = await phone(radio, device);
    const result = await provisionDevice({ transport, random, sleep: (ms) => sleep(ms), security, pop: POP, mapping: { method, cloud: cloudClient }, ssid: "home-net", passphrase: "correct horse battery", pollMs: 50 });
    assert.equal(result.status.state, "connected");
    await until("online", () => device.state === "online");
    const record = new CredentialStore(u.sim.io.storage).load();
    assert.ok(record.status === "ok");
    assert.equal(Buffer.from(record.record.wifi!.ssid).toString(), "home-net", "network stored");
    if (method === "secret-key") {
      assert.equal(await waitForMapping(cloudClient, result.mapping!.requestId, (ms) => sleep(ms), 15_000, 50), "confirmed");
      await until("mapping delivered", () => events.some((e) => e.type === "user-mapping" && e.status === "delivered"));
      const after = new CredentialStore(u.sim.io.storage).load();
      assert.ok(after.status === "ok");
      assert.deepEqual({ ...after.record.user }, { userId: user }, "pending pair cleared, user confirmed");
    }
    assert.equal(cloud.ownerOf(u.nodeId), user, "the cloud mapped the node to the user");
    await until("window closed", () => events.some((e) => e.type === "provisioning" && e.event.type === "closed" && e.event.reason === "success"));
    assert.ok(!JSON.stringify(u.sim.logs).includes("correct horse battery"), "the passphrase is never logged");
    device.shutdown();

    // Power cycle: the stored network is joined directly, no window, nothing written.
    const rebooted = u.sim.reboot();
    const again = start(rebooted, new SimBleRadio(), config(security));
    assert.equal(again.device.state, "wifi-joining");
    await until("online after reboot", () => again.device.state === "online");
    assert.equal(opened(again.events), 0, "no provisioning window");
    assert.equal(rebooted.flash.writeCount, 0, "zero flash writes on a normal reboot");
    assert.ok(!again.events.some((e) => e.type === "user-mapping"), "a confirmed mapping is not published again");
    again.device.shutdown();
    rebooted.io.shutdown();
  });
}

test("a rejected passphrase is reported to the app, corrected credentials then succeed", async () => {
  const radio = new SimBleRadio();
  const u = unit(radio);
  const { device } = start(u.sim, radio, config(2));
  const client = new ProvisioningClient(await phone(radio, device), random, (ms) => sleep(ms));
  const info = await client.version();
  await client.establishSession(2, { pop: POP, secPatchVer: info.secPatchVer });
  assert.equal(await client.setConfig("office", "not-the-passphrase"), 0);
  assert.equal(await client.applyConfig(), 0);
  const failed = await client.waitForConnection(20, 500);
  assert.deepEqual([failed.state, failed.failReason], ["failed", "auth-error"]);
  assert.equal(device.state, "provisioning", "still provisioning");
  const stored = new CredentialStore(u.sim.io.storage).load();
  assert.ok(stored.status === "ok" && stored.record.wifi === undefined, "a rejected network is not stored");
  assert.equal(await client.ctrl("reset"), 0);
  assert.equal(await client.setConfig("office", "s3cret-office"), 0);
  assert.equal(await client.applyConfig(), 0);
  assert.equal((await client.waitForConnection(20, 500)).state, "connected");
  await until("online", () => device.state === "online");
  device.shutdown();
  u.sim.io.shutdown();
});

test("factory reset forgets the network and reopens the window; a failing stored network reopens it too", async () => {
  const radio = new SimBleRadio();
  const u = unit(radio);
  const { device, events } = start(u.sim, radio, config(2));
  const result = await provisionDevice({ transport: await phone(radio, device), random, sleep: (ms) => sleep(ms), pop: POP, ssid: "home-net", passphrase: "correct horse battery", scan: false, pollMs: 50 });
  assert.equal(result.status.state, "connected");
  await until("online", () => device.state === "online");
  device.factoryReset();
  assert.equal(device.state, "provisioning");
  assert.equal(opened(events), 2, "window reopened");
  const wiped = new CredentialStore(u.sim.io.storage).load();
  assert.ok(wiped.status === "ok" && wiped.record.wifi === undefined && wiped.record.mqtt === undefined, "Wi-Fi and cloud credentials wiped, identity kept");
  device.shutdown();

  // Stored network whose passphrase changed: back-off retries, then the window.
  const store = new CredentialStore(u.sim.io.storage);
  const rec = store.load();
  assert.ok(rec.status === "ok");
  store.save({ ...rec.record, wifi: { ssid: new TextEncoder().encode("home-net"), passphrase: Secret.fromString("old passphrase") } });
  const rebooted = u.sim.reboot();
  const cfg = config(2);
  const again = start(rebooted, new SimBleRadio(), { ...cfg, provisioning: { ...cfg.provisioning!, wifiJoin: { backoff: { initialMs: 20, maxMs: 40, minMs: 5 }, maxFailures: 3 } } });
  await until("window after failed joins", () => again.device.state === "provisioning");
  assert.equal(rebooted.logs.filter((r) => r.event === "wifi-join-failed").length, 3);
  again.device.shutdown();
  rebooted.io.shutdown();
});

test("a device without radios skips provisioning and says so", async () => {
  const sim = createSimDevice();
  const device = new Device(sim.io, config(2));
  device.boot();
  assert.equal(device.state, "needs-onboarding");
  assert.ok(sim.logs.some((r) => r.event === "radios-absent"));
  device.shutdown();
  sim.io.shutdown();
});

test("no BLE (the desktop simulator, a SoftAP-only build): a window with an attached HTTP transport provisions over HTTP and goes online; without one the device skips provisioning", async () => {
  const radio = new SimBleRadio();
  const u = unit(radio);
  const withBle = withRadios(u.sim.io, radio, undefined, { scanMs: 5, connectMs: 20 }).io;
  const { ble: _unused, ...io } = withBle;
  const http = await startHttpTransport(undefined);
  try {
    const base = config(2);
    const device = new Device(io, { ...base, provisioning: { ...base.provisioning!, ble: false, attachesTransport: true, onWindow: (w) => http.setService(w.service) } });
    const events: DeviceEvent[] = [];
    device.on((e) => events.push(e));
    device.boot();
    assert.equal(device.state, "provisioning", "the window opens without io.ble");
    const qr = events.find((e) => e.type === "provisioning" && e.event.type === "opened");
    assert.ok(qr && qr.type === "provisioning" && qr.event.type === "opened");
    assert.equal(JSON.parse(qr.event.qr).transport, "softap", "the QR tells the app to use the SoftAP transport");
    const transport = new HttpProtocommTransport(http.host, http.port);
    const result = await provisionDevice({ transport, random, sleep: (ms) => sleep(ms), security: 2, pop: POP, ssid: "home-net", passphrase: "correct horse battery", pollMs: 50 });
    transport.close();
    assert.equal(result.status.state, "connected");
    await until("online", () => device.state === "online");
    device.shutdown();

    // another blank unit, no BLE and nothing attached: no window anyone could reach
    const radio2 = new SimBleRadio();
    const u2 = unit(radio2);
    const { ble: _none, ...io2 } = withRadios(u2.sim.io, radio2, undefined, { scanMs: 5, connectMs: 20 }).io;
    const bare = new Device(io2, config(2));
    bare.boot();
    assert.notEqual(bare.state, "provisioning", "no window without a transport");
    assert.equal(bare.provisioningWindow, undefined);
    assert.ok(u2.sim.logs.some((l) => JSON.stringify(l).includes("radios-absent")), "the skip is logged");
    bare.shutdown();
  } finally {
    await http.close();
  }
});
