// Fault injection on the HTTP onboarding path: a blank device (real TLS with the board profile)
// registers with the reference cloud's HTTPS registration service through a loopback proxy
// (host-sim/net-faults/) that fails the first attempt at one step: the TCP connect, each TLS
// handshake flight, the HTTP request, the HTTP response. Once the fault clears the device must be
// online with the credentials the cloud issued, stored whole, and a reboot must come back online
// from the store alone.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { generateTestPki, type TestPki } from "../../host-sim/certs/pki.js";
import { startCloud, type Cloud } from "../../host-sim/cloud/cloud.js";
import { startTcpProxy, type ProxyConnectionInfo, type TcpProxy, type TcpProxyOptions } from "../../host-sim/net-faults/proxy.js";
import { createSimDevice, type HostSimDevice } from "../../host-sim/sim-device.js";
import { parseFactoryConfig } from "../../src/config/factory-config.js";
import { Device, type DeviceEvent } from "../../src/lifecycle/device.js";
import { CredentialStore } from "../../src/storage/credential-store.js";
import { encodeRecord, type CredentialRecord } from "../../src/storage/credential-record.js";
import { until } from "./until.js";

const FAST = { telemetryIntervalMs: 0, keepaliveSeconds: 30, backoff: { initialMs: 100, maxMs: 400, minMs: 50 } };

let dir: string;
let pki: TestPki;
let cloud: Cloud;
let macCounter = 0x40;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "onboarding-http-faults-"));
  pki = generateTestPki(join(dir, "pki"));
  cloud = await startCloud({ tls: { key: pki.serverKeyPem, cert: pki.serverCertPem, ca: pki.caPem } });
});
after(async () => {
  await cloud.close();
  rmSync(dir, { recursive: true, force: true });
});


interface Rig {
  readonly sim: HostSimDevice;
  readonly device: Device;
  readonly proxy: TcpProxy;
  readonly events: DeviceEvent[];
  readonly failures: string[];
  stop(): Promise<void>;
}

async function rig(onChunk?: TcpProxyOptions["onChunk"]): Promise<Rig> {
  const port = Number(new URL(cloud.httpUrl).port);
  const proxy = await startTcpProxy({ target: { host: "127.0.0.1", port }, ...(onChunk ? { onChunk } : {}) });
  const mac = `02:00:00:00:00:${(macCounter++).toString(16).padStart(2, "0")}`.toUpperCase();
  cloud.allowSerials([mac.replace(/:/g, "")]);
  const config = parseFactoryConfig({
    chain: ["stored", "register"],
    broker: { url: cloud.brokerUrl, ca: pki.caPem },
    register: { url: `https://localhost:${proxy.port}/register`, ca: pki.caPem },
    retry: { attempts: 2, initialMs: 100, maxMs: 400 },
  });
  const sim = createSimDevice({ mac, log: () => {} });
  const device = new Device(sim.io, { ...FAST, factory: config });
  const events: DeviceEvent[] = [];
  const failures: string[] = [];
  device.on((e) => {
    events.push(e);
    // "stored" is not applicable on a blank unit: only the registration attempts count
    if (e.type === "onboarding" && e.event.type === "failed" && e.event.strategy !== "stored") failures.push(`${e.event.strategy}: ${e.event.failure.kind}`);
  });
  return {
    sim, device, proxy, events, failures,
    async stop() {
      device.shutdown();
      sim.io.shutdown();
      await proxy.close();
    },
  };
}

/** Online with a whole stored record whose credentials the cloud issued; a reboot is online from flash. */
async function checkOnlineAndStored(r: Rig): Promise<void> {
  await until(`online (state ${r.device.state}; failures ${r.failures.join(", ")})`, () => r.device.state === "online");
  const loaded = new CredentialStore(r.sim.io.storage).load();
  assert.equal(loaded.status, "ok");
  const record = (loaded as { record: CredentialRecord }).record;
  assert.ok(record.mqtt, "no MQTT credentials stored");
  assert.ok(cloud.listDevices().some((d) => d.username === record.mqtt!.username), "stored credentials are not the ones the cloud issued");
  const stored = encodeRecord(record);
  r.device.shutdown();
  const sim = r.sim.reboot();
  const connectionsBefore = r.proxy.stats.connections;
  const again = new Device(sim.io, { ...FAST, factory: parseFactoryConfig({ chain: ["stored", "register"], broker: { url: cloud.brokerUrl, ca: pki.caPem }, register: { url: `https://localhost:${r.proxy.port}/register`, ca: pki.caPem } }) });
  try {
    again.boot();
    await until("online again after a reboot", () => again.state === "online");
    assert.equal(r.proxy.stats.connections, connectionsBefore, "the reboot called the registration service again");
    assert.equal(sim.flash.writeCount, 0, "the reboot wrote to flash");
    assert.deepEqual(encodeRecord((new CredentialStore(sim.io.storage).load() as { record: CredentialRecord }).record), stored);
  } finally {
    again.shutdown();
    sim.io.shutdown();
  }
}

describe("a network cut at every step of the HTTP registration path", () => {
  // Flights on the registration connection as the proxy sees them (TLS full handshake, then HTTP).
  const STEPS = [
    "TLS ClientHello (device → cloud)",
    "TLS ServerHello … (cloud → device)",
    "TLS client Finished (device → cloud)",
    "TLS server Finished / session tickets (cloud → device)",
    "HTTP request (device → cloud)",
    "HTTP response (cloud → device)",
  ];

  test("TCP connect: the port refuses, then opens", async () => {
    const r = await rig();
    try {
      r.proxy.refuseNew = true;
      r.device.boot();
      await until("a refused registration attempt", () => r.proxy.stats.refused >= 1 && r.failures.length >= 1);
      assert.notEqual(r.device.state, "online");
      assert.ok(r.failures.every((f) => f === "register: unreachable"), `failures: ${r.failures.join(", ")}`);
      r.proxy.refuseNew = false;
      await checkOnlineAndStored(r);
    } finally {
      await r.stop();
    }
  });

  STEPS.forEach((step, index) => {
    const flight = index + 1;
    test(`cut at flight ${flight}: ${step}`, async () => {
      let cut: (ProxyConnectionInfo & { direction: string }) | undefined;
      let reached = 0;
      const r = await rig((info, direction) => {
        reached = Math.max(reached, info.flights.up + info.flights.down);
        if (cut !== undefined || info.flights.up + info.flights.down !== flight) return "forward";
        cut = { id: info.id, chunks: { ...info.chunks }, flights: { ...info.flights }, direction };
        return "cut";
      });
      try {
        r.device.boot();
        await until(`a cut at flight ${flight} (reached ${reached})`, () => cut !== undefined);
        assert.equal(cut!.direction, step.includes("device →") ? "up" : "down", "the flight is not the step named");
        await checkOnlineAndStored(r);
        assert.ok(r.failures.length >= 1, "the cut attempt was not reported as a failure");
        assert.ok(r.failures.every((f) => /^register: (unreachable|malformed-reply)$/.test(f)), `failures: ${r.failures.join(", ")}`);
        assert.ok(r.proxy.stats.connections >= 2, "no second attempt");
      } finally {
        await r.stop();
      }
    });
  });
});
