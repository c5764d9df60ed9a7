// Interop: the strategies end to end with Debian's Mosquitto over TLS as the broker that enforces
// what the reference cloud issues (password file + SIGHUP reload, host-sim/cloud/mosquitto-sync.ts).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { generateTestPki, type TestPki } from "../../host-sim/certs/pki.js";
import { startCloud, type Cloud } from "../../host-sim/cloud/cloud.js";
import { createSimDevice } from "../../host-sim/sim-device.js";
import { parseFactoryConfig } from "../../src/config/factory-config.js";
import { Device } from "../../src/lifecycle/device.js";
import { MqttClient } from "../../src/mqtt/client.js";
import { CredentialStore } from "../../src/storage/credential-store.js";

let dir: string;
let pki: TestPki;
let cloud: Cloud;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), "onboarding-mosquitto-"));
  pki = generateTestPki(join(dir, "pki"));
  cloud = await startCloud({ tls: { key: pki.serverKeyPem, cert: pki.serverCertPem, ca: pki.caPem }, mosquitto: pki, encryptKey: "12345678910111213141516171819202" });
});
after(async () => {
  await cloud.close();
  rmSync(dir, { recursive: true, force: true });
});

async function until(what: string, condition: () => boolean, ms = 20_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

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
  return { sim, device, states, kinds, stop: () => { device.shutdown(); sim.io.shutdown(); } };
}

test("mosquitto: brokerUrl points at Mosquitto", () => {
  assert.ok(cloud.mosquitto);
  assert.equal(cloud.brokerUrl, `mqtts://localhost:${cloud.mosquitto.port}`);
});

test("mosquitto: secure bootstrap (client generation) → online; disabled → refused and typed; enabled → online", async () => {
  cloud.generation = "client";
  const mac = "02:00:00:AA:00:01";
  cloud.addBootstrapConfig({ externalId: mac, externalKey: "mk-1" });
  await cloud.settled();
  const factory = { ...base(), chain: ["stored", "bootstrap"], bootstrap: { url: cloud.httpUrl, generation: "client", externalKey: "mk-1", ca: pki.caPem, secure: { key: "12345678910111213141516171819202" } } };
  const first = boot(factory, mac);
  await until("online", () => first.device.state === "online");
  first.device.shutdown();
  cloud.setEnabled(mac, false);
  await cloud.settled();
  // Mosquitto does not cut live sessions; the next boot's CONNECT (stored credentials) is refused.
  const second = boot(factory, mac, first.sim.reboot());
  const sim2 = second.sim;
  await until("disabled", () => second.kinds.includes("bootstrap:disabled"));
  assert.ok(second.states.some((s) => /credentials rejected/.test(s)), second.states.join("\n"));
  cloud.setEnabled(mac, true);
  await cloud.settled();
  await until("online again", () => second.device.state === "online");
  assert.equal(new CredentialStore(sim2.io.storage).load().status, "ok");
  second.stop();
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
