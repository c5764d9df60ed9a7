// Interop: the strategies end to end with Debian's Mosquitto over TLS as the broker that enforces
// what the reference cloud issues through the dynamic-security plugin (host-sim/cloud/mosquitto-dynsec.ts):
// per-device ACLs, pinned client IDs, live sessions cut on revoke/disable, rotation retiring the old login.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connectAsync, type MqttClient as MqttJsClient } from "mqtt";
import { generateTestPki, type TestPki } from "../../host-sim/certs/pki.js";
import { startCloud, type Cloud } from "../../host-sim/cloud/cloud.js";
import { signedReply } from "../../host-sim/cloud/shared-registration.js";
import { createSimDevice } from "../../host-sim/sim-device.js";
import { parseFactoryConfig } from "../../src/config/factory-config.js";
import { Device } from "../../src/lifecycle/device.js";
import { MqttClient } from "../../src/mqtt/client.js";
import { Secret } from "../../src/secrets/secret.js";
import { CredentialStore } from "../../src/storage/credential-store.js";
import { until } from "./until.js";

let dir: string;
let pki: TestPki;
let cloud: Cloud;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), "onboarding-mosquitto-"));
  pki = generateTestPki(join(dir, "pki"));
  cloud = await startCloud({ tls: { key: pki.serverKeyPem, cert: pki.serverCertPem, ca: pki.caPem }, mosquitto: pki, encryptKey: "12345678910111213141516171819202" });
});
// Every device a test boots, so that a failing test cannot leave one reconnecting forever.
const booted: { stop(): void }[] = [];
after(async () => {
  for (const run of booted) run.stop();
  await cloud.close();
  rmSync(dir, { recursive: true, force: true });
});


const FAST = { telemetryIntervalMs: 0, keepaliveSeconds: 30, backoff: { initialMs: 100, maxMs: 400, minMs: 50 } };
const base = () => ({ broker: { url: cloud.brokerUrl, ca: pki.caPem }, retry: { attempts: 2, initialMs: 100, maxMs: 400 } });

function boot(factory: unknown, mac: string, sim = createSimDevice({ mac })) {
  const device = new Device(sim.io, { ...FAST, factory: parseFactoryConfig(factory) });
  const states: string[] = [];
  const kinds: string[] = [];
  device.on((e) => {
    if (e.type === "state") states.push(e.reason ? `${e.state}: ${e.reason}` : e.state);
    if (e.type === "onboarding" && e.event.type === "failed") kinds.push(`${e.event.strategy}:${e.event.failure.kind}`);
  });
  device.boot();
  const run = { sim, device, states, kinds, stop: () => { device.shutdown(); sim.io.shutdown(); } };
  booted.push(run);
  return run;
}

test("mosquitto: brokerUrl points at Mosquitto", () => {
  assert.ok(cloud.mosquitto);
  assert.equal(cloud.brokerUrl, `mqtts://localhost:${cloud.mosquitto.port}`);
});

test("mosquitto: secure bootstrap (Magistrala 0.30, whose bootstrap checks the state) → online; disabled → live session cut, refused and typed; enabled → online", async () => {
  cloud.version = "magistrala-0.30";
  const mac = "02:00:00:AA:00:01";
  cloud.addBootstrapConfig({ externalId: mac, externalKey: "mk-1" });
  await cloud.settled();
  const factory = { ...base(), chain: ["stored", "bootstrap"], bootstrap: { url: cloud.httpUrl, version: "magistrala-0.30", domainId: cloud.domainId, externalKey: "mk-1", ca: pki.caPem, secure: { key: "12345678910111213141516171819202" } } };
  const second = boot(factory, mac);
  const sim2 = second.sim;
  await until("online", () => second.device.state === "online");
  cloud.setEnabled(mac, false);
  await cloud.settled();
  // dynsec's disableClient kicks the live session; the reconnect is refused and re-bootstrap says disabled.
  await until("disabled", () => second.kinds.includes("bootstrap:disabled"));
  assert.ok(second.states.some((s) => /credentials rejected/.test(s)), second.states.join("\n"));
  cloud.setEnabled(mac, true);
  await cloud.settled();
  await until("online again", () => second.device.state === "online");
  assert.equal(new CredentialStore(sim2.io.storage).load().status, "ok");
  second.stop();
  cloud.generation = "client";
});

test("mosquitto: register → online; re-registration revokes the old key at the broker", async () => {
  const mac = "02:00:00:AA:00:02";
  cloud.allowSerials([mac.replace(/:/g, "")]);
  await cloud.settled();
  const run = boot({ ...base(), chain: ["stored", "register"], register: { url: `${cloud.httpUrl}/register`, ca: pki.caPem } }, mac);
  await until("online", () => run.device.state === "online");
  const s = new CredentialStore(run.sim.io.storage).load();
  const old = s.status === "ok" ? s.record.mqtt! : undefined;
  assert.ok(old);
  run.device.factoryReset();
  await until("online after re-registration", () => run.states.filter((x) => x === "online").length >= 2);
  const probe = createSimDevice();
  const client = new MqttClient(probe.io, { endpoint: { host: "localhost", port: cloud.mosquitto!.port, ca: pki.caPem }, clientId: `${old.clientId}x`, username: old.username!, password: old.password!, keepaliveSeconds: 30 });
  let refused: string | undefined;
  client.on((e) => { if (e.type === "refused") refused = e.reason; });
  client.start();
  await until("old key refused", () => refused !== undefined);
  assert.match(refused!, /bad-credentials|not-authorized/);
  client.stop();
  probe.io.shutdown();
  run.stop();
});

test("mosquitto: shared credentials with a MAC-derived client ID → online", async () => {
  cloud.addSharedAccount("class-b", "class-b-password");
  await cloud.settled();
  const run = boot({ ...base(), chain: ["shared"], shared: { username: "class-b", password: "class-b-password", clientIdPrefix: "esp" } }, "02:00:00:AA:00:03");
  await until("online", () => run.device.state === "online");
  assert.ok(run.states.includes("online"));
  run.stop();
});

/** A raw MQTT login (mqtt.js) with a device's stored credentials: refused → the CONNACK code. */
async function login(creds: { clientId: string; username?: string; password?: { revealString(): string } }, clientId = creds.clientId): Promise<MqttJsClient | number> {
  try {
    return await connectAsync(cloud.brokerUrl, { ca: pki.caPem, clientId, username: creds.username!, password: creds.password!.revealString(), reconnectPeriod: 0, protocolVersion: 4, clean: true });
  } catch (e) {
    return (e as { code?: number }).code ?? -1;
  }
}

async function registered(mac: string) {
  cloud.allowSerials([mac.replace(/:/g, "")]);
  await cloud.settled();
  const run = boot({ ...base(), chain: ["stored", "register"], register: { url: `${cloud.httpUrl}/register`, ca: pki.caPem } }, mac);
  await until("online", () => run.device.state === "online");
  const s = new CredentialStore(run.sim.io.storage).load();
  assert.ok(s.status === "ok" && s.record.mqtt);
  return { run, mqtt: s.record.mqtt, serial: mac.replace(/:/g, "") };
}

test("mosquitto ACLs: device A can neither publish on nor receive from device B's topics; client IDs are pinned", async () => {
  const a = await registered("02:00:00:AA:00:11");
  const b = await registered("02:00:00:AA:00:12");
  a.run.stop(); // its login is used by the probe below (same pinned client ID)
  const seen: string[] = [];
  cloud.mosquittoBus!.events.on("published", (m) => seen.push(`${m.topic} ${m.payload.toString()}`));
  const probe = await login(a.mqtt);
  assert.ok(typeof probe !== "number", `A's login refused: ${String(probe)}`);
  const received: string[] = [];
  probe.on("message", (topic, payload) => received.push(`${topic} ${payload.toString()}`));
  await probe.subscribeAsync([`devices/${b.mqtt.clientId}/cmd`, `devices/${a.mqtt.clientId}/cmd`], { qos: 1 });
  // Publishes from one client reach subscribers in order: once A's own marker has arrived, B's
  // topic would have arrived before it had the broker let it through.
  await probe.publishAsync(`devices/${b.mqtt.clientId}/telemetry`, "forged", { qos: 1 });
  await probe.publishAsync(`devices/${a.mqtt.clientId}/telemetry`, "marker", { qos: 1 });
  await until("A's own publish seen", () => seen.includes(`devices/${a.mqtt.clientId}/telemetry marker`));
  // (B's own status may be in `seen`: only A's forgery must be missing.)
  assert.ok(!seen.some((m) => m.endsWith(" forged")), seen.join("\n"));
  await cloud.mosquittoBus!.publish(`devices/${b.mqtt.clientId}/cmd`, "for-b");
  await cloud.mosquittoBus!.publish(`devices/${a.mqtt.clientId}/cmd`, "for-a");
  await until("A's own command received", () => received.includes(`devices/${a.mqtt.clientId}/cmd for-a`));
  assert.deepEqual(received, [`devices/${a.mqtt.clientId}/cmd for-a`]);
  await probe.endAsync();
  // The credential pins its client ID: the same login under another ID is refused.
  assert.equal(await login(a.mqtt, `${a.mqtt.clientId}x`), 5);
  b.run.stop();
});

test("mosquitto: revoke cuts the live session, the reconnect is refused → re-registration → online with a new key", async () => {
  const { run, mqtt: old, serial } = await registered("02:00:00:AA:00:13");
  const offline = () => run.sim.logs.filter((r) => r.event === "offline").length;
  const before = offline();
  cloud.revoke(`register:${serial}`);
  await cloud.settled();
  await until("session cut", () => offline() > before);
  await until("online again", () => run.states.filter((x) => x === "online").length >= 2);
  assert.ok(run.states.some((x) => /credentials rejected: (not-authorized|bad-credentials)/.test(x)), run.states.join("\n"));
  const s = new CredentialStore(run.sim.io.storage).load();
  assert.ok(s.status === "ok" && s.record.mqtt!.username !== old.username, "a fresh key");
  run.stop();
  assert.equal(await login(old), 5, "the revoked key is refused");
});

test("mosquitto: rotation pushed on the command topic → committed; the old password is retired once the new one is used", async () => {
  const { run, mqtt: old, serial } = await registered("02:00:00:AA:00:14");
  await until("subscribed to its command topic", () => run.device.mqtt !== undefined);
  await new Promise((r) => setTimeout(r, 300)); // let the SUBSCRIBE land before the cloud publishes
  const { username } = await cloud.rotate(`register:${serial}`);
  await until("committed", () => run.sim.logs.some((r) => r.event === "rotation-committed"));
  const s = new CredentialStore(run.sim.io.storage).load();
  assert.ok(s.status === "ok" && s.record.mqtt!.username === username);
  await until("old credential retired", () => cloud.state.credential(old.username!) === undefined);
  await cloud.settled();
  run.stop();
  assert.equal(await login(old), 5, "the old password no longer logs in");
  const fresh = await login(s.record.mqtt!);
  assert.ok(typeof fresh !== "number", "the new one does");
  await fresh.endAsync();
});

describe("mTLS from a bootstrap reply's client_cert/client_key/ca_cert", () => {
  test("RSA certificate from the reply → online on the listener that requires client certificates; without it that listener refuses", async () => {
    assert.ok(cloud.mtlsBrokerUrl);
    cloud.generation = "client";
    const mac = "02:00:00:AA:00:21";
    const cert = pki.issueClientCert({ commonName: "mtls-device-21" });
    const config = cloud.addBootstrapConfig({
      externalId: mac, externalKey: "mtls-key", clientCert: cert.certPem, clientKey: cert.keyPem, caCert: pki.caPem,
      content: JSON.stringify({ broker_url: cloud.mtlsBrokerUrl }),
    });
    await cloud.settled();
    const run = boot({ ...base(), chain: ["stored", "bootstrap"], bootstrap: { url: cloud.httpUrl, generation: "client", externalKey: "mtls-key", ca: pki.caPem } }, mac);
    await until("online", () => run.device.state === "online");
    const s = new CredentialStore(run.sim.io.storage).load();
    assert.ok(s.status === "ok");
    assert.equal(s.record.mqtt!.brokerUrl, cloud.mtlsBrokerUrl);
    assert.equal(s.record.mqtt!.clientCertificate, cert.certPem);
    assert.equal(s.record.mqtt!.clientKey?.revealString(), cert.keyPem);
    assert.ok(!run.sim.logs.some((r) => JSON.stringify(r).includes(cert.keyPem.slice(40, 80))), "client key never logged");
    run.stop();
    // The same login without the certificate: the TLS handshake on that listener fails.
    await assert.rejects(connectAsync(cloud.mtlsBrokerUrl, { ca: pki.caPem, clientId: config.thingId, username: config.thingId, password: config.thingKey, reconnectPeriod: 0, connectTimeout: 10_000 }));
    // With a certificate from another CA: refused too.
    const foreign = pki.issueClientCert({ issuer: "wrongCa", commonName: "foreign" });
    await assert.rejects(connectAsync(cloud.mtlsBrokerUrl, { ca: pki.caPem, cert: foreign.certPem, key: foreign.keyPem, clientId: config.thingId, username: config.thingId, password: config.thingKey, reconnectPeriod: 0, connectTimeout: 10_000 }));
  });

  test("EC client key (board truth: RSA only): the reply is refused, typed, before any TLS; the board TLS profile refuses it too", async () => {
    const ecDir = join(dir, "ec-client");
    mkdirSync(ecDir, { recursive: true });
    execFileSync("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ec.key", "-out", "ec.csr", "-subj", "/CN=ec-device"], { cwd: ecDir, stdio: "ignore" });
    execFileSync("openssl", ["x509", "-req", "-in", "ec.csr", "-CA", pki.caPath, "-CAkey", pki.caKeyPath, "-CAcreateserial", "-out", "ec.pem", "-days", "30"], { cwd: ecDir, stdio: "ignore" });
    const ec = { certPem: readFileSync(join(ecDir, "ec.pem"), "utf8"), keyPem: readFileSync(join(ecDir, "ec.key"), "utf8") };
    assert.match(ec.keyPem, /BEGIN PRIVATE KEY/); // PKCS#8, so only the algorithm tells

    const mac = "02:00:00:AA:00:22";
    cloud.addBootstrapConfig({ externalId: mac, externalKey: "ec-key", clientCert: ec.certPem, clientKey: ec.keyPem, content: JSON.stringify({ broker_url: cloud.mtlsBrokerUrl }) });
    await cloud.settled();
    const run = boot({ ...base(), chain: ["bootstrap"], bootstrap: { url: cloud.httpUrl, generation: "client", externalKey: "ec-key", ca: pki.caPem } }, mac);
    const failures: string[] = [];
    run.device.on((e) => { if (e.type === "onboarding" && e.event.type === "failed") failures.push(`${e.event.failure.kind}: ${e.event.failure.detail}`); });
    await until("typed refusal", () => failures.length > 0);
    assert.match(failures[0]!, /^malformed-reply: client_key is an EC key/);
    assert.ok(!run.sim.logs.some((r) => r.event === "dialing"), "no MQTT connection attempted");
    run.stop();

    // The simulator's board TLS profile refuses the EC key on its own, before a byte is sent.
    const probe = createSimDevice();
    const client = new MqttClient(probe.io, {
      endpoint: { host: "localhost", port: cloud.mosquitto!.extraPorts[0]!, ca: pki.caPem, clientCertificate: ec.certPem, clientKey: Secret.fromString(ec.keyPem) },
      clientId: "ec-probe", username: "x", password: Secret.fromString("y"), keepaliveSeconds: 30,
    });
    let tlsError: string | undefined;
    client.on((e) => { if (e.type === "offline" && e.socketError?.kind === "tls") tlsError = e.socketError.message; });
    client.start();
    await until("TLS refused locally", () => tlsError !== undefined);
    assert.match(tlsError!, /client key type ec refused/);
    client.stop();
    probe.io.shutdown();
  });
});

test("mosquitto: shared register on first connect → own login (pinned client ID) → online, persistent session; a clone with another key is refused", async () => {
  cloud.addSharedAccount("class-m", "class-m-password", undefined, { register: true });
  await cloud.settled();
  const mac = "02:00:00:AA:00:31";
  const clientId = `esp${mac.replace(/:/g, "")}`;
  const factory = { ...base(), chain: ["stored", "shared"], shared: { username: "class-m", password: "class-m-password", clientIdPrefix: "esp", registerOnConnect: { timeoutMs: 10_000, cloudKey: cloud.registrationKey } } };
  const logins: string[] = [];
  cloud.mosquittoBus!.events.on("connected", (c) => { if (c.clientId === clientId) logins.push(c.username ?? ""); });
  const run = boot(factory, mac);
  await until("online", () => run.device.state === "online");
  const s = new CredentialStore(run.sim.io.storage).load();
  assert.ok(s.status === "ok");
  const own = s.record.mqtt!;
  assert.notEqual(own.username, "class-m");
  await until("both logins seen", () => logins.length >= 2);
  assert.deepEqual(logins, ["class-m", own.username]);
  // Its own login is pinned to its client ID at the broker.
  assert.equal(await login(own, `${clientId}x`), 5);
  run.device.shutdown();
  const rebooted = boot(factory, mac, run.sim.reboot());
  const sessions: boolean[] = [];
  rebooted.device.on((e) => { if (e.type === "mqtt" && e.event.type === "online") sessions.push(e.event.sessionPresent); });
  await until("online again", () => rebooted.device.state === "online");
  assert.deepEqual(sessions, [true], "Mosquitto kept the session (clean session off)");
  rebooted.stop();
  // Same MAC, another identity: the shared login gets in, the cloud refuses the ID (bound to the first unit's key).
  const clone = boot(factory, mac);
  await until("clone refused", () => clone.kinds.includes("shared:refused"));
  clone.stop();
  assert.ok(clone.sim.logs.some((r) => r.event === "failed" && /registered to another unit/.test(String(r.fields.detail))), "typed: registered to another unit");
});

test("H3: the shared login may not publish a registration reply (Mosquitto ACL); a planted retained reply is ignored and the unit takes only the signed reply to its own nonce", async () => {
  cloud.addSharedAccount("class-h3", "class-h3-password", undefined, { register: true });
  await cloud.settled();
  const mac = "02:00:00:AA:00:41";
  const clientId = `esp${mac.replace(/:/g, "")}`;
  const seen: { topic: string; payload: string }[] = [];
  const watch = (m: { topic: string; payload: Buffer }) => { if (m.topic.startsWith(`register/${clientId}/`)) seen.push({ topic: m.topic, payload: m.payload.toString() }); };
  cloud.mosquittoBus!.events.on("published", watch);
  try {
    // 1. Anyone with the fleet's shared login, under the victim's client ID, tries to answer for the cloud.
    const forger = await connectAsync(`mqtts://localhost:${cloud.mosquitto!.port}`, { ca: pki.caPem, clientId, username: "class-h3", password: "class-h3-password", reconnectPeriod: 0, protocolVersion: 4 });
    await forger.publishAsync(`register/${clientId}/reply`, JSON.stringify({ v: 1, username: "attacker", password: "attacker-password" }), { qos: 1 });
    await forger.publishAsync(`register/${clientId}/request`, "not a request", { qos: 1 }); // the control: this one is allowed
    await until("the allowed request reached the cloud", () => seen.some((m) => m.topic.endsWith("/request")));
    assert.deepEqual(seen.filter((m) => m.topic.endsWith("/reply")), [], "the forged reply never reached anyone");
    await forger.endAsync();

    // 2. A reply planted as retained before the unit ever asked — even one the cloud really signed, for an old nonce.
    const planted = signedReply(cloud.state, clientId, "0123456789abcdef0123456789abcdef", { username: "planted-user", password: "planted-password" });
    await cloud.mosquittoBus!.publish(`register/${clientId}/reply`, planted, true);
    const factory = { ...base(), chain: ["stored", "shared"], shared: { username: "class-h3", password: "class-h3-password", clientIdPrefix: "esp", registerOnConnect: { timeoutMs: 10_000, cloudKey: cloud.registrationKey } } };
    const run = boot(factory, mac);
    await until("online", () => run.device.state === "online");
    const s = new CredentialStore(run.sim.io.storage).load();
    assert.ok(s.status === "ok");
    assert.notEqual(s.record.mqtt!.username, "planted-user", "the planted reply was not taken");
    assert.notEqual(s.record.mqtt!.username, "class-h3");
    assert.ok(run.sim.logs.some((r) => r.event === "shared-register-reply-ignored" && r.fields.reason === "retained"), "the retained reply was seen and ignored");
    run.stop();
  } finally {
    cloud.mosquittoBus!.events.off("published", watch);
    await cloud.mosquittoBus!.publish(`register/${clientId}/reply`, "", true); // clear the retained message
  }
});
