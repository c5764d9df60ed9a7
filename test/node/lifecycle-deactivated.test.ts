// Issue 11, Deliver 4: a deactivated Mainflux/Magistrala config. Up to Magistrala 0.20 its
// bootstrap still hands out the credentials (cloud-protocols.md §1.4; the recorded 0.12/0.13
// behaviour), the broker takes the CONNECT, then refuses the unit: the real MQTT adapter (and the
// reference cloud's embedded broker in its deactivated mode) drops the session at SUBSCRIBE or
// PUBLISH. Mosquitto 2.0 cannot show that (with an ACL file it grants every SUBSCRIBE and
// acknowledges denied QoS 1 publishes to 3.1.1 clients): there the disabled dynsec client is refused
// at CONNECT while the bootstrap keeps handing out its credentials. The device must count
// each such round as failed — back-off between rounds, parked after retry.maxRounds — instead of
// re-bootstrapping the same credentials forever (11 rounds in 12 s on main).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { generateTestPki, type TestPki } from "../../host-sim/certs/pki.js";
import { startCloud, type Cloud } from "../../host-sim/cloud/cloud.js";
import { createSimDevice } from "../../host-sim/sim-device.js";
import { parseFactoryConfig } from "../../src/config/factory-config.js";
import { Device } from "../../src/lifecycle/device.js";
import { until } from "./until.js";

let dir: string;
let pki: TestPki;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "deactivated-"));
  pki = generateTestPki(join(dir, "pki"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const MAX_ROUNDS = 3;

async function deactivatedRun(cloud: Cloud, mac: string, mode: "connect" | "publish"): Promise<{ states: string[]; bootstraps: number; rounds: number[] }> {
  cloud.version = "mainflux-0.13"; // its bootstrap ignores the state, as the real one did
  cloud.addBootstrapConfig({ externalId: mac, externalKey: "deact-key" });
  assert.ok(cloud.setEnabled(mac, false, { mode }));
  await cloud.settled();
  let bootstraps = 0;
  cloud.onEvent((e) => { if (e.what === "bootstrap" && e.detail.startsWith(mac)) bootstraps++; });
  const factory = parseFactoryConfig({
    chain: ["stored", "bootstrap"],
    broker: { url: cloud.brokerUrl, ca: pki.caPem },
    bootstrap: { url: cloud.httpUrl, version: "mainflux-0.13", externalKey: "deact-key", ca: pki.caPem },
    retry: { attempts: 1, initialMs: 100, maxMs: 400, maxRounds: MAX_ROUNDS, parkedRetryMs: 3_600_000 },
  });
  const sim = createSimDevice({ mac });
  const device = new Device(sim.io, {
    telemetryIntervalMs: 0, keepaliveSeconds: 30, factory,
    backoff: { initialMs: 50, maxMs: 100, minMs: 20 },
    publishRefusal: { strikes: 2, windowMs: 5_000 },
  });
  const states: string[] = [];
  device.on((e) => {
    if (e.type === "state") states.push(e.reason ? `${e.state}: ${e.reason}` : e.state);
  });
  device.boot();
  try {
    await until("parked", () => device.state === "onboarding-failed", 60_000).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${states.join("\n")}\n${sim.logs.filter((l) => l.level !== "debug").slice(-15).map((l) => `${l.event} ${JSON.stringify(l.fields)}`).join("\n")}`);
    });
  } finally {
    device.shutdown();
    sim.io.shutdown();
  }
  const rounds = sim.logs.filter((l) => l.event === "onboarding-round-failed").map((l) => Number(l.fields.rounds));
  return { states, bootstraps, rounds };
}

function checkParked(run: { states: string[]; bootstraps: number; rounds: number[] }, refusal: RegExp, connects: boolean): void {
  const text = run.states.join("\n");
  assert.ok(run.states.some((s) => refusal.test(s)), `refused as expected:\n${text}`);
  // The counter is not reset by CONNACK 0: rounds 1 … maxRounds in a row, the last one parking.
  assert.deepEqual(run.rounds, Array.from({ length: MAX_ROUNDS }, (_, i) => i + 1), text);
  // Round 1 is retried at once (a refusal can teach the next round something), the rest back off.
  assert.equal(run.states.filter((s) => s.startsWith("onboarding-backoff")).length, MAX_ROUNDS - 2, text);
  assert.match(run.states.filter((s) => s !== "stopped").at(-1)!, new RegExp(`^onboarding-failed: .*${MAX_ROUNDS} rounds failed`));
  assert.equal(run.bootstraps, MAX_ROUNDS, `one bootstrap per round:\n${text}`);
  if (connects) assert.ok(run.states.filter((s) => s === "online").length >= MAX_ROUNDS, "each round's credentials did connect");
}

describe("deactivated config: connects, then refused → failed rounds → parked", () => {
  test("reference cloud (embedded broker drops the session at subscribe/publish)", async () => {
    const cloud = await startCloud({ tls: { key: pki.serverKeyPem, cert: pki.serverCertPem, ca: pki.caPem } });
    try {
      const run = await deactivatedRun(cloud, "02:00:00:00:0D:01", "publish");
      checkParked(run, /credentials rejected: publish-refused/, true);
    } finally {
      await cloud.close();
    }
  });

  test("Mosquitto with dynamic security (the disabled client is refused at CONNECT, the bootstrap keeps answering)", async () => {
    const cloud = await startCloud({ tls: { key: pki.serverKeyPem, cert: pki.serverCertPem, ca: pki.caPem }, mosquitto: pki });
    try {
      const run = await deactivatedRun(cloud, "02:00:00:00:0D:02", "connect");
      checkParked(run, /credentials rejected: not-authorized/, false);
    } finally {
      await cloud.close();
    }
  });
});
