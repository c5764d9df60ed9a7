// An onboarding storm, small: blank devices (the real core) power up at once and register with the
// reference cloud, whose rate limit (host-sim/cloud/rate-limit.ts) answers 429 + Retry-After beyond
// its budget; every device must end online with the credentials issued to it, and the cloud must
// never have admitted more than its budget in any second. `npm run fleet -- --via cloud` is the
// large version. Also the limiter's queue on a clock of its own.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { startCloud } from "../../host-sim/cloud/cloud.js";
import { RateLimit } from "../../host-sim/cloud/rate-limit.js";
import { generateTestPki } from "../../host-sim/certs/pki.js";
import { runFleet } from "../../host-sim/fleet/fleet.js";
import { parseFactoryConfig } from "../../src/config/factory-config.js";

test("rate limit: admits its budget per second, queues the rest in slots a client keeps", () => {
  let now = 0;
  const limit = new RateLimit({ perSecond: 2, now: () => now });
  assert.deepEqual(limit.take("a"), { ok: true });
  assert.deepEqual(limit.take("b"), { ok: true });
  const c = limit.take("c"); // window full: slot at 500 ms
  const d = limit.take("d"); // next slot at 1000 ms
  assert.deepEqual([c, d], [{ ok: false, retryAfterSeconds: 1 }, { ok: false, retryAfterSeconds: 1 }]);
  now = 300;
  assert.equal(limit.take("c").ok, false, "early: still refused");
  assert.deepEqual(limit.take("e"), { ok: false, retryAfterSeconds: 2 }, "a newcomer queues behind c and d (slot 1500 ms)");
  now = 1001;
  assert.equal(limit.take("x").ok, false, "a newcomer does not jump the queue");
  assert.equal(limit.take("c").ok, true, "c at its slot");
  assert.equal(limit.take("d").ok, true, "d at its slot");
  now = 1600;
  assert.equal(limit.take("e").ok, false, "window full (c, d in the last second): e came late and gets the next free slot");
  const s = limit.stats;
  assert.equal(s.admitted, 4);
  assert.equal(s.peakAdmittedPerSecond, 2);
  assert.equal(s.requests, 10);
});

test("onboarding storm: 60 blank devices, register limited to 15/s → all online, budget kept", async () => {
  const dir = mkdtempSync(join(tmpdir(), "onboarding-storm-"));
  const pki = generateTestPki(join(dir, "pki"));
  const limit = new RateLimit({ perSecond: 15 });
  const cloud = await startCloud({ tls: { key: pki.serverKeyPem, cert: pki.serverCertPem, ca: pki.caPem }, onboardingLimit: limit });
  try {
    const macOf = (i: number) => `02:5E:00:00:00:${i.toString(16).padStart(2, "0")}`.toUpperCase();
    const devices = 60;
    cloud.allowSerials(Array.from({ length: devices }, (_, i) => macOf(i).replace(/:/g, "")));
    const factory = parseFactoryConfig({
      chain: ["stored", "register"],
      broker: { url: cloud.brokerUrl, ca: pki.caPem },
      register: { url: `${cloud.httpUrl}/register`, ca: pki.caPem },
    });
    const result = await runFleet({ devices, onboard: { factory, macOf }, timeoutMs: 120_000 });
    assert.equal(result.online, devices, `not online: ${JSON.stringify(Object.fromEntries(result.failures))}`);
    const s = limit.stats;
    assert.ok(s.refused > 0, "the storm went beyond the budget (else this test shows nothing)");
    assert.ok(s.peakAdmittedPerSecond <= 15, `admitted ${s.peakAdmittedPerSecond} in one second`);
    assert.equal(s.admitted, devices, "each device registered exactly once");
    assert.ok([...result.attemptFailures.keys()].every((k) => k === "onboarding register: not-approved (429)"), [...result.attemptFailures.keys()].join(", "));
    const issued = new Set(cloud.listDevices().filter((d) => d.enabled).map((d) => d.username));
    assert.equal(issued.size, devices);
  } finally {
    await cloud.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
