// A running onboarding chain is cancelled for real: a re-provision request (prov-ctrl) or a
// factory reset while a strategy is in the middle of its HTTP exchange, or while the chain sleeps
// between attempts, stops it on the spot — its socket is closed, its timers are gone, and a reply
// that arrives afterwards is neither stored nor used. Real TLS (the board profile) to a real
// HTTPS endpoint the test controls, the device provisioned over the simulated BLE link.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { randomFillSync } from "node:crypto";
import { generateTestPki, type TestPki } from "../../host-sim/certs/pki.js";
import { BleProtocommTransport, SimBleRadio } from "../../host-sim/ble/link.js";
import { withRadios } from "../../host-sim/provisioning/kit.js";
import { createSimDevice, type HostSimDevice } from "../../host-sim/sim-device.js";
import { parseFactoryConfig, type FactoryConfig } from "../../src/config/factory-config.js";
import { Device, type DeviceConfig, type DeviceEvent } from "../../src/lifecycle/device.js";
import { ProvisioningClient } from "../../src/provisioning/client.js";
import { DEFAULT_SERVICE_UUID } from "../../src/provisioning/uuid.js";
import { Secret } from "../../src/secrets/secret.js";
import { CredentialStore } from "../../src/storage/credential-store.js";
import { until } from "./until.js";

const POP = "cancel-pop-9";
const random = (b: Uint8Array): void => void randomFillSync(b);
let dir: string;
let pki: TestPki;
let server: Server;
let url: string;
/** What the registration endpoint does with the next requests. */
let mode: "hold" | "unavailable" = "hold";
const held: { res: ServerResponse; socket: Socket; closed: boolean }[] = [];
let requests = 0;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "chain-cancel-"));
  pki = generateTestPki(join(dir, "pki"));
  server = createServer({ key: pki.serverKeyPem, cert: pki.serverCertPem, minVersion: "TLSv1.2" }, (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on("end", () => {
      requests++;
      if (mode === "unavailable") {
        res.writeHead(503, { "Content-Type": "application/json" }).end('{"error":"down"}');
        return;
      }
      const entry = { res, socket: req.socket, closed: false };
      req.socket.once("close", () => { entry.closed = true; });
      held.push(entry);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert.ok(address && typeof address === "object");
  url = `https://localhost:${address.port}/register`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

function factory(attempts = 1): FactoryConfig {
  // The broker is never reached: a credential that got through would show up in flash first.
  return parseFactoryConfig({ chain: ["register"], broker: { url: "mqtts://localhost:1" }, register: { url, ca: pki.caPem }, retry: { attempts, initialMs: 30_000, maxMs: 60_000 } });
}

function config(withFactory: FactoryConfig): DeviceConfig {
  return {
    telemetryIntervalMs: 0,
    keepaliveSeconds: 30,
    factory: withFactory,
    // The window stays open after "connected", so the app can still send prov-ctrl.
    provisioning: { security: 1, pop: Secret.fromString(POP), closeAfterSuccessMs: 60_000, connectAttempts: 1 },
  };
}


/** A blank unit with radios; the phone provisions Wi-Fi, which starts the chain. */
async function provisioned(cfg: DeviceConfig) {
  const sim = createSimDevice();
  const radio = new SimBleRadio();
  const device = new Device(withRadios(sim.io, radio, undefined, { scanMs: 5, connectMs: 10 }).io, cfg);
  const events: DeviceEvent[] = [];
  device.on((e) => events.push(e));
  device.boot();
  assert.equal(device.state, "provisioning");
  const gatt = await radio.connect(device.provisioningWindow!.deviceName, { mtu: 185 });
  const app = new ProvisioningClient(await BleProtocommTransport.open(gatt, DEFAULT_SERVICE_UUID), random, (ms) => sleep(ms));
  await app.establishSession(1, { pop: POP });
  assert.equal(await app.setConfig("home-net", "correct horse battery"), 0);
  assert.equal(await app.applyConfig(), 0);
  assert.equal((await app.waitForConnection(20, 500)).state, "connected");
  return { sim, device, events, app };
}

const stored = (sim: HostSimDevice) => {
  const loaded = new CredentialStore(sim.io.storage).load();
  assert.equal(loaded.status, "ok");
  return loaded.status === "ok" ? loaded.record : undefined;
};

/** The endpoint answers the held request now, as if the cloud had only been slow. */
function release(entry: (typeof held)[number]): void {
  try {
    entry.res.writeHead(201, { "Content-Type": "application/json" }).end(JSON.stringify({ deviceId: "d".repeat(24), key: "late-key", secret: "late-secret-value" }));
  } catch {
    // the device already closed the connection
  }
}

test("re-provision (prov-ctrl) while register is mid-HTTP: the exchange is closed, the late reply is not stored or used", async () => {
  mode = "hold";
  const before = held.length;
  const { sim, device, app } = await provisioned(config(factory()));
  await until("the registration request is in flight", () => held.length > before);
  const entry = held[held.length - 1]!;
  assert.equal(await app.ctrl("reprov"), 0);
  assert.equal(device.state, "provisioning");
  assert.equal(sim.io.network.openCount, 0, "the chain's TLS socket is closed at once");
  release(entry);
  await until("the endpoint sees the connection closed", () => entry.closed);
  await sleep(50); // let any late reply work its way through, were it still listened to
  const record = stored(sim)!;
  assert.equal(record.mqtt, undefined, "nothing obtained after the cancel is stored");
  assert.equal(record.wifi, undefined, "re-provisioning dropped the network");
  assert.ok(!sim.logs.some((r) => r.event === "persisted" || r.event === "dialing"), "nor used");
  assert.equal(device.state, "provisioning");
  device.shutdown();
  sim.io.shutdown();
});

test("factory reset while register is mid-HTTP: the exchange is closed at once, nothing stored", async () => {
  mode = "hold";
  const before = held.length;
  const { sim, device } = await provisioned(config(factory()));
  await until("the registration request is in flight", () => held.length > before);
  const entry = held[held.length - 1]!;
  device.factoryReset();
  assert.equal(device.state, "provisioning");
  assert.equal(sim.io.network.openCount, 0, "no socket left open");
  release(entry);
  await until("the endpoint sees the connection closed", () => entry.closed);
  await sleep(50);
  assert.equal(stored(sim)!.mqtt, undefined);
  assert.ok(!sim.logs.some((r) => r.event === "persisted"));
  device.shutdown();
  sim.io.shutdown();
});

test("factory reset or shutdown while the chain sleeps between attempts: the sleep's timer is gone", async () => {
  mode = "unavailable";
  const sim = createSimDevice();
  const device = new Device(sim.io, { telemetryIntervalMs: 0, keepaliveSeconds: 30, factory: factory(3) });
  const events: DeviceEvent[] = [];
  device.on((e) => events.push(e));
  device.boot();
  const startingChain = sim.io.timers.pending; // a chain just started: its HTTP exchange's timer
  const sleeping = () => events.some((e) => e.type === "onboarding" && e.event.type === "failed" && e.event.decision.action === "retry");
  await until("the chain sleeps after a 503", sleeping);
  assert.equal(sim.io.network.openCount, 0);
  device.factoryReset(); // no radios: straight back to onboarding, a fresh chain
  assert.equal(sim.io.timers.pending, startingChain, "only the fresh chain's timer: the old sleep was cleared");
  events.length = 0;
  await until("the fresh chain sleeps too", sleeping);
  device.shutdown();
  assert.equal(sim.io.timers.pending, 0, "shutdown leaves no timer");
  assert.equal(sim.io.network.openCount, 0, "and no socket");
  sim.io.shutdown();
  mode = "hold";
});

test("re-provision while the chain sleeps: the round is dropped, and the next provisioning runs one fresh chain", async () => {
  mode = "unavailable";
  const { sim, device, events, app } = await provisioned(config(factory(3)));
  await until("the chain sleeps after a 503", () => events.some((e) => e.type === "onboarding" && e.event.type === "failed" && e.event.decision.action === "retry"));
  const asked = requests;
  assert.equal(await app.ctrl("reprov"), 0);
  mode = "hold";
  const before = held.length;
  // The phone sends the network again: one new chain, one request; the old chain stays silent.
  assert.equal(await app.setConfig("home-net", "correct horse battery"), 0);
  assert.equal(await app.applyConfig(), 0);
  await until("the new chain's request", () => held.length > before);
  const attempts = events.filter((e) => e.type === "onboarding" && e.event.type === "attempt").length;
  assert.equal(attempts, 2, "one attempt before the re-provision, one after");
  assert.equal(requests, asked + 1);
  release(held[held.length - 1]!);
  await until("the new chain's credentials are stored", () => stored(sim)!.mqtt !== undefined);
  assert.equal(stored(sim)!.mqtt!.username, "late-key");
  device.shutdown();
  sim.io.shutdown();
});
