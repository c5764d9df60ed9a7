// The reference hub without a browser: real HTTPS requests from Node, signed with Ed25519 keys the
// test makes (node:crypto, not the firmware's code), the reference cloud's broker enforcing the
// logins the hub issues, the mDNS responder decoded with dns-packet, the UDP announcer received
// on a real socket.
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import * as dnsPacket from "dns-packet";
import { connect, type MqttClient } from "mqtt";
import { generateTestPki, type TestPki } from "../../host-sim/certs/pki.js";
import { startCloud, type Cloud } from "../../host-sim/cloud/cloud.js";
import { startHub, type Hub, type HubOptions } from "../../host-sim/hub/hub.js";
import { hubHttps, HubWebClient, loginForm } from "../../host-sim/hub/web-client.js";
import { createSimDevice } from "../../host-sim/sim-device.js";
import { parseFactoryConfig } from "../../src/config/factory-config.js";
import { Device } from "../../src/lifecycle/device.js";
import { until } from "./until.js";

let dir: string;
let pki: TestPki;
let cloud: Cloud;
const hubs: Hub[] = [];
const PASSWORD = "correct horse battery";

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "hub-test-"));
  pki = generateTestPki(join(dir, "pki"));
  cloud = await startCloud({ tls: { key: pki.serverKeyPem, cert: pki.serverCertPem, ca: pki.caPem }, statePath: join(dir, "cloud.json") });
});
after(async () => {
  for (const h of hubs) await h.close();
  await cloud.close();
  rmSync(dir, { recursive: true, force: true });
});

let hubCount = 0;
async function hub(options: Partial<HubOptions> = {}, stateDir = join(dir, `hub-${hubCount++}`)): Promise<Hub & { stateDir: string }> {
  const h = await startHub({ stateDir, password: PASSWORD, cloud, brokerCa: pki.caPem, pollMs: 200, ...options });
  hubs.push(h);
  return Object.assign(h, { stateDir });
}

/** A device as the test plays it: its own Ed25519 key (node:crypto), node ID, and nonce. */
interface TestDevice { name: string; privateKey: KeyObject; publicKey: Buffer; nodeId: string; nonce: string }
function device(name = "Test unit"): TestDevice {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const raw = Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url");
  return { name, privateKey, publicKey: raw, nodeId: createHash("sha512").update(raw).digest("hex").slice(0, 20), nonce: randomBytes(16).toString("hex") };
}
function pairBody(d: TestDevice, hubKeyHex: string, override: Record<string, unknown> = {}): string {
  // PROTOCOL.md §2, built here from the text of the spec: "onboard-sig-v1" NUL "hub-pair" NUL text.
  const text = `onboard-hub-pair-v2\n${d.nodeId}\n${d.nonce}\n${hubKeyHex}\n${d.name}`;
  const signature = sign(null, Buffer.concat([Buffer.from("onboard-sig-v1\0hub-pair\0"), Buffer.from(text)]), d.privateKey).toString("hex");
  return JSON.stringify({ v: 2, node_id: d.nodeId, public_key: d.publicKey.toString("hex"), name: d.name, nonce: d.nonce, signature, ...override });
}
/** PROTOCOL.md §2 pairing code, computed here from the spec. */
function expectedCode(hubKeyHex: string, d: TestDevice): string {
  const h = createHash("sha256").update("onboard-hub-pairing-v1").update(Buffer.from(hubKeyHex, "hex")).update(d.publicKey).update(Buffer.from(d.nonce, "hex")).digest();
  const n = String(h.readUInt32BE(0) % 1_000_000).padStart(6, "0");
  return `${n.slice(0, 3)} ${n.slice(3)}`;
}
async function ask(h: Hub, d: TestDevice, opts: { localAddress?: string; body?: string } = {}) {
  const r = await hubHttps(h.url, h.certPem, {
    method: "POST", path: "/hub/v1/pair", headers: { "Content-Type": "application/json" }, body: opts.body ?? pairBody(d, h.keyHash),
    ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
  });
  return { status: r.status, headers: r.headers, json: JSON.parse(r.body) as Record<string, unknown> };
}
async function mqttLogin(mqtt: Record<string, unknown>): Promise<MqttClient> {
  const url = new URL(String(mqtt.url));
  const client = connect({
    protocol: "mqtts", host: url.hostname, port: Number(url.port), ca: String(mqtt.ca), clientId: String(mqtt.client_id),
    username: String(mqtt.username), password: String(mqtt.password), reconnectPeriod: 0, connectTimeout: 10_000,
  });
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", reject);
    client.once("close", () => reject(new Error("closed before CONNACK")));
  });
  return client;
}
const statusOf = (h: Hub, key: string) => h.requests().find((r) => r.key === key)?.status;

describe("secure pairing API", () => {
  test("pending with the pairing code → Allow → released once, the login works on the broker for its own topics only", async () => {
    const h = await hub();
    assert.match(h.keyHash, /^[0-9a-f]{64}$/);
    const d = device("Kitchen meter");
    const first = await ask(h, d);
    assert.equal(first.status, 202);
    assert.deepEqual(first.json, { status: "pending", pairing_code: expectedCode(h.keyHash, d), poll_ms: 200 });
    const listed = h.requests().find((r) => r.key === d.nodeId);
    assert.equal(listed?.name, "Kitchen meter");
    assert.equal(listed?.address, "127.0.0.1");
    assert.equal(listed?.pairingCode, expectedCode(h.keyHash, d));
    assert.ok(h.decide(d.nodeId, "allow", "tester").ok);
    const released = await ask(h, d);
    assert.equal(released.status, 200);
    assert.equal(released.json.status, "released");
    const mqtt = released.json.mqtt as Record<string, unknown>;
    assert.equal(mqtt.client_id, d.nodeId);
    assert.equal(mqtt.base_topic, "emon");
    assert.equal(mqtt.ca, pki.caPem);
    assert.equal(mqtt.url, cloud.brokerUrl);
    // One-shot: the next request is pending again, and the page says so.
    const again = await ask(h, d);
    assert.equal(again.status, 202);
    assert.equal(statusOf(h, d.nodeId), "pending");
    const decisions = h.audit().filter((a) => a.key === d.nodeId).map((a) => `${a.decision}:${a.who}:${a.address}`);
    assert.deepEqual(decisions, ["allow:tester:127.0.0.1", "release:hub:127.0.0.1"]);
    // The broker enforces the login: own topics yes, another node's no, other client IDs refused.
    const client = await mqttLogin(mqtt);
    const denied: string[] = [];
    cloud.broker.events.on("denied", (e) => { if (e.clientId === d.nodeId) denied.push(e.topic); });
    await client.publishAsync(`emon/${d.nodeId}/telemetry`, "{}", { qos: 1 });
    const granted = await client.subscribeAsync(`emon/${d.nodeId}/in`);
    assert.deepEqual(granted.map((g) => g.qos), [0]);
    await assert.rejects(client.subscribeAsync("emon/someone-else/in"));
    assert.deepEqual(denied, ["emon/someone-else/in"]);
    await client.endAsync();
    await assert.rejects(mqttLogin({ ...mqtt, client_id: "not-the-node" }));
    assert.equal(h.logins().find((l) => l.username === mqtt.username)?.clientId, d.nodeId);
  });

  test("an Allow whose window expires unused makes the request pending again", async () => {
    const h = await hub({ windowMs: 300 });
    const d = device();
    assert.equal((await ask(h, d)).status, 202);
    assert.ok(h.decide(d.nodeId, "allow", "tester").ok);
    assert.equal(statusOf(h, d.nodeId), "allowed");
    await until("the window to expire", () => statusOf(h, d.nodeId) === "pending");
    assert.ok(h.audit().some((a) => a.key === d.nodeId && a.decision === "expire"));
    const late = await ask(h, d);
    assert.equal(late.status, 202);
    assert.equal(late.json.status, "pending");
    // A person may allow again; then it is released.
    assert.ok(h.decide(d.nodeId, "allow", "tester").ok);
    assert.equal((await ask(h, d)).status, 200);
  });

  test("the window is bound to the address that asked: another address stays pending", async () => {
    const h = await hub();
    const d = device();
    assert.equal((await ask(h, d)).status, 202); // from 127.0.0.1
    assert.ok(h.decide(d.nodeId, "allow", "tester").ok);
    const elsewhere = await ask(h, d, { localAddress: "127.0.0.2" });
    assert.equal(elsewhere.status, 202);
    assert.equal(statusOf(h, d.nodeId), "allowed"); // the window is still there for the right address
    const right = await ask(h, d);
    assert.equal(right.status, 200);
  });

  test("H1/M4: a second pairing run (new nonce, new code) does not cancel an open Allow; it is shown, audited under its own address, and pending once the window closes", async () => {
    const h = await hub({ windowMs: 400 });
    const d = device();
    await ask(h, d);
    assert.ok(h.decide(d.nodeId, "allow", "tester").ok);
    const rerun = { ...d, nonce: randomBytes(16).toString("hex"), name: "Renamed by a relay" };
    const r = await ask(h, rerun, { localAddress: "127.0.0.9" });
    assert.equal(r.status, 202);
    assert.equal(r.json.pairing_code, expectedCode(h.keyHash, rerun));
    assert.equal(statusOf(h, d.nodeId), "allowed", "the person's Allow stays open");
    const listed = h.requests().find((x) => x.key === d.nodeId)!;
    assert.match(listed.note ?? "", /127\.0\.0\.9/, "the page says another run asked, and from where");
    assert.equal(listed.name, d.name, "the listed name stays the one the person allowed");
    const conflict = h.audit().find((a) => a.key === d.nodeId && a.decision === "conflict");
    assert.equal(conflict?.address, "127.0.0.9", "the audit blames the address that sent the second run");
    assert.ok(!h.audit().some((a) => a.key === d.nodeId && a.decision === "cancel"), "nothing was cancelled");
    // The original run, from the allowed address, is still released.
    assert.equal((await ask(h, d)).status, 200);
  });

  test("H1/M4: the second run takes over only when the window closes unused", async () => {
    const h = await hub({ windowMs: 300 });
    const d = device();
    await ask(h, d);
    assert.ok(h.decide(d.nodeId, "allow", "tester").ok);
    const rerun = { ...d, nonce: randomBytes(16).toString("hex") };
    assert.equal((await ask(h, rerun, { localAddress: "127.0.0.9" })).status, 202);
    await until("the window to expire", () => statusOf(h, d.nodeId) === "pending");
    const listed = h.requests().find((x) => x.key === d.nodeId)!;
    assert.deepEqual([listed.address, listed.pairingCode], ["127.0.0.9", expectedCode(h.keyHash, rerun)]);
    assert.equal(h.audit().find((a) => a.decision === "expire" && a.key === d.nodeId)?.address, "127.0.0.1", "the expiry is logged for the address the window was for");
  });

  test("two devices pending at once: each listed with its code; Allow releases only the chosen one", async () => {
    const h = await hub();
    const a = device("Unit A");
    const b = device("Unit B");
    assert.equal((await ask(h, a)).status, 202);
    assert.equal((await ask(h, b)).status, 202);
    assert.deepEqual(h.requests().map((r) => [r.name, r.pairingCode, r.status]), [["Unit A", expectedCode(h.keyHash, a), "pending"], ["Unit B", expectedCode(h.keyHash, b), "pending"]]);
    assert.ok(h.decide(b.nodeId, "allow", "tester").ok);
    assert.equal((await ask(h, a)).status, 202);
    assert.equal((await ask(h, b)).status, 200);
    assert.equal(statusOf(h, a.nodeId), "pending");
    assert.equal(statusOf(h, b.nodeId), "released");
  });

  test("M4: per-address cap → 429 with Retry-After; known nodes still get answers", async () => {
    const h = await hub({ maxPendingPerAddress: 2, busyRetryAfterS: 7 });
    const [a, b, c] = [device(), device(), device()];
    await ask(h, a);
    await ask(h, b);
    const busy = await ask(h, c);
    assert.equal(busy.status, 429);
    assert.deepEqual(busy.json, { status: "busy" });
    assert.equal(busy.headers["retry-after"], "7");
    assert.equal((await ask(h, a)).status, 202);
    assert.equal((await ask(h, c, { localAddress: "127.0.0.2" })).status, 202, "another address has its own quota");
    h.decide(a.nodeId, "deny", "tester"); // a decided request no longer counts
    assert.equal((await ask(h, device())).status, 202);
  });

  test("M4: throwaway identities cannot fill the list: a real device still gets listed, the oldest unallowed request of the most crowded address is evicted and audited", async () => {
    const h = await hub(); // defaults: 32 in all, 4 per address
    const allowed = device("Allowed unit");
    await ask(h, allowed, { localAddress: "127.0.0.50" });
    assert.ok(h.decide(allowed.nodeId, "allow", "tester").ok);
    // One address makes throwaway identities: 4 listed, then 429.
    const junk = Array.from({ length: 6 }, (_, i) => device(`junk ${i}`));
    const statuses: number[] = [];
    for (const j of junk) statuses.push((await ask(h, j)).status);
    assert.deepEqual(statuses, [202, 202, 202, 202, 429, 429]);
    // Then one identity from each of many addresses until the list is full.
    for (let i = 0; h.requests().filter((r) => r.status === "pending" || r.status === "allowed").length < 32; i++) {
      assert.equal((await ask(h, device(`spread ${i}`), { localAddress: `127.0.1.${i + 1}` })).status, 202);
    }
    const real = device("Kitchen heater");
    const r = await ask(h, real, { localAddress: "127.0.0.200" });
    assert.equal(r.status, 202, "the real device is listed, not told to come back in an hour");
    assert.equal(statusOf(h, real.nodeId), "pending");
    assert.equal(statusOf(h, allowed.nodeId), "allowed", "an Allow a person gave is never evicted");
    const evicted = h.audit().filter((a) => a.decision === "evict");
    assert.equal(evicted.length, 1);
    assert.equal(evicted[0]!.address, "127.0.0.1", "evicted from the most crowded address, and logged under it");
    assert.equal(evicted[0]!.key, junk[0]!.nodeId, "its oldest request");
  });

  test("deny → 403 on every request until a person clears it; then a fresh pending request", async () => {
    const h = await hub();
    const d = device();
    await ask(h, d);
    assert.ok(h.decide(d.nodeId, "deny", "tester").ok);
    assert.deepEqual(await ask(h, d).then((r) => [r.status, r.json]), [403, { status: "denied" }]);
    assert.equal((await ask(h, d)).status, 403);
    assert.equal(h.decide(d.nodeId, "allow", "tester").ok, false); // must be cleared first
    assert.ok(h.decide(d.nodeId, "clear", "tester").ok);
    assert.equal(statusOf(h, d.nodeId), undefined);
    assert.equal((await ask(h, d)).status, 202);
    assert.deepEqual(h.audit().filter((a) => a.key === d.nodeId).map((a) => a.decision), ["deny", "clear"]);
  });

  test("hub restart mid-flow: same key, pending requests, decisions, open window and audit kept", async () => {
    const h = await hub({ windowMs: 120_000 });
    const [pending, denied, allowed] = [device("P"), device("D"), device("A")];
    for (const d of [pending, denied, allowed]) await ask(h, d);
    h.decide(denied.nodeId, "deny", "tester");
    h.decide(allowed.nodeId, "allow", "tester");
    const auditBefore = h.audit().length;
    await h.close();
    hubs.splice(hubs.indexOf(h), 1);
    const again = await hub({ windowMs: 120_000 }, h.stateDir);
    assert.equal(again.keyHash, h.keyHash);
    assert.equal(again.certPem, h.certPem);
    assert.equal(again.audit().length, auditBefore);
    const p = await ask(again, pending);
    assert.deepEqual([p.status, p.json.pairing_code], [202, expectedCode(h.keyHash, pending)]);
    assert.equal((await ask(again, denied)).status, 403);
    assert.equal((await ask(again, allowed)).status, 200);
    assert.equal(again.requests().find((r) => r.key === pending.nodeId)?.firstSeen, h.requests().find((r) => r.key === pending.nodeId)?.firstSeen);
  });
});

describe("malformed and oversize requests", () => {
  let h: Hub;
  before(async () => { h = await hub(); });

  const cases: [string, (d: TestDevice) => string, RegExp][] = [
    ["not JSON", () => "{\"v\":1,", /not valid JSON/],
    ["a JSON array", () => "[1,2]", /JSON object/],
    ["wrong version (v1: the unsigned display name)", (d) => pairBody(d, h.keyHash, { v: 1 }), /version/],
    ["M4: display name changed after signing (a relay renaming the unit)", (d) => pairBody(d, h.keyHash, { name: "Kitchen heater" }), /signature/],
    ["node_id of another key", (d) => pairBody(d, h.keyHash, { node_id: device().nodeId }), /node ID of public_key/],
    ["short nonce", (d) => pairBody(d, h.keyHash, { nonce: "abcd" }), /nonce must be 32 hex/],
    ["name with control characters", (d) => pairBody(d, h.keyHash, { name: "bad\nname" }), /printable ASCII/],
    ["name too long", (d) => pairBody(d, h.keyHash, { name: "x".repeat(33) }), /printable ASCII/],
    ["signed for another hub's key (relayed by an impostor)", (d) => pairBody(d, "ab".repeat(32)), /signature does not verify/],
    ["signature of other bytes", (d) => pairBody(d, h.keyHash, { signature: "00".repeat(64) }), /signature/],
  ];
  for (const [what, body, message] of cases) {
    test(`${what} → 400 with a clear message, nothing recorded`, async () => {
      const d = device();
      const r = await ask(h, d, { body: body(d) });
      assert.equal(r.status, 400);
      assert.equal(r.json.status, "error");
      assert.match(String(r.json.message), message);
      assert.equal(statusOf(h, d.nodeId), undefined);
    });
  }

  test("oversize body → 413, wrong content type → 400, GET → 405", async () => {
    const d = device();
    const big = pairBody(d, h.keyHash, { padding: "x".repeat(5000) });
    const r = await ask(h, d, { body: big });
    assert.equal(r.status, 413);
    assert.match(String(r.json.message), /larger than 4096 bytes/);
    const typed = await hubHttps(h.url, h.certPem, { method: "POST", path: "/hub/v1/pair", headers: { "Content-Type": "text/plain" }, body: pairBody(d, h.keyHash) });
    assert.equal(typed.status, 400);
    assert.match(typed.body, /Content-Type must be application\/json/);
    assert.equal((await hubHttps(h.url, h.certPem, { path: "/hub/v1/pair" })).status, 405);
    assert.equal(statusOf(h, d.nodeId), undefined);
  });
});

describe("emoncms device module endpoints", () => {
  function plain(url: string, path: string, localAddress?: string): Promise<{ status: number; type: string; body: string }> {
    const u = new URL(path, url);
    return new Promise((resolve, reject) => {
      httpRequest({ host: u.hostname, port: u.port, path: u.pathname + u.search, ...(localAddress ? { localAddress } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"]), body: Buffer.concat(chunks).toString("utf8") }));
      }).on("error", reject).end();
    });
  }

  test("request (plain HTTP, text) → check and allow (logged in) → user:pass:basetopic:port for that address only, once", async () => {
    const h = await hub({ httpPort: 0, baseTopic: "emonhub" });
    const pending = await plain(h.httpUrl!, "/emoncms/device/auth/request.json");
    assert.deepEqual([pending.status, pending.body], [200, "Authentication request registered for IP 127.0.0.1"]);
    assert.match(pending.type, /^text\/plain/);
    assert.equal((await hubHttps(h.url, h.certPem, { path: "/emoncms/device/auth/check.json" })).status, 401);
    const op = new HubWebClient(h.url, h.certPem);
    assert.ok(await op.login("admin", PASSWORD));
    assert.deepEqual(JSON.parse((await op.get("/emoncms/device/auth/check.json")).body), { success: true, ip: "127.0.0.1" });
    assert.deepEqual(JSON.parse((await op.get("/emoncms/device/authcheck.json")).body), { success: true, ip: "127.0.0.1" });
    assert.deepEqual(JSON.parse((await op.post("/emoncms/device/auth/allow.json", { ip: "127.0.0.1" })).body), { success: true, message: "Authentication request allowed for IP 127.0.0.1" });
    assert.equal((await op.post("/emoncms/device/auth/allow.json", { ip: "nonsense" })).status, 400);
    // Another address gets registered text (and becomes its own request).
    assert.equal((await plain(h.httpUrl!, "/emoncms/device/auth/request.json", "127.0.0.2")).body, "Authentication request registered for IP 127.0.0.2");
    const released = await plain(h.httpUrl!, "/emoncms/device/auth/request.json");
    const fields = released.body.split(":");
    assert.equal(fields.length, 4, "user:pass:basetopic:port");
    assert.equal(fields[2], "emonhub");
    assert.equal(fields[3], new URL(cloud.brokerUrl).port);
    const client = await mqttLogin({ url: cloud.brokerUrl, ca: pki.caPem, client_id: "emonesp-1", username: fields[0], password: fields[1] });
    await client.publishAsync("emonhub/emontx/power1", "100", { qos: 1 });
    await client.endAsync();
    assert.equal((await plain(h.httpUrl!, "/emoncms/device/auth/request.json")).body, "Authentication request registered for IP 127.0.0.1");
    assert.deepEqual(JSON.parse((await op.get("/emoncms/device/auth/check.json")).body), { success: true, ip: "127.0.0.1" }, "the newest pending emoncms request");
    // The same endpoints answer over HTTPS too; the plain listener serves nothing else.
    assert.equal((await hubHttps(h.url, h.certPem, { path: "/emoncms/device/auth/request.json", localAddress: "127.0.0.3" })).body, "Authentication request registered for IP 127.0.0.3");
    assert.equal((await plain(h.httpUrl!, "/")).status, 404);
    assert.equal((await plain(h.httpUrl!, "/emoncms/device/auth/check.json")).status, 401);
  });

  test("the firmware in emoncms mode (an EmonESP-style client) over plain HTTP: registered → allow.json → user:pass:base:port → online", async () => {
    const h = await hub({ httpPort: 0 });
    const sim = createSimDevice({ mac: "02:00:00:00:0E:01" });
    const device = new Device(sim.io, {
      telemetryIntervalMs: 0, keepaliveSeconds: 30, backoff: { initialMs: 100, maxMs: 400, minMs: 50 },
      factory: parseFactoryConfig({ chain: ["hub"], hub: { mode: "emoncms", address: "127.0.0.1", port: Number(new URL(h.httpUrl!).port), pollIntervalMs: 200, broker: { port: 1, ca: pki.caPem, serverName: "localhost" } } }),
    });
    const published: string[] = [];
    cloud.broker.events.on("published", (m) => published.push(m.topic));
    device.boot();
    try {
      await until("the device's request", () => statusOf(h, "ip:127.0.0.1") === "pending");
      const op = new HubWebClient(h.url, h.certPem);
      assert.ok(await op.login("admin", PASSWORD));
      assert.deepEqual(JSON.parse((await op.get("/emoncms/device/auth/check.json")).body), { success: true, ip: "127.0.0.1" });
      assert.equal((await op.post("/emoncms/device/auth/allow.json", { ip: "127.0.0.1" })).status, 200);
      await until("online", () => device.state === "online", 20_000);
      await until("status published under the base topic", () => published.includes(`emon/${device.nodeId}/status`));
      assert.equal(statusOf(h, "ip:127.0.0.1"), "released");
    } finally {
      device.shutdown();
      sim.io.shutdown();
    }
  });

  test("2017 reply style, three fields when the port is not sent, and no deny in emoncms", async () => {
    const h = await hub({ httpPort: 0, emoncms: { replyStyle: "2017", sendPort: false } });
    assert.equal((await plain(h.httpUrl!, "/emoncms/device/auth/request.json")).body, "request registered");
    h.decide("ip:127.0.0.1", "deny", "tester");
    assert.equal((await plain(h.httpUrl!, "/emoncms/device/auth/request.json")).body, "request registered");
    h.decide("ip:127.0.0.1", "clear", "tester");
    await plain(h.httpUrl!, "/emoncms/device/auth/request.json");
    h.decide("ip:127.0.0.1", "allow", "tester");
    assert.equal((await plain(h.httpUrl!, "/emoncms/device/auth/request.json")).body.split(":").length, 3);
  });
});

describe("the operator's web app (without a browser)", () => {
  test("login (scrypt), HttpOnly SameSite=Strict cookie, CSRF token required for decisions", async () => {
    const h = await hub();
    const d = device("Web unit");
    await ask(h, d);
    assert.equal((await hubHttps(h.url, h.certPem, { path: "/" })).status, 303);
    assert.equal((await hubHttps(h.url, h.certPem, { path: "/api/requests" })).status, 401);
    const wrong = new HubWebClient(h.url, h.certPem);
    assert.equal(await wrong.login("admin", "not the password"), false);
    const lf = await loginForm(h.url, h.certPem);
    const login = await hubHttps(h.url, h.certPem, { method: "POST", path: "/login", headers: { Cookie: lf.cookie, "Content-Type": "application/x-www-form-urlencoded" }, body: `csrf=${lf.token}&username=admin&password=${encodeURIComponent(PASSWORD)}` });
    const cookie = String(login.headers["set-cookie"]?.[0]);
    for (const flag of ["HttpOnly", "SameSite=Strict", "Secure"]) assert.ok(cookie.includes(flag), `${flag} in ${cookie}`);
    const op = new HubWebClient(h.url, h.certPem);
    assert.ok(await op.login("admin", PASSWORD));
    const page = await op.get("/");
    assert.ok(page.body.includes(expectedCode(h.keyHash, d)));
    assert.ok(page.body.includes(`data-testid="allow-${d.nodeId}"`));
    assert.match(String(page.headers["content-security-policy"]), /script-src 'nonce-/);
    assert.equal(await op.decide(d.nodeId, "allow", "forged-token"), 403);
    assert.equal(statusOf(h, d.nodeId), "pending");
    assert.equal(await op.decide(d.nodeId, "allow"), 303);
    assert.equal(statusOf(h, d.nodeId), "allowed");
    const listing = await op.list();
    assert.equal(listing.requests[0]?.status, "allowed");
    assert.deepEqual(listing.audit.map((a) => [a.decision, a.who]), [["allow", "admin"]]);
    assert.equal(await op.decide("no-such-node", "allow"), 409);
    // Guessing: five wrong logins from one address, then 429 even for the right password (from there only).
    const guess = async (pw: string) => {
      const f = await loginForm(h.url, h.certPem, "127.0.0.4");
      return hubHttps(h.url, h.certPem, { method: "POST", path: "/login", localAddress: "127.0.0.4", headers: { Cookie: f.cookie, "Content-Type": "application/x-www-form-urlencoded" }, body: `csrf=${f.token}&username=admin&password=${encodeURIComponent(pw)}` });
    };
    for (let i = 0; i < 5; i++) assert.equal((await guess(`wrong-${i}-password`)).status, 401);
    assert.equal((await guess(PASSWORD)).status, 429);
    assert.ok(await new HubWebClient(h.url, h.certPem).login("admin", PASSWORD));
    const oversize = await hubHttps(h.url, h.certPem, { method: "POST", path: "/login", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: "x".repeat(9000) });
    assert.equal(oversize.status, 413);
  });
});

describe("issue 14 low: login CSRF and state changes by POST only", () => {
  test("a login POST without the token its form was served with is refused (403), even with the right password", async () => {
    const h = await hub();
    const post = (headers: Record<string, string>, body: string) => hubHttps(h.url, h.certPem, { method: "POST", path: "/login", headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers }, body });
    const creds = `username=admin&password=${encodeURIComponent(PASSWORD)}`;
    const noToken = await post({}, creds);
    assert.equal(noToken.status, 403);
    assert.equal([noToken.headers["set-cookie"] ?? []].flat().some((c) => c.startsWith("hub_session=")) ?? false, false, "no session");
    const f = await loginForm(h.url, h.certPem);
    assert.equal((await post({}, `csrf=${f.token}&${creds}`)).status, 403, "token without its cookie (a cross-site form)");
    assert.equal((await post({ Cookie: f.cookie }, `csrf=${"x".repeat(f.token.length)}&${creds}`)).status, 403, "cookie with another token");
    const ok = await post({ Cookie: f.cookie }, `csrf=${f.token}&${creds}`);
    assert.equal(ok.status, 303);
    assert.ok(String(ok.headers["set-cookie"]?.[0]).startsWith("hub_session="));
    const loginCookie = String((await hubHttps(h.url, h.certPem, { path: "/login" })).headers["set-cookie"]?.[0]);
    for (const flag of ["HttpOnly", "Secure", "SameSite=Strict", "Path=/login"]) assert.ok(loginCookie.includes(flag), `${flag} in ${loginCookie}`);
  });

  test("emoncms allow.json changes state by POST with the session's CSRF token only: GET → 405 and nothing allowed", async () => {
    const h = await hub({ httpPort: 0 });
    await hubHttps(h.url, h.certPem, { path: "/emoncms/device/auth/request.json" });
    const op = new HubWebClient(h.url, h.certPem);
    assert.ok(await op.login("admin", PASSWORD));
    const viaGet = await op.get("/emoncms/device/auth/allow.json?ip=127.0.0.1");
    assert.equal(viaGet.status, 405);
    assert.equal(viaGet.headers.allow, "POST");
    assert.equal(statusOf(h, "ip:127.0.0.1"), "pending", "a GET (an <img> on another page) changed nothing");
    assert.equal((await op.post("/emoncms/device/auth/allow.json", { ip: "127.0.0.1" }, "forged-token")).status, 403);
    assert.equal(statusOf(h, "ip:127.0.0.1"), "pending");
    assert.equal((await op.post("/emoncms/device/auth/allow.json", { ip: "127.0.0.1" })).status, 200);
    assert.equal(statusOf(h, "ip:127.0.0.1"), "allowed");
  });
});

describe("discovery", () => {
  test("mDNS responder: PTR with SRV/TXT/A by legacy unicast, A by host name (any case), malformed queries ignored", async () => {
    const h = await hub({ mdns: { address: "127.0.0.1" } });
    const sock = createSocket("udp4");
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
    const replies: dnsPacket.Packet[] = [];
    sock.on("message", (m) => replies.push(dnsPacket.decode(m)));
    const query = (id: number, name: string, type: "PTR" | "A" | "SRV") => sock.send(dnsPacket.encode({ type: "query", id, questions: [{ name, type, class: "IN" }] }), h.mdns!.port, "127.0.0.1");
    sock.send(Buffer.from([1, 2, 3]), h.mdns!.port, "127.0.0.1");
    query(4242, "_onboard-hub._tcp.local", "PTR");
    await until("the PTR reply", () => replies.length === 1);
    const ptr = replies[0]!;
    assert.equal(ptr.id, 4242);
    assert.equal(ptr.type, "response");
    assert.deepEqual(ptr.questions?.map((q) => q.name), ["_onboard-hub._tcp.local"]);
    assert.deepEqual(ptr.answers?.map((a) => [a.type, a.name, (a as { data?: unknown }).data]), [["PTR", "_onboard-hub._tcp.local", "Onboarding Hub._onboard-hub._tcp.local"]]);
    const add = new Map(ptr.additionals?.map((a) => [a.type, a]));
    assert.deepEqual((add.get("SRV") as unknown as { data: unknown }).data, { priority: 0, weight: 0, port: h.port, target: "emonpi.local" });
    assert.deepEqual((add.get("TXT") as unknown as { data: Buffer[] }).data.map(String), ["v=1"]);
    assert.equal((add.get("A") as unknown as { data: string }).data, "127.0.0.1");
    query(7, "EMONPI.Local", "A");
    await until("the A reply", () => replies.length === 2);
    assert.deepEqual(replies[1]!.answers?.map((a) => [a.type, (a as { data?: unknown }).data]), [["A", "127.0.0.1"]]);
    assert.equal(replies[1]!.id, 7);
    // A name the hub does not own: counted as a query, not answered.
    const answered = h.mdns!.answered;
    query(8, "other.local", "A");
    query(9, "Onboarding Hub._onboard-hub._tcp.local", "SRV");
    await until("the SRV reply", () => replies.length === 3);
    assert.equal(replies[2]!.id, 9);
    assert.equal(h.mdns!.answered, answered + 1);
    assert.equal(h.mdns!.queries, 4);
    sock.close();
  });

  test("UDP announcer: the 12 bytes emonpi.local from the hub's address, repeatedly", async () => {
    const sock = createSocket("udp4");
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
    const got: { text: string; from: string }[] = [];
    sock.on("message", (m, from) => got.push({ text: m.toString("latin1"), from: from.address }));
    await hub({ announce: { targets: [{ host: "127.0.0.1", port: sock.address().port }], intervalMs: 50 } });
    await until("three announcements", () => got.length >= 3);
    assert.deepEqual(got.slice(0, 3), Array.from({ length: 3 }, () => ({ text: "emonpi.local", from: "127.0.0.1" })));
    sock.close();
  });
});
