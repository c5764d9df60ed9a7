// A network cut at every step of every other onboarding path (faults-onboarding.test.ts does the
// registration path in detail): Mainflux bootstrap (plain, and secure with AES-CFB), the shared
// login's "register on first connect" over MQTT, and hub approval (key probe, then the signed
// pairing request). A loopback proxy (host-sim/net-faults/) sits in front of the service the path
// talks to. A clean run first counts the flights of the path's first connection; then, for each
// flight, a fresh blank unit has that flight cut on the first connection that reaches it. Each must
// end online with the credentials the service issued, stored whole; a reboot comes back online
// from flash with no write.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { generateTestPki, type TestPki } from "../../host-sim/certs/pki.js";
import { startCloud, type Cloud } from "../../host-sim/cloud/cloud.js";
import { startHub, type Hub } from "../../host-sim/hub/hub.js";
import { startTcpProxy, type TcpProxy, type TcpProxyOptions } from "../../host-sim/net-faults/proxy.js";
import { createSimDevice, type HostSimDevice } from "../../host-sim/sim-device.js";
import { parseFactoryConfig, type FactoryConfig } from "../../src/config/factory-config.js";
import { Device } from "../../src/lifecycle/device.js";
import { CredentialStore } from "../../src/storage/credential-store.js";
import { encodeRecord, type CredentialRecord } from "../../src/storage/credential-record.js";
import { until } from "./until.js";

const FAST = { telemetryIntervalMs: 0, keepaliveSeconds: 30, backoff: { initialMs: 100, maxMs: 400, minMs: 50 } };
const ENCRYPT_KEY = "12345678910111213141516171819202";
const RETRY = { attempts: 3, initialMs: 100, maxMs: 400 };

let dir: string;
let pki: TestPki;
let cloud: Cloud;
let hub: Hub;
let macCounter = 0x80;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "onboarding-path-faults-"));
  pki = generateTestPki(join(dir, "pki"));
  cloud = await startCloud({ tls: { key: pki.serverKeyPem, cert: pki.serverCertPem, ca: pki.caPem }, encryptKey: ENCRYPT_KEY });
  cloud.addSharedAccount("class-f", "shared-password-f", undefined, { register: true });
  hub = await startHub({ stateDir: join(dir, "hub"), password: "hub-password-1", cloud, brokerCa: pki.caPem, pollMs: 100 });
  // The person at the hub allows every device that asks (the cut, not the approval, is under test).
  hub.events.on("request", (e) => { if (e.outcome === "pending") hub.decide(e.key, "allow", "test"); });
});
after(async () => {
  await hub.close();
  await cloud.close();
  rmSync(dir, { recursive: true, force: true });
});


interface Path {
  readonly name: string;
  /** Where the proxy forwards to. */
  target(): number;
  /** Prepare the service for this unit; the factory config that reaches it through the proxy. */
  unit(mac: string, proxyPort: number): FactoryConfig;
  /** Failure kinds a cut may legitimately produce on this path. */
  readonly failures: RegExp;
}

const port = (url: string): number => Number(new URL(url.replace(/^mqtts:/, "https:")).port);

const PATHS: Path[] = [
  ...(["raw", "client"] as const).map((generation): Path => ({
    name: `bootstrap (${generation === "raw" ? "Mainflux ≤0.13, plain" : "SuperMQ, secure"})`,
    target: () => port(cloud.httpUrl),
    unit(mac, proxyPort) {
      cloud.generation = generation;
      const externalKey = `fault-key-${mac}`;
      cloud.addBootstrapConfig({ externalId: mac, externalKey });
      return parseFactoryConfig({
        chain: ["stored", "bootstrap"], broker: { url: cloud.brokerUrl, ca: pki.caPem }, retry: RETRY,
        bootstrap: { url: `https://localhost:${proxyPort}`, generation, externalKey, ca: pki.caPem, ...(generation === "client" ? { secure: { key: ENCRYPT_KEY } } : {}) },
      });
    },
    failures: /^bootstrap: (unreachable|malformed-reply)$/,
  })),
  {
    name: "shared login, register on first connect (MQTT)",
    target: () => port(cloud.brokerUrl),
    unit: (_mac, proxyPort) => parseFactoryConfig({
      chain: ["stored", "shared"], broker: { url: `mqtts://localhost:${proxyPort}`, ca: pki.caPem }, retry: RETRY,
      shared: { username: "class-f", password: "shared-password-f", clientIdPrefix: "flt", registerOnConnect: { timeoutMs: 3_000, cloudKey: cloud.registrationKey } },
    }),
    failures: /^shared: (unreachable|malformed-reply)$/,
  },
  {
    name: "hub approval (secure)",
    target: () => hub.port,
    unit: (_mac, proxyPort) => parseFactoryConfig({
      chain: ["stored", "hub"], retry: RETRY,
      hub: { address: "127.0.0.1", port: proxyPort, udpPort: 0, service: "", pollIntervalMs: 100, discoveryTimeoutMs: 500, approvalTimeoutMs: 60_000, trustOnFirstUse: true },
    }),
    failures: /^hub: (unreachable|malformed-reply|not-approved)$/,
  },
];

interface Run { readonly sim: HostSimDevice; readonly device: Device; readonly proxy: TcpProxy; readonly config: FactoryConfig; readonly failures: string[] }

async function start(path: Path, onChunk?: TcpProxyOptions["onChunk"]): Promise<Run> {
  const proxy = await startTcpProxy({ target: { host: "127.0.0.1", port: path.target() }, ...(onChunk ? { onChunk } : {}) });
  const mac = `02:00:00:00:01:${(macCounter++).toString(16).padStart(2, "0")}`.toUpperCase();
  const config = path.unit(mac, proxy.port);
  const sim = createSimDevice({ mac, log: () => {} });
  const device = new Device(sim.io, { ...FAST, factory: config });
  const failures: string[] = [];
  device.on((e) => {
    if (e.type === "onboarding" && e.event.type === "failed" && e.event.strategy !== "stored") failures.push(`${e.event.strategy}: ${e.event.failure.kind}`);
  });
  device.boot();
  return { sim, device, proxy, config, failures };
}

async function stop(r: Run): Promise<void> {
  r.device.shutdown();
  r.sim.io.shutdown();
  await r.proxy.close();
}

/** Online with a whole stored record whose login the cloud issued; a reboot is online from flash, writing nothing. */
async function checkOnlineAndStored(r: Run): Promise<void> {
  await until(`online (state ${r.device.state}; failures ${r.failures.join(", ")})`, () => r.device.state === "online");
  const loaded = new CredentialStore(r.sim.io.storage).load();
  assert.equal(loaded.status, "ok");
  const record = (loaded as { record: CredentialRecord }).record;
  assert.ok(record.mqtt, "no MQTT credentials stored");
  assert.ok(cloud.listDevices().some((d) => d.username === record.mqtt!.username), "the stored login is not one the cloud issued");
  const stored = encodeRecord(record);
  r.device.shutdown();
  const sim = r.sim.reboot();
  const again = new Device(sim.io, { ...FAST, factory: r.config });
  try {
    again.boot();
    await until("online again after a reboot", () => again.state === "online");
    assert.equal(sim.flash.writeCount, 0, "the reboot onboarded again (it wrote to flash)");
    assert.deepEqual(encodeRecord((new CredentialStore(sim.io.storage).load() as { record: CredentialRecord }).record), stored);
  } finally {
    again.shutdown();
    sim.io.shutdown();
  }
}

for (const path of PATHS) {
  describe(`a network cut at every step: ${path.name}`, () => {
    let flights = 0;

    test("clean run: count the flights of the first connection", async (t) => {
      let firstId: number | undefined;
      const r = await start(path, (info) => {
        firstId ??= info.id;
        if (info.id === firstId) flights = Math.max(flights, info.flights.up + info.flights.down);
        return "forward";
      });
      try {
        await checkOnlineAndStored(r);
        assert.ok(firstId !== undefined, "no connection went through the proxy");
        assert.ok(flights >= 4, `only ${flights} flights: the TLS handshake alone has 4`);
        t.diagnostic(`${flights} flights on the first connection`);
      } finally {
        await stop(r);
      }
    });

    test("TCP connect: the port refuses, then opens", async () => {
      const r = await start(path);
      try {
        r.proxy.refuseNew = true;
        await until("a refused attempt", () => r.proxy.stats.refused >= 1 && r.failures.length >= 1);
        assert.ok(r.failures.every((f) => path.failures.test(f)), `failures: ${r.failures.join(", ")}`);
        r.proxy.refuseNew = false;
        await checkOnlineAndStored(r);
      } finally {
        await stop(r);
      }
    });

    test("a cut at each flight of the first connection, one unit per flight", async () => {
      assert.ok(flights > 0, "the clean run did not count flights");
      for (let flight = 1; flight <= flights; flight++) {
        let cut = false;
        const r = await start(path, (info) => {
          if (cut || info.flights.up + info.flights.down !== flight) return "forward";
          cut = true;
          return "cut";
        });
        try {
          await until(`the cut at flight ${flight}`, () => cut);
          await checkOnlineAndStored(r);
          assert.ok(r.failures.every((f) => path.failures.test(f)), `flight ${flight}: failures ${r.failures.join(", ")}`);
        } finally {
          await stop(r);
        }
      }
    });
  });
}

test("hub: the reply that releases the credentials is cut — the window is spent, a person allows again, the unit gets online", async () => {
  const path = PATHS.find((p) => p.name.startsWith("hub"))!;
  // The reply is inside TLS: find it by order. Once the hub has allowed, the next pairing exchange
  // (6 flights: 4 of handshake, request, reply) carries the release; its 6th flight is cut.
  let allowedAt = 0;
  let cutReply = false;
  const onDecision = (d: { action: string }) => { if (d.action === "allow" && allowedAt === 0) allowedAt = Date.now(); };
  hub.events.on("decision", onDecision);
  const opened = new Map<number, number>();
  let decisionsBefore = 0;
  const r = await start(path, (info, direction) => {
    if (!opened.has(info.id)) opened.set(info.id, Date.now());
    const afterAllow = allowedAt !== 0 && opened.get(info.id)! >= allowedAt;
    if (!cutReply && afterAllow && direction === "down" && info.flights.up + info.flights.down === 6) { cutReply = true; return "cut"; }
    return "forward";
  });
  try {
    decisionsBefore = hub.audit().length;
    await checkOnlineAndStored(r);
    assert.ok(cutReply, "no release reply was cut");
    const allows = hub.audit().slice(decisionsBefore).filter((a) => JSON.stringify(a).includes("allow")).length;
    assert.ok(allows >= 2, `a lost release needs a second Allow (saw ${allows} allow entries)`);
  } finally {
    hub.events.off("decision", onDecision);
    await stop(r);
  }
});
