// The reference cloud on its own: state survives a restart (JSON file written atomically), the
// admin HTTP API needs its token and lists/disables/revokes devices, and the HTTP driver
// (src/http/client.ts) talks to it over real TLS with the board profile.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { generateTestPki, type TestPki } from "../../host-sim/certs/pki.js";
import { startCloud } from "../../host-sim/cloud/cloud.js";
import { createSimDevice } from "../../host-sim/sim-device.js";
import { fromUtf8 } from "../../src/bytes/bytes.js";
import { HttpError } from "../../src/http/codec.js";
import { httpFetch } from "../../src/http/client.js";

let dir: string;
let pki: TestPki;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "cloud-test-"));
  pki = generateTestPki(join(dir, "pki"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const tls = () => ({ key: pki.serverKeyPem, cert: pki.serverCertPem, ca: pki.caPem });

test("state survives a restart; the admin API needs its token, lists, disables and revokes", async () => {
  const statePath = join(dir, "state.json");
  const sim = createSimDevice();
  const io = sim.io;
  let cloud = await startCloud({ tls: tls(), statePath, adminToken: "admin-token-1" });
  const admin = (path: string, json?: unknown, token = "admin-token-1") =>
    httpFetch(io, `${cloud.httpUrl}${path}`, { ca: pki.caPem, method: json === undefined ? "GET" : "POST", headers: { Authorization: `Bearer ${token}` }, ...(json !== undefined ? { json } : {}) });

  assert.equal((await admin("/admin/devices", undefined, "wrong")).status, 401);
  assert.equal((await admin("/admin/serials", { serials: ["SER1"] })).status, 204);
  const created = await admin("/admin/configs", { externalId: "AA:BB", externalKey: "k" });
  assert.equal(created.status, 201);
  const thingId = (JSON.parse(fromUtf8(created.body)) as { thingId: string }).thingId;
  const reg = await httpFetch(io, `${cloud.httpUrl}/register`, { ca: pki.caPem, json: { serial: "SER1" } });
  assert.equal(reg.status, 201);
  const { deviceId } = JSON.parse(fromUtf8(reg.body)) as { deviceId: string };
  await cloud.close();

  // Restart over the same file: nothing lost.
  cloud = await startCloud({ tls: tls(), statePath, adminToken: "admin-token-1" });
  const listed = JSON.parse(fromUtf8((await admin("/admin/devices")).body)) as { device: string; clientId?: string; enabled: boolean }[];
  assert.ok(listed.some((d) => d.clientId === thingId && d.enabled), "bootstrap credential kept");
  assert.ok(listed.some((d) => d.clientId === deviceId && d.device === "register:SER1"), "registered device kept");
  assert.equal((await admin(`/admin/devices/${thingId}/disable`, {})).status, 204);
  assert.equal((JSON.parse(readFileSync(statePath, "utf8")) as { configs: { enabled: boolean }[] }).configs[0]!.enabled, false, "persisted");
  assert.equal((await admin(`/admin/devices/register:SER1/revoke`, {})).status, 204);
  const after = JSON.parse(fromUtf8((await admin("/admin/devices")).body)) as { clientId?: string; enabled: boolean }[];
  assert.ok(!after.some((d) => d.clientId === deviceId), "revoked credential gone");
  assert.ok(after.some((d) => d.clientId === thingId && !d.enabled), "disabled one listed as disabled");
  assert.equal((await admin("/admin/devices/nobody/revoke", {})).status, 404);
  await cloud.close();
  io.shutdown();
});

test("http driver: a refused port is typed unreachable; an untrusted server is refused by TLS", async () => {
  const sim = createSimDevice();
  const cloud = await startCloud({ tls: tls() });
  await assert.rejects(httpFetch(sim.io, "https://localhost:1/x", { ca: pki.caPem }), (e: unknown) => e instanceof HttpError && e.code === "unreachable");
  await assert.rejects(httpFetch(sim.io, `${cloud.httpUrl}/register`, { ca: pki.wrongCaPem, json: {} }), (e: unknown) => e instanceof HttpError && e.code === "unreachable" && /tls/.test(e.message));
  const ok = await httpFetch(sim.io, `${cloud.httpUrl}/nothing-here`, { ca: pki.caPem });
  assert.equal(ok.status, 404);
  await cloud.close();
  sim.io.shutdown();
});
