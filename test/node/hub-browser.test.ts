// The hub's page in a real browser (Debian's chromium driven by playwright-core) with a real
// simulated device running the firmware's "hub" strategy: the person logs in, sees the waiting
// device with the pairing code the device itself printed, and clicks. Allow → the device gets
// its credentials within the window and comes online over MQTT/TLS (Mosquitto in one case);
// Deny → "onboarding-denied" and no more requests; no click → pending while the device keeps
// polling, and an Allow whose window expires before the device asks again is pending again.
// A screenshot of the page goes to test-artifacts/hub-page.png.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect, type MqttClient } from "mqtt";
import { chromium, type Browser, type Page } from "playwright-core";
import { generateTestPki, type TestPki } from "../../host-sim/certs/pki.js";
import { startCloud, type Cloud } from "../../host-sim/cloud/cloud.js";
import { startHub, type Hub, type HubOptions, type HubRequestEvent } from "../../host-sim/hub/hub.js";
import { startTcpProxy } from "../../host-sim/net-faults/proxy.js";
import { createSimDevice, type HostSimDevice } from "../../host-sim/sim-device.js";
import { parseFactoryConfig } from "../../src/config/factory-config.js";
import { Device } from "../../src/lifecycle/device.js";
import { until } from "./until.js";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = join(process.cwd(), "test-artifacts");
const PASSWORD = "operator-password-1";
const FAST = { telemetryIntervalMs: 0, keepaliveSeconds: 30, backoff: { initialMs: 100, maxMs: 400, minMs: 50 } };

let dir: string;
let pki: TestPki;
let browser: Browser;
const cleanups: (() => Promise<void> | void)[] = [];

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} missing: install Debian's chromium (host-sim/setup.sh test)`);
  dir = mkdtempSync(join(tmpdir(), "hub-browser-"));
  pki = generateTestPki(join(dir, "pki"));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"] });
  mkdirSync(ARTIFACTS, { recursive: true });
});
after(async () => {
  for (const c of cleanups.reverse()) await c();
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
async function setup(broker: "embedded" | "mosquitto", hubOptions: Partial<HubOptions> = {}): Promise<{ cloud: Cloud; hub: Hub; seen: HubRequestEvent[] }> {
  const at = join(dir, `run-${n++}`);
  const cloud = await startCloud({ tls: { key: pki.serverKeyPem, cert: pki.serverCertPem, ca: pki.caPem }, statePath: join(dir, `cloud-${n}.json`), ...(broker === "mosquitto" ? { mosquitto: pki } : {}) });
  cleanups.push(() => cloud.close());
  const hub = await startHub({ stateDir: at, password: PASSWORD, cloud, brokerCa: pki.caPem, pollMs: 200, ...hubOptions });
  cleanups.push(() => hub.close());
  const seen: HubRequestEvent[] = [];
  hub.events.on("request", (e) => seen.push(e));
  return { cloud, hub, seen };
}

function boot(hub: Record<string, unknown>, mac: string): { sim: HostSimDevice; device: Device; states: string[] } {
  const sim = createSimDevice({ mac });
  const device = new Device(sim.io, { ...FAST, factory: parseFactoryConfig({ chain: ["hub"], hub: { pollIntervalMs: 200, discoveryTimeoutMs: 1000, approvalTimeoutMs: 600_000, ...(hub.mode === "emoncms" || hub.hubKey !== undefined ? {} : { trustOnFirstUse: true }), ...hub } }) });
  const states: string[] = [];
  device.on((e) => { if (e.type === "state") states.push(e.state); });
  device.boot();
  cleanups.push(() => { device.shutdown(); sim.io.shutdown(); });
  return { sim, device, states };
}

/** The pairing code the device printed on its own console. */
const deviceCode = (sim: HostSimDevice): string | undefined => {
  const r = sim.logs.find((l) => l.event === "hub-pairing-code");
  return r === undefined ? undefined : String(r.fields.code);
};


async function loggedIn(hub: Hub): Promise<Page> {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  cleanups.push(() => context.close());
  const page = await context.newPage();
  await page.goto(`${hub.url}/`);
  assert.ok(page.url().endsWith("/login"), "not logged in: the page sends to the login form");
  await page.getByLabel("User name").fill("admin");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByTestId("requests").waitFor();
  return page;
}

/** Waits (through the page's own refresh) for the device's row and checks its code against the device's. */
async function waitingRow(page: Page, hub: Hub, sim: HostSimDevice) {
  await until("the device to print its pairing code", () => deviceCode(sim) !== undefined).catch((e: unknown) => {
    const last = sim.logs.filter((l) => l.event === "failed").at(-1);
    throw new Error(`${e instanceof Error ? e.message : String(e)}; the device's last onboarding failure: ${last ? JSON.stringify(last.fields) : "none"}`);
  });
  const code = deviceCode(sim)!;
  await until("the hub to list the device", () => hub.requests().some((r) => r.pairingCode === code));
  const key = hub.requests().find((r) => r.pairingCode === code)!.key;
  const row = page.getByTestId(`request-${key}`);
  await row.waitFor({ timeout: 20_000 });
  assert.equal((await page.getByTestId(`code-${key}`).textContent())?.trim(), code, "the page shows the code the device printed");
  return { key, code, row };
}

async function monitor(cloud: Cloud): Promise<{ client: MqttClient; topics: string[] }> {
  const password = randomBytes(12).toString("hex");
  await cloud.issueAccount({ username: "monitor", password, topics: ["emon"], owner: "test:monitor" });
  const url = new URL(cloud.brokerUrl);
  const client = connect({ protocol: "mqtts", host: url.hostname, port: Number(url.port), ca: pki.caPem, username: "monitor", password, clientId: "monitor", reconnectPeriod: 0 });
  await new Promise<void>((resolve, reject) => { client.once("connect", () => resolve()); client.once("error", reject); });
  const topics: string[] = [];
  client.on("message", (t) => topics.push(t));
  await client.subscribeAsync("emon/#");
  cleanups.push(() => client.endAsync());
  return { client, topics };
}

describe("hub page in chromium", () => {
  test("log in, see the waiting device and its code, Allow → credentials in the window → online over MQTT/TLS (Mosquitto)", async () => {
    const { cloud, hub, seen } = await setup("mosquitto", { mdns: {} });
    const watch = await monitor(cloud);
    const page = await loggedIn(hub);
    const { sim, device } = boot({ mdnsServer: `127.0.0.1:${hub.mdns!.port}`, udpPort: 0 }, "02:00:00:00:0B:01");
    const { key, row } = await waitingRow(page, hub, sim);
    assert.equal(await row.getAttribute("data-status"), "pending");
    assert.match((await row.textContent()) ?? "", /\bESP32-000B01\b/);
    await page.screenshot({ path: join(ARTIFACTS, "hub-page.png"), fullPage: true });
    await row.getByRole("button", { name: /^Allow/ }).click();
    await until("online", () => device.state === "online", 30_000);
    assert.equal(device.nodeId, key);
    await until("the device's status on the Mosquitto broker", () => watch.topics.includes(`emon/${key}/status`));
    await page.getByTestId(`request-${key}`).and(page.locator('[data-status="released"]')).waitFor({ timeout: 20_000 });
    assert.deepEqual(hub.audit().filter((a) => a.key === key).map((a) => `${a.decision}:${a.who}`), ["allow:admin", "release:hub"]);
    assert.equal(seen.filter((e) => e.key === key && e.outcome === "release").length, 1);
    await page.screenshot({ path: join(ARTIFACTS, "hub-page-released.png"), fullPage: true });
  });

  test("Deny → the device reaches onboarding-denied and stops asking; found by the UDP announcement", async () => {
    const probe = createSocket("udp4");
    await new Promise<void>((r) => probe.bind(0, "127.0.0.1", () => r()));
    const udpPort = probe.address().port;
    await new Promise<void>((r) => probe.close(() => r()));
    const { hub, seen } = await setup("embedded", { announce: { targets: [{ host: "127.0.0.1", port: udpPort }], intervalMs: 200 } });
    const page = await loggedIn(hub);
    // No DNS-SD, and an mDNS server address where nothing answers: only the announcement finds the hub.
    const { sim, device } = boot({ service: "", mdnsServer: "127.0.0.1:9", udpPort, port: hub.port }, "02:00:00:00:0B:02");
    const { key, row } = await waitingRow(page, hub, sim);
    assert.ok(sim.logs.some((l) => l.event === "hub-found" && l.fields.via === "udp"));
    await row.getByRole("button", { name: "Deny" }).click();
    await until("onboarding-denied", () => device.state === "onboarding-denied");
    const asked = seen.filter((e) => e.key === key).length;
    assert.equal(seen.filter((e) => e.key === key && e.outcome === "denied").length, 1);
    await page.getByTestId(`request-${key}`).and(page.locator('[data-status="denied"]')).waitFor();
    // Ten poll intervals later the hub has still heard nothing more from it.
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(seen.filter((e) => e.key === key).length, asked);
    assert.equal(device.state, "onboarding-denied");
    // Clearing the decision on the page is audited; the device stays quiet until it is reset.
    await page.getByTestId(`request-${key}`).getByRole("button", { name: "Clear decision" }).click();
    await page.getByTestId(`request-${key}`).waitFor({ state: "detached" });
    assert.deepEqual(hub.audit().filter((a) => a.key === key).map((a) => `${a.decision}:${a.who}`), ["deny:admin", "clear:admin"]);
  });

  test("no click: pending while the device polls; an Allow that expires before the device asks is pending again; a second Allow releases", async () => {
    const { hub, seen } = await setup("embedded", { windowMs: 2500 });
    // The device reaches the hub through a proxy the test can close, so it cannot ask inside the window.
    const proxy = await startTcpProxy({ target: { host: "127.0.0.1", port: hub.port } });
    cleanups.push(() => proxy.close());
    const page = await loggedIn(hub);
    const { sim, device } = boot({ address: "127.0.0.1", port: proxy.port }, "02:00:00:00:0B:03");
    const { key, row } = await waitingRow(page, hub, sim);
    await until("several polls", () => seen.filter((e) => e.key === key && e.outcome === "pending").length >= 4);
    assert.equal(await row.getAttribute("data-status"), "pending");
    assert.notEqual(device.state, "online");
    proxy.refuseNew = true;
    proxy.cutAll();
    const refused = proxy.stats.refused;
    await until("the device to find the hub unreachable", () => proxy.stats.refused > refused);
    const before = seen.filter((e) => e.key === key).length;
    await row.getByRole("button", { name: /^Allow/ }).click();
    await page.getByTestId(`request-${key}`).and(page.locator('[data-status="allowed"]')).waitFor();
    await page.getByTestId(`request-${key}`).and(page.locator('[data-status="pending"]')).waitFor({ timeout: 20_000 });
    assert.match((await page.getByTestId(`status-${key}`).textContent()) ?? "", /window expired unused/);
    assert.equal(seen.filter((e) => e.key === key).length, before, "the device did not reach the hub during the window");
    proxy.refuseNew = false;
    await until("the device to ask again", () => seen.filter((e) => e.key === key).length > before);
    assert.equal(seen.filter((e) => e.key === key).slice(before)[0]?.outcome, "pending");
    assert.notEqual(device.state, "online");
    // The same code is still shown (the pairing run goes on), and a second Allow releases.
    assert.equal((await page.getByTestId(`code-${key}`).textContent())?.trim(), deviceCode(sim));
    await page.getByTestId(`request-${key}`).getByRole("button", { name: /^Allow/ }).click();
    await until("online", () => device.state === "online", 30_000);
    assert.deepEqual(hub.audit().filter((a) => a.key === key).map((a) => `${a.decision}:${a.who}`), ["allow:admin", "expire:hub", "allow:admin", "release:hub"]);
  });
});
