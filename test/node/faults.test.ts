// Fault injection on the spine's online path: a device with factory credentials in flash boots
// and connects to a real broker over TLS through a loopback proxy (host-sim/net-faults/) that
// cuts the connection at every protocol step in turn; then broker restart, DNS failure and clock
// jumps. Each case must end with the device online and its store as it was (and no flash write).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Io, TlsOptions } from "../../src/io/io.js";
import { generateIdentity, nodeIdOf } from "../../src/identity/identity.js";
import { Device, type DeviceEvent } from "../../src/lifecycle/device.js";
import { Secret } from "../../src/secrets/secret.js";
import { encodeRecord } from "../../src/storage/credential-record.js";
import { CredentialStore } from "../../src/storage/credential-store.js";
import { startEmbeddedBroker, type EmbeddedBroker } from "../../host-sim/broker/embedded.js";
import { generateTestPki, type TestPki } from "../../host-sim/certs/pki.js";
import { startTcpProxy, type ProxyConnectionInfo, type TcpProxy } from "../../host-sim/net-faults/proxy.js";
import { createSimDevice, type HostSimDevice } from "../../host-sim/sim-device.js";
import { nodeCrypto } from "../../host-sim/io/node-crypto.js";

const USER = { name: "device", password: "fault test password" };
const CONFIG = { telemetryIntervalMs: 0, keepaliveSeconds: 30, backoff: { initialMs: 100, maxMs: 400, minMs: 50 } };

let dir: string;
let pki: TestPki;
let broker: EmbeddedBroker;
let brokerPort: number;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "onboarding-faults-"));
  pki = generateTestPki(join(dir, "pki"));
  broker = await startEmbeddedBroker({ pki, users: { [USER.name]: USER.password } });
  brokerPort = broker.port;
});
after(async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Rig {
  readonly sim: HostSimDevice;
  readonly device: Device;
  readonly proxy: TcpProxy;
  readonly events: DeviceEvent[];
  /** The record as stored before boot, encoded. */
  readonly stored: Uint8Array;
  waitOnline(what: string, since?: number): Promise<void>;
  /** The store still holds the same record, and this boot wrote nothing. */
  checkStoreIntact(): void;
  stop(): Promise<void>;
}

/** A device whose flash holds credentials for the broker behind `proxy` (host from `host`). */
async function rig(options: { proxy?: Parameters<typeof startTcpProxy>[0]["onChunk"]; wrapIo?: (io: Io) => Io } = {}): Promise<Rig> {
  const proxy = await startTcpProxy({ target: { host: "127.0.0.1", port: brokerPort }, ...(options.proxy ? { onChunk: options.proxy } : {}) });
  const factory = createSimDevice({ log: () => {} });
  const identity = generateIdentity(factory.io);
  new CredentialStore(factory.io.storage).save({
    version: 1, identity,
    mqtt: { brokerUrl: `mqtts://localhost:${proxy.port}`, clientId: nodeIdOf(nodeCrypto, identity), username: USER.name, password: Secret.fromString(USER.password), ca: pki.caPem },
  });
  const sim = factory.reboot(); // power-cycle after the factory: write counts start at 0
  const stored = encodeRecord((new CredentialStore(sim.io.storage).load() as { record: Parameters<typeof encodeRecord>[0] }).record);
  const device = new Device(options.wrapIo ? options.wrapIo(sim.io) : sim.io, CONFIG);
  const events: DeviceEvent[] = [];
  device.on((e) => events.push(e));
  return {
    sim, device, proxy, events, stored,
    async waitOnline(what, since = 0) {
      for (let waited = 0; ; waited += 20) {
        if (device.state === "online" && events.slice(since).some((e) => e.type === "state" && e.state === "online")) return;
        if (waited > 20_000) assert.fail(`not online after ${what} (state ${device.state}; events ${JSON.stringify(events.slice(-6))})`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    checkStoreIntact() {
      assert.equal(sim.flash.writeCount, 0, "the boot and the fault wrote to flash");
      const now = new CredentialStore(sim.io.storage).load();
      assert.equal(now.status, "ok");
      assert.deepEqual(encodeRecord((now as { record: Parameters<typeof encodeRecord>[0] }).record), stored, "the stored record changed");
    },
    async stop() {
      device.shutdown();
      sim.io.shutdown();
      await proxy.close();
    },
  };
}

const failuresIn = (events: readonly DeviceEvent[]) =>
  events.flatMap((e) => (e.type === "mqtt" && (e.event.type === "offline" || e.event.type === "refused") ? [e.event] : []));

describe("a network cut at every step of the online path", () => {
  // Flights of a TLS 1.2 full handshake and the MQTT exchange, as the proxy sees them.
  const STEPS = [
    "TLS ClientHello (device → broker)",
    "TLS ServerHello … ServerHelloDone (broker → device)",
    "TLS ClientKeyExchange, Finished (device → broker)",
    "TLS ChangeCipherSpec, Finished (broker → device)",
    "MQTT CONNECT (device → broker)",
    "MQTT CONNACK (broker → device)",
    "first PUBLISH: retained online status (device → broker)",
  ];

  test("TCP connect: the port refuses, then opens", async () => {
    const r = await rig();
    try {
      r.proxy.refuseNew = true;
      r.device.boot();
      for (let waited = 0; failuresIn(r.events).length < 2; waited += 20) {
        assert.ok(waited < 20_000, "no failed attempts seen");
        await new Promise((res) => setTimeout(res, 20));
      }
      assert.notEqual(r.device.state, "online");
      r.proxy.refuseNew = false;
      await r.waitOnline("the port opened");
      assert.ok(r.proxy.stats.refused >= 2);
      r.checkStoreIntact();
    } finally {
      await r.stop();
    }
  });

  STEPS.forEach((step, index) => {
    const flight = index + 1;
    test(`cut at flight ${flight}: ${step}`, async () => {
      let cut: (ProxyConnectionInfo & { direction: string }) | undefined;
      const r = await rig({
        proxy: (info, direction) => {
          if (cut !== undefined || info.flights.up + info.flights.down !== flight) return "forward";
          cut = { id: info.id, chunks: { ...info.chunks }, flights: { ...info.flights }, direction };
          return "cut";
        },
      });
      try {
        r.device.boot();
        for (let waited = 0; cut === undefined; waited += 20) {
          assert.ok(waited < 20_000, `the connection never reached flight ${flight}`);
          await new Promise((res) => setTimeout(res, 20));
        }
        const at = r.events.length;
        await r.waitOnline(`a cut at ${step}`, at);
        assert.equal(cut.id, 1, "the first connection was cut");
        assert.equal(cut.direction, flight % 2 === 1 ? "up" : "down", "flights alternate, the device's first");
        assert.ok(r.proxy.stats.connections >= 2, "the device reconnected");
        assert.ok(failuresIn(r.events).length >= 1, "the cut was seen as a typed failure");
        const onlineBefore = r.events.slice(0, at).some((e) => e.type === "state" && e.state === "online");
        assert.equal(onlineBefore, flight === STEPS.length, flight === STEPS.length ? "online before its first PUBLISH" : "not online before the cut");
        r.checkStoreIntact();
      } finally {
        await r.stop();
      }
    });
  });
});

describe("other faults", () => {
  test("CONNECT rate limit: the broker refuses with CONNACK 3, the devices back off and all get online", async () => {
    const limited = await startEmbeddedBroker({ pki, users: { [USER.name]: USER.password }, maxConnectsPerSecond: 1 });
    const refusals: string[] = [];
    limited.events.on("rateLimited", (r) => refusals.push(r.clientId));
    const units = [0, 1, 2].map(() => {
      const sim = createSimDevice({ log: () => {} });
      const identity = generateIdentity(sim.io);
      new CredentialStore(sim.io.storage).save({
        version: 1, identity,
        mqtt: { brokerUrl: `mqtts://localhost:${limited.port}`, clientId: nodeIdOf(nodeCrypto, identity), username: USER.name, password: Secret.fromString(USER.password), ca: pki.caPem },
      });
      const device = new Device(sim.io, CONFIG);
      const refused: string[] = [];
      device.on((e) => { if (e.type === "mqtt" && e.event.type === "refused") refused.push(`${e.event.reason}/${String(e.event.willRetry)}`); });
      return { sim, device, refused };
    });
    try {
      for (const u of units) u.device.boot();
      for (let waited = 0; !units.every((u) => u.device.state === "online"); waited += 20) {
        assert.ok(waited < 30_000, `not all online: ${units.map((u) => u.device.state).join(", ")}`);
        await new Promise((res) => setTimeout(res, 20));
      }
      assert.ok(refusals.length >= 2, `three CONNECTs at once against a limit of 1/s: at least two refused (${refusals.length})`);
      const seen = units.flatMap((u) => u.refused);
      assert.equal(seen.length, refusals.length, "every refusal reached a device as a typed event");
      assert.ok(seen.every((r) => r === "server-unavailable/true"), `refused as server-unavailable, to be retried: ${JSON.stringify(seen)}`);
    } finally {
      for (const u of units) { u.device.shutdown(); u.sim.io.shutdown(); }
      await limited.close();
    }
  });

  test("broker restart: online, broker gone, broker back on the same port", async () => {
    const r = await rig();
    try {
      r.device.boot();
      await r.waitOnline("boot");
      await broker.close();
      for (let waited = 0; r.device.state === "online"; waited += 20) {
        assert.ok(waited < 20_000, "the device did not notice the broker going away");
        await new Promise((res) => setTimeout(res, 20));
      }
      const at = r.events.length;
      broker = await startEmbeddedBroker({ pki, users: { [USER.name]: USER.password }, port: brokerPort });
      await r.waitOnline("the broker restarted", at);
      r.checkStoreIntact();
    } finally {
      await r.stop();
    }
  });

  test("DNS failure: the broker's name does not resolve, then does", async () => {
    let dnsDown = true;
    const r = await rig({
      // A resolver outage: while it lasts, the device's connections go to a name that really
      // fails to resolve (RFC 2606 .invalid), so the platform reports a real DNS error.
      wrapIo: (io) => ({
        ...io,
        network: {
          tcp: (o) => io.network.tcp(o),
          udp: (o) => io.network.udp(o),
          tls: (o: TlsOptions) => io.network.tls(dnsDown ? { ...o, host: "broker.fault-test.invalid", serverName: o.serverName ?? o.host } : o),
        },
      }),
    });
    try {
      r.device.boot();
      for (let waited = 0; failuresIn(r.events).length < 2; waited += 20) {
        assert.ok(waited < 20_000, "no failed attempts seen");
        await new Promise((res) => setTimeout(res, 20));
      }
      const kinds = failuresIn(r.events).map((e) => (e.type === "offline" ? e.socketError?.kind : e.reason));
      assert.ok(kinds.includes("dns"), `failures typed as DNS errors: ${JSON.stringify(kinds)}`);
      dnsDown = false;
      await r.waitOnline("DNS came back");
      r.checkStoreIntact();
    } finally {
      await r.stop();
    }
  });

  for (const jump of [+3_600_000, -3_600_000]) {
    test(`clock jump of ${jump > 0 ? "+" : "-"}1 h while online: still online (or back online) with the store intact`, async () => {
      const r = await rig();
      try {
        r.device.boot();
        await r.waitOnline("boot");
        r.sim.io.clock.set(r.sim.io.clock.now() + jump);
        // A forward jump makes the keepalive look overdue: a PINGREQ (or a reconnect) follows; a
        // backward one must not stall the session. Either way a publish must get through.
        const delivered = new Promise<void>((resolve) => r.device.on((e) => { if (e.type === "mqtt" && e.event.type === "delivered") resolve(); }));
        const id = r.device.publishTelemetry({ after: "clock jump" });
        assert.ok(id !== undefined);
        await Promise.race([delivered, new Promise((_, reject) => setTimeout(() => reject(new Error("publish not delivered after the clock jump")), 20_000))]);
        await r.waitOnline("the clock jump");
        r.checkStoreIntact();
      } finally {
        await r.stop();
      }
    });
  }
});
