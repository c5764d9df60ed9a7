// Publishes refused for a disabled device, as a trigger of its own: the reference cloud disables a
// unit the way Magistrala's MQTT adapter (or aedes with a failing authorizePublish) does — CONNECT
// still accepted, every PUBLISH drops the connection. The device counts "closed right after our
// publish, no PUBACK" strikes, and after `strikes` in a row treats its credentials as refused:
// re-onboarding with "stored" skipped, logged as publish-refused. Sessions cut for other reasons
// after a PUBACK are not strikes.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { generateTestPki, type TestPki } from "../../host-sim/certs/pki.js";
import { startCloud, type Cloud } from "../../host-sim/cloud/cloud.js";
import { createSimDevice, type HostSimDevice } from "../../host-sim/sim-device.js";
import { parseFactoryConfig } from "../../src/config/factory-config.js";
import { Device, type DeviceEvent } from "../../src/lifecycle/device.js";
import { CredentialStore } from "../../src/storage/credential-store.js";
import { until } from "./until.js";

let dir: string;
let pki: TestPki;
let cloud: Cloud;
let mac = 0x40;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "publish-refused-"));
  pki = generateTestPki(join(dir, "pki"));
  cloud = await startCloud({ tls: { key: pki.serverKeyPem, cert: pki.serverCertPem, ca: pki.caPem }, statePath: join(dir, "cloud.json") });
  // Magistrala 0.30: its bootstrap checks the config's state, so the re-bootstrap says "disabled".
  cloud.version = "magistrala-0.30";
});
const booted: { device: Device; sim: HostSimDevice }[] = [];
after(async () => {
  // A failed test must not leave its device reconnecting: the file would never exit.
  for (const { device, sim } of booted) { device.shutdown(); sim.io.shutdown(); }
  await cloud.close();
  rmSync(dir, { recursive: true, force: true });
});


function start(): { sim: HostSimDevice; device: Device; states: string[]; events: DeviceEvent[]; mac: string; username: () => string } {
  const address = `02:00:00:00:01:${(mac++).toString(16).padStart(2, "0")}`.toUpperCase();
  cloud.addBootstrapConfig({ externalId: address, externalKey: "pr-key" });
  const factory = parseFactoryConfig({
    chain: ["stored", "bootstrap"],
    broker: { url: cloud.brokerUrl, ca: pki.caPem },
    bootstrap: { url: cloud.httpUrl, version: "magistrala-0.30", domainId: cloud.domainId, externalKey: "pr-key", ca: pki.caPem },
    retry: { attempts: 1, initialMs: 100, maxMs: 300 },
  });
  const sim = createSimDevice({ mac: address });
  const device = new Device(sim.io, {
    telemetryIntervalMs: 150,
    keepaliveSeconds: 30,
    backoff: { initialMs: 100, maxMs: 300, minMs: 50 },
    factory,
    publishRefusal: { strikes: 2, windowMs: 5_000 },
  });
  const states: string[] = [];
  const events: DeviceEvent[] = [];
  device.on((e) => {
    events.push(e);
    if (e.type === "state") states.push(e.reason ? `${e.state}: ${e.reason}` : e.state);
  });
  booted.push({ device, sim });
  device.boot();
  const username = () => {
    const s = new CredentialStore(sim.io.storage).load();
    assert.ok(s.status === "ok" && s.record.mqtt?.username);
    return s.record.mqtt.username;
  };
  return { sim, device, states, events, mac: address, username };
}

const onlineCount = (states: string[]) => states.filter((s) => s === "online").length;

test("disabled with publishes refused: CONNECT still accepted, K closes right after publishing → publish-refused → re-bootstrap says disabled; enabled → online", async () => {
  const run = start();
  await until("online", () => run.device.state === "online");
  const user = run.username();
  const accepted: string[] = [];
  const onConnected = (c: { username: string | undefined }) => { if (c.username === user) accepted.push(user); };
  cloud.broker.events.on("connected", onConnected);
  assert.ok(cloud.setEnabled(run.mac, false, { mode: "publish" }));
  try {
    await until("publish-refused", () => run.sim.logs.some((r) => r.event === "publish-refused"));
    const strikes = run.sim.logs.filter((r) => r.event === "closed-after-publish").map((r) => r.fields["strikes"]);
    assert.deepEqual(strikes, [1, 2], "two strikes in a row, then refused");
    assert.ok(accepted.length >= 1, "the broker still accepted the device's CONNECT while disabled");
    assert.ok(run.states.includes("needs-onboarding: credentials rejected: publish-refused"), run.states.join("\n"));
    await until("re-bootstrap reports the unit disabled", () => run.events.some((e) => e.type === "onboarding" && e.event.type === "failed" && e.event.failure.kind === "disabled"));
    const stored = run.events.filter((e) => e.type === "onboarding" && e.event.type === "obtained" && e.event.strategy === "stored").length;
    assert.equal(stored, 0, "the refused stored credentials were not offered again");
  } finally {
    cloud.broker.events.off("connected", onConnected);
  }
  const before = onlineCount(run.states);
  cloud.setEnabled(run.mac, true);
  await until("online again", () => onlineCount(run.states) > before);
  run.device.shutdown();
  run.sim.io.shutdown();
});

test("sessions cut after a PUBACK are not strikes: the device just reconnects", async () => {
  const run = start();
  await until("online", () => run.device.state === "online");
  const user = run.username();
  const delivered = () => run.events.filter((e) => e.type === "mqtt" && e.event.type === "delivered").length;
  for (let i = 0; i < 3; i++) {
    const online = onlineCount(run.states);
    const seen = delivered();
    await until("a PUBACK in this session", () => delivered() > seen);
    cloud.broker.kick(user);
    await until("online again", () => onlineCount(run.states) > online);
  }
  assert.ok(!run.sim.logs.some((r) => r.event === "publish-refused" || r.event === "closed-after-publish"), "no strike");
  assert.ok(!run.states.some((s) => s.includes("credentials rejected")), run.states.join("\n"));
  run.device.shutdown();
  run.sim.io.shutdown();
});
