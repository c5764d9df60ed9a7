// End to end on Node: the phone-app stand-in provisions a simulated device over both transports
// (simulated BLE link, protocomm HTTP) with Security 0/1/2 and both user-node mapping methods
// against the reference cloud; the secret-key method's MQTT half goes through a real Mosquitto
// (device: our MqttClient; cloud: a subscriber on node/+/user/mapping).
import assert from "node:assert/strict";
import { randomFillSync } from "node:crypto";
import { after, before, test } from "node:test";
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { until } from "./until.js";
import { ManualClock } from "../../host-sim/io/clock.js";
import { ProtocommError } from "../../src/provisioning/errors.js";
import { fromUtf8, utf8 } from "../../src/bytes/bytes.js";
import { generateIdentity, nodeIdOf } from "../../src/identity/identity.js";
import { signFor } from "../../src/identity/signing.js";
import { MqttClient, type ClientEvent } from "../../src/mqtt/client.js";
import { ProvisioningClient } from "../../src/provisioning/client.js";
import type { SecurityVersion } from "../../src/provisioning/security.js";
import { userMappingPayload, userMappingTopic } from "../../src/provisioning/user-mapping.js";
import { DEFAULT_SERVICE_UUID } from "../../src/provisioning/uuid.js";
import { openProvisioningWindow, type WindowEvent } from "../../src/provisioning/window.js";
import { Secret } from "../../src/secrets/secret.js";
import { BleProtocommTransport, SimBleRadio } from "../../host-sim/ble/link.js";
import { CloudApiClient, startCloudApi, type CloudApiServer } from "../../host-sim/cloud/user-mapping/http-api.js";
import { attachMappingSubscriber } from "../../host-sim/cloud/user-mapping/mqtt-bridge.js";
import { UserMappingCloud } from "../../host-sim/cloud/user-mapping/service.js";
import { provisionDevice, waitForMapping } from "../../host-sim/provisioning/app.js";
import { HttpProtocommTransport, HttpStatusError, startHttpTransport } from "../../host-sim/provisioning/http-transport.js";
import { withRadios } from "../../host-sim/provisioning/kit.js";
import { createSimDevice } from "../../host-sim/sim-device.js";
import { startScenarioBroker, type ScenarioBroker } from "../support/scenario-broker.js";
import { nodeCrypto } from "../../host-sim/io/node-crypto.js";

const random = (b: Uint8Array): void => void randomFillSync(b);
let cloud: UserMappingCloud;
let api: CloudApiServer;
let now = Date.now();
const figures: string[] = [];

before(async () => {
  cloud = new UserMappingCloud({ now: () => now });
  api = await startCloudApi(cloud);
});
after(async () => {
  await api.close();
  if (figures.length > 0) console.log("provisioning figures:\n  " + figures.join("\n  "));
});

function bootDevice(security: SecurityVersion, radio = new SimBleRadio(), useBle = true) {
  const sim = createSimDevice();
  const dev = withRadios(sim.io, radio, undefined, { scanMs: 5, connectMs: 20 });
  const identity = generateIdentity(sim.io);
  cloud.registerNode(nodeIdOf(nodeCrypto, identity), identity.publicKey);
  const events: WindowEvent[] = [];
  const window = openProvisioningWindow(dev.io, identity, { security, pop: Secret.fromString("abcd1234"), closeAfterSuccessMs: 100, ble: useBle, challengeResponse: true, onEvent: (e) => events.push(e) });
  return { sim, dev, identity, events, window, radio };
}

for (const security of [0, 1, 2] as const) {
  test(`provisioning over HTTP, Security ${security}, challenge-response mapping`, async () => {
    now = Date.now();
    const d = bootDevice(security, undefined, false);
    const http = await startHttpTransport(d.window.service);
    const transport = new HttpProtocommTransport(http.host, http.port);
    const user = `user-http-${security}`;
    const cloudClient = new CloudApiClient(api.url, user);
    try {
      const steps: string[] = [];
      const result = await provisionDevice({ transport, random, sleep: (ms) => sleep(ms), security, pop: "abcd1234", mapping: { method: "challenge", cloud: cloudClient }, ssid: "home-net", passphrase: "correct horse battery", onStep: (s, detail) => steps.push(`${s}: ${detail ?? ""}`) });
      assert.equal(result.status.state, "connected");
      assert.equal(result.nodeId, d.window.nodeId);
      assert.equal(cloud.ownerOf(d.window.nodeId), user, "mapped to the user");
      assert.deepEqual(await cloudClient.nodes(), [d.window.nodeId]);
      assert.equal(await new CloudApiClient(api.url, "someone-else").node(d.window.nodeId), 403, "another user may not see it");
      assert.equal(await cloudClient.node(d.window.nodeId), 200);
      figures.push(`HTTP sec${security}: ${result.traffic.requests} round trips, ${result.traffic.bytesSent} B sent, ${result.traffic.bytesReceived} B received, handshake ${result.handshakeMs} ms (Node)`);
    } finally {
      transport.close();
      d.window.close();
      await http.close();
      d.sim.io.shutdown();
    }
  });
}

test("HTTP transport rules: empty/oversize body refused, cookie keys the session, a new cookie resets the cipher", async () => {
  const d = bootDevice(1, undefined, false);
  const http = await startHttpTransport(d.window.service);
  const t = new HttpProtocommTransport(http.host, http.port);
  try {
    await assert.rejects(t.send("proto-ver", new Uint8Array(0)), (e: unknown) => e instanceof HttpStatusError && e.status === 400);
    await assert.rejects(t.send("prov-config", new Uint8Array(4097)), (e: unknown) => e instanceof HttpStatusError && e.status === 400);
    await assert.rejects(t.send("no-such", utf8("x")), (e: unknown) => e instanceof HttpStatusError && e.status === 404);
    const info = JSON.parse(fromUtf8(await t.send("proto-ver", utf8("---")))) as { prov: { sec_ver: number } };
    assert.equal(info.prov.sec_ver, 1);
    const c = new ProvisioningClient(t, random);
    await c.establishSession(1, { pop: "abcd1234" });
    assert.equal(await c.setConfig("home-net", "pw"), 0);
    t.resetSession(); // esp_prov without the cookie on a fresh socket = a new session
    const other = new HttpProtocommTransport(http.host, http.port);
    await assert.rejects(other.send("prov-config", Uint8Array.of(0x08, 0x00)), (e: unknown) => e instanceof HttpStatusError && e.status === 500, "new session has no cipher");
    other.close();
    await assert.rejects(c.setConfig("home-net", "pw"), "old session was replaced");
    // malformed protobuf → 500 and no body
    const c2 = new ProvisioningClient(t, random);
    await c2.establishSession(1, { pop: "abcd1234" });
    await assert.rejects(t.send("prov-scan", Uint8Array.of(0x0a, 0x09)), (e: unknown) => e instanceof HttpStatusError && e.status === 500);
  } finally {
    t.close();
    d.window.close();
    await http.close();
    d.sim.io.shutdown();
  }
});

/** One raw keep-alive TCP connection to the HTTP transport: requests in order, responses parsed by status line. */
function rawHttp(port: number) {
  const socket = connect(port, "127.0.0.1");
  let buffered = "";
  let closed = false;
  socket.on("data", (d) => { buffered += d.toString("latin1"); });
  socket.on("close", () => { closed = true; });
  return {
    async post(endpoint: string, body: string): Promise<number> {
      buffered = "";
      socket.write(`POST /${endpoint} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      await until("a response", () => /\r\n\r\n/.test(buffered) || closed);
      return Number(/^HTTP\/1\.1 (\d{3})/.exec(buffered)?.[1] ?? 0);
    },
    get closed() { return closed; },
    end: () => socket.destroy(),
  };
}

test("issue 11: an idle HTTP connection outlives Node's 5 s keep-alive default while the window is open, and is dropped when it closes", async () => {
  const d = bootDevice(1, undefined, false);
  const http = await startHttpTransport(d.window.service);
  const raw = rawHttp(http.port);
  try {
    assert.equal(await raw.post("proto-ver", "---"), 200);
    await sleep(5_500); // esp_prov and the apps poll every 5 s on the same connection
    assert.equal(raw.closed, false, "the idle connection was dropped while the window is open");
    assert.equal(await raw.post("proto-ver", "---"), 200);
    d.window.close();
    await until("the connection to close with the window", () => raw.closed);
    const late = new HttpProtocommTransport(http.host, http.port);
    await assert.rejects(late.send("proto-ver", utf8("---")), (e: unknown) => e instanceof HttpStatusError && e.status === 503);
    late.close();
  } finally {
    raw.end();
    d.window.close();
    await http.close();
    d.sim.io.shutdown();
  }
});

test("issue 11: after provisioning succeeded, new sessions and Wi-Fi credentials are refused (503), the service reports closed", async () => {
  const d = bootDevice(2, undefined, false);
  const http = await startHttpTransport(d.window.service);
  const t = new HttpProtocommTransport(http.host, http.port);
  try {
    const c = new ProvisioningClient(t, random, (ms) => sleep(ms));
    await c.establishSession(2, { pop: "abcd1234" });
    assert.equal(await c.setConfig("home-net", "correct horse battery"), 0);
    assert.equal(await c.applyConfig(), 0);
    assert.equal((await c.waitForConnection(20)).state, "connected");
    await until("the window to close after success", () => d.events.some((e) => e.type === "closed"));
    assert.equal(d.window.service.closed, true);
    // the old connection was dropped at close: a reused socket fails at the TCP level, a new one gets 503
    await assert.rejects(c.setConfig("evil-net", "password1"), (e: unknown) => (e instanceof HttpStatusError && e.status === 503) || /ECONNRESET|socket hang up/.test(String(e)), "Wi-Fi config on the old session");
    const other = new HttpProtocommTransport(http.host, http.port);
    await assert.rejects(new ProvisioningClient(other, random).establishSession(2, { pop: "abcd1234" }), (e: unknown) => e instanceof HttpStatusError && e.status === 503, "a new session");
    other.close();
    assert.equal(d.events.filter((e) => e.type === "credentials-received").length, 1, "only the first credentials reached the window");
  } finally {
    t.close();
    d.window.close();
    await http.close();
    d.sim.io.shutdown();
  }
});

test("issue 11: over HTTP a blocking CmdScanStart is answered only once the scan has finished; esp_prov's single status read lists the networks", async () => {
  const sim = createSimDevice();
  const dev = withRadios(sim.io, new SimBleRadio(), undefined, { scanMs: 400, connectMs: 20 });
  const events: WindowEvent[] = [];
  const window = openProvisioningWindow(dev.io, generateIdentity(sim.io), { security: 1, pop: Secret.fromString("abcd1234"), ble: false, onEvent: (e) => events.push(e) });
  const http = await startHttpTransport(window.service);
  const t = new HttpProtocommTransport(http.host, http.port);
  try {
    const c = new ProvisioningClient(t, random);
    await c.establishSession(1, { pop: "abcd1234" });
    assert.equal(events.some((e) => e.type === "scan-finished"), false, "the scan made at open is still running");
    const networks = await c.scan(4, { statusReads: 1 });
    assert.equal(networks.length, 5);
  } finally {
    t.close();
    window.close();
    await http.close();
    sim.io.shutdown();
  }
});

test("M3: the PoP lockout runs on the monotonic clock — SNTP setting the wall clock a day ahead does not lift it; one refill period does", async () => {
  const clock = new ManualClock(0); // a board before SNTP
  const sim = createSimDevice({ clock });
  const dev = withRadios(sim.io, new SimBleRadio(), undefined, { scanMs: 5, connectMs: 20 });
  const window = openProvisioningWindow(dev.io, generateIdentity(sim.io), { security: 1, pop: Secret.fromString("abcd1234"), ble: false, lockout: { freeAttempts: 0, baseDelayMs: 60_000 } });
  const session = (id: number): ProvisioningClient => {
    window.service.openSession(id);
    return new ProvisioningClient({ send: async (ep, data) => window.service.handle(id, ep, data) }, random);
  };
  try {
    await assert.rejects(session(1).establishSession(1, { pop: "wrong-one" }), /wrong PoP/);
    await assert.rejects(session(2).establishSession(1, { pop: "abcd1234" }), (e: unknown) => e instanceof ProtocommError && e.code === "locked-out", "locked after the failure");
    clock.set(Date.UTC(2030, 0, 1)); // SNTP
    await assert.rejects(session(3).establishSession(1, { pop: "abcd1234" }), (e: unknown) => e instanceof ProtocommError && e.code === "locked-out", "still locked after the wall clock jumped");
    clock.advance(60_000);
    await session(4).establishSession(1, { pop: "abcd1234" });
  } finally {
    window.close();
    sim.io.shutdown();
  }
});

test("challenge-response: replayed, expired and forged challenges fail", async () => {
  const identity = generateIdentity({ random, crypto: nodeCrypto });
  const nodeId = nodeIdOf(nodeCrypto, identity);
  cloud.registerNode(nodeId, identity.publicKey);
  const c = new CloudApiClient(api.url, "user-replay");
  const sig = (challenge: string) => Buffer.from(signFor(nodeCrypto, identity, "rmaker-challenge", utf8(challenge))).toString("hex");
  const a = await c.initiate();
  assert.equal((await c.verify(a.request_id, nodeId, sig(a.challenge))).status, "success");
  assert.deepEqual(await c.verify(a.request_id, nodeId, sig(a.challenge)), { status: "failure", description: "challenge already used" }, "replay");
  const b = await c.initiate(10);
  now += 11_000;
  assert.deepEqual(await c.verify(b.request_id, nodeId, sig(b.challenge)), { status: "failure", description: "challenge expired" });
  const f = await c.initiate();
  assert.equal((await c.verify(f.request_id, nodeId, sig("some-other-challenge"))).description, "signature does not verify");
  assert.equal((await c.verify(f.request_id, nodeId, sig(f.challenge))).description, "challenge already used", "a failed attempt burns the challenge");
  const o = await new CloudApiClient(api.url, "intruder").initiate();
  assert.equal((await new CloudApiClient(api.url, "intruder").verify(o.request_id, nodeId, sig(o.challenge))).description, "node is mapped to another user");
  now = Date.now();
});

let broker: ScenarioBroker;
test("secret-key mapping over BLE: device publishes at QoS 1 once online, the cloud confirms; timed out after 60 s without the node half", async (t) => {
  broker = await startScenarioBroker();
  t.after(() => broker.stop());
  now = Date.now();
  const env = broker.env;
  const sub = await attachMappingSubscriber(cloud, { url: `mqtts://${env.host}:${env.port}`, username: env.observer.username, password: env.observer.password, ca: env.ca });
  t.after(() => sub.close());
  const d = bootDevice(2);
  const gatt = await d.radio.connect(d.window.deviceName, { mtu: 512 });
  const transport = await BleProtocommTransport.open(gatt, DEFAULT_SERVICE_UUID);
  const user = "user-secret-key";
  const cloudClient = new CloudApiClient(api.url, user);
  const started = Date.now();
  const result = await provisionDevice({ transport, random, sleep: (ms) => sleep(ms), pop: "abcd1234", mapping: { method: "secret-key", cloud: cloudClient }, ssid: "office", passphrase: "s3cret-office" });
  figures.push(`BLE sec2 (MTU 512) + secret-key mapping: ${gatt.stats.roundTrips} ATT round trips, ${gatt.stats.bytesToPeripheral} B to device, ${gatt.stats.bytesToCentral} B to phone; ${result.traffic.requests} protocomm requests; handshake ${result.handshakeMs} ms; total ${Date.now() - started} ms (Node)`);
  assert.equal(result.status.state, "connected");
  const requested = d.events.find((e): e is Extract<WindowEvent, { type: "user-mapping-requested" }> => e.type === "user-mapping-requested");
  assert.ok(requested, "the window reported the pending mapping");
  assert.equal(requested.userId, user);
  assert.equal(await cloudClient.mappingStatus(result.mapping!.requestId), "requested", "requested while the node half is missing");
  // the lifecycle's job once online: publish the pair at QoS 1 (here with our MqttClient)
  const device = new MqttClient(d.sim.io, { endpoint: { host: env.host, port: env.port, ca: env.ca }, clientId: d.window.nodeId, username: env.username, password: Secret.fromString(env.password), keepaliveSeconds: 30, cleanSession: true });
  let delivered = false;
  device.on((e: ClientEvent) => {
    if (e.type === "online") device.publish(userMappingTopic(d.window.nodeId), utf8(userMappingPayload(d.window.nodeId, requested.userId, requested.secretKey.revealString())), { qos: 1 });
    if (e.type === "delivered") delivered = true;
  });
  device.start();
  const status = await waitForMapping(cloudClient, result.mapping!.requestId, (ms) => sleep(ms), 10_000, 50);
  assert.ok(delivered, "PUBACK received");
  assert.equal(status, "confirmed");
  assert.equal(cloud.ownerOf(d.window.nodeId), user);
  device.stop();
  d.window.close();
  d.sim.io.shutdown();

  // a request whose node never publishes: requested, then timed out after 60 s
  const lonely = await cloudClient.addMapping("nodeThatNeverPublishes", "k");
  assert.equal(await cloudClient.mappingStatus(lonely.request_id), "requested");
  now += 61_000;
  assert.equal(await cloudClient.mappingStatus(lonely.request_id), "timedout");
  // a node half with the wrong secret never confirms
  now = Date.now();
  const wrong = await cloudClient.addMapping("nodeX", "right-key");
  cloud.nodePublished("nodeX", JSON.stringify({ node_id: "nodeX", user_id: user, secret_key: "wrong-key" }));
  assert.equal(await cloudClient.mappingStatus(wrong.request_id), "requested");
});
