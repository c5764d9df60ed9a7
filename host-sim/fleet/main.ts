// npm run fleet -- --devices N [--broker embedded|mosquitto] [--connect-limit R|none]
//                  [--via broker|cloud] [--onboard-limit R|none] [--timeout SECONDS] [--json]
// A boot storm: N devices with factory credentials power up at once against one broker over TLS.
// The embedded broker runs in its own process (the second core) and refuses CONNECTs beyond
// --connect-limit per second with CONNACK 3; the devices back off with jitter and retry.
// Mosquitto has no CONNECT rate limit, so there the storm is unthrottled.
// --via cloud: N blank devices onboard through the reference cloud's self-registration endpoint
// (its own process), which admits --onboard-limit requests per second and answers the rest 429 with
// a Retry-After; then they connect to the cloud's broker with the credentials it issued.
import { fork } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { generateTestPki } from "../certs/pki.js";
import { startMosquitto } from "../broker/mosquitto.js";
import type { BrokerMessage, BrokerProcessConfig, BrokerStats } from "./broker-process.js";
import { percentile, runFleet, type FleetBroker } from "./fleet.js";
import type { CloudMessage, CloudProcessConfig, CloudStats } from "./cloud-process.js";
import { parseFactoryConfig } from "../../src/config/factory-config.js";

const { values } = parseArgs({
  options: {
    devices: { type: "string", default: "100" },
    broker: { type: "string", default: "embedded" },
    "connect-limit": { type: "string", default: "200" },
    via: { type: "string", default: "broker" },
    "onboard-limit": { type: "string", default: "100" },
    timeout: { type: "string", default: "600" },
    json: { type: "boolean", default: false },
  },
});
const devices = Number(values.devices);
// Progress every 2 s of wall time (the sampler's 250 ms ticks drift when the devices saturate a core).
let lastProgress = -Infinity;
const due = (ms: number): boolean => {
  if (ms - lastProgress < 2000) return false;
  lastProgress = ms;
  return true;
};
const kind = values.broker;
// Mosquitto has no CONNECT rate limit: the storm is unthrottled there.
const limit = values["connect-limit"] === "none" || kind === "mosquitto" ? undefined : Number(values["connect-limit"]);
if (kind !== "embedded" && kind !== "mosquitto") throw new Error(`--broker embedded|mosquitto, not ${kind}`);

if (values.via !== "broker" && values.via !== "cloud") throw new Error(`--via broker|cloud, not ${values.via}`);
if (values.via === "cloud") {
  await viaCloud();
  process.exit(0); // not reached: viaCloud exits with the verdict
}

const dir = mkdtempSync(join(tmpdir(), "onboarding-fleet-"));
const pki = generateTestPki(join(dir, "pki"));
const account = { username: "fleet", password: "fleet device password" };
let brokerStats: BrokerStats | undefined;
let stopBroker: () => Promise<void>;
let port: number;

if (kind === "embedded") {
  const config: BrokerProcessConfig = {
    pki: { caPem: pki.caPem, serverCertPem: pki.serverCertPem, serverKeyPem: pki.serverKeyPem },
    users: { [account.username]: account.password },
    ...(limit !== undefined ? { maxConnectsPerSecond: limit } : {}),
  };
  const child = fork(fileURLToPath(new URL("./broker-process.ts", import.meta.url)), [JSON.stringify(config)], { execArgv: ["--import", "tsx"] });
  port = await new Promise<number>((resolve, reject) => {
    child.on("message", (m: BrokerMessage) => {
      if (m.type === "ready") resolve(m.port);
      else brokerStats = m;
    });
    child.once("exit", (code) => reject(new Error(`broker process exited (${code})`)));
  });
  stopBroker = () => new Promise((resolve) => { child.once("exit", () => resolve()); child.disconnect(); });
} else {
  const mosquitto = await startMosquitto({ pki, users: { [account.username]: account.password } });
  port = mosquitto.port;
  stopBroker = () => mosquitto.dispose();
}

const broker: FleetBroker = { host: "localhost", port, ca: pki.caPem, ...account };
process.stderr.write(`fleet: ${devices} devices → ${kind} broker on port ${port}, CONNECT limit ${limit ?? "none"}/s\n`);
const result = await runFleet({
  devices, broker, timeoutMs: Number(values.timeout) * 1000,
  onProgress: (online, ms) => {
    if (due(ms)) process.stderr.write(`  ${(ms / 1000).toFixed(1)} s: ${online} online${brokerStats ? `, broker saw ${brokerStats.connects} CONNECTs (peak ${brokerStats.peakConnectRate}/s), refused ${brokerStats.rateLimited}` : ""}\n`);
  },
});
await new Promise((r) => setTimeout(r, 300)); // one more stats message from the broker
await stopBroker();
rmSync(dir, { recursive: true, force: true });

const lastOnline = result.timesToOnline.at(-1) ?? NaN;
const figures = {
  devices: result.devices,
  broker: kind,
  connectLimitPerSecond: limit ?? null,
  online: result.online,
  failures: Object.fromEntries(result.failures),
  onboardedPerSecond: Number((result.online / (lastOnline / 1000)).toFixed(1)),
  timeToOnlineMs: { p50: Math.round(percentile(result.timesToOnline, 50)), p99: Math.round(percentile(result.timesToOnline, 99)), max: Math.round(lastOnline) },
  failedAttemptsByReason: Object.fromEntries(result.attemptFailures),
  brokerPeakConnectRate: brokerStats?.peakConnectRate ?? null,
  brokerPeakAdmittedRate: brokerStats?.peakAdmittedRate ?? null,
  devicesPeakConnectRate: result.peakConnectRate,
  brokerConnects: brokerStats?.connects ?? null,
  brokerRefusedByRateLimit: brokerStats?.rateLimited ?? null,
  brokerTlsErrors: brokerStats?.tlsErrors ?? null,
  peakMemoryMB: { devicesRss: Math.round(result.peakRssBytes / 2 ** 20), devicesHeap: Math.round(result.peakHeapBytes / 2 ** 20), brokerRss: brokerStats ? Math.round(brokerStats.rssBytes / 2 ** 20) : null },
  factorySeconds: Number((result.factoryMs / 1000).toFixed(1)),
};
if (values.json) console.log(JSON.stringify(figures));
else for (const [k, v] of Object.entries(figures)) console.log(`${k.padEnd(26)} ${typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)}`);
process.exit(result.online === result.devices ? 0 : 1);

/** --via cloud: blank devices → rate-limited registration → the cloud's broker. */
async function viaCloud(): Promise<never> {
  const perSecond = values["onboard-limit"] === "none" ? undefined : Number(values["onboard-limit"]);
  const cloudDir = mkdtempSync(join(tmpdir(), "onboarding-fleet-cloud-"));
  const cloudPki = generateTestPki(join(cloudDir, "pki"));
  const macOf = (i: number) => `02:F1:${[(i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, "0")).join(":")}`.toUpperCase();
  const serials = Array.from({ length: devices }, (_, i) => macOf(i).replace(/:/g, ""));
  const config: CloudProcessConfig = { tls: { key: cloudPki.serverKeyPem, cert: cloudPki.serverCertPem, ca: cloudPki.caPem }, serials, ...(perSecond !== undefined ? { perSecond } : {}) };
  const configPath = join(cloudDir, "cloud-config.json");
  writeFileSync(configPath, JSON.stringify(config));
  const child = fork(fileURLToPath(new URL("./cloud-process.ts", import.meta.url)), [configPath], { execArgv: ["--import", "tsx"] });
  let stats: CloudStats | undefined;
  const urls = await new Promise<{ httpUrl: string; brokerUrl: string }>((resolve, reject) => {
    child.on("message", (m: CloudMessage) => {
      if (m.type === "ready") resolve(m);
      else stats = m;
    });
    child.once("exit", (code) => reject(new Error(`cloud process exited (${code})`)));
  });
  const factory = parseFactoryConfig({
    chain: ["stored", "register"],
    broker: { url: urls.brokerUrl, ca: cloudPki.caPem },
    register: { url: `${urls.httpUrl}/register`, ca: cloudPki.caPem },
  });
  process.stderr.write(`fleet: ${devices} blank devices → cloud ${urls.httpUrl} (register limited to ${perSecond ?? "no limit"}/s) → broker ${urls.brokerUrl}\n`);
  const result = await runFleet({
    devices, onboard: { factory, macOf }, timeoutMs: Number(values.timeout) * 1000,
    onProgress: (online, ms) => {
      if (due(ms)) process.stderr.write(`  ${(ms / 1000).toFixed(1)} s: ${online} online${stats ? `, cloud: ${stats.registered} registered, ${stats.refused ?? 0} answered 429, peak ${stats.peakRequestsPerSecond ?? "?"} req/s` : ""}\n`);
    },
  });
  await new Promise((r) => setTimeout(r, 300)); // one more stats message from the cloud
  await new Promise<void>((resolve) => { child.once("exit", () => resolve()); child.disconnect(); });
  rmSync(cloudDir, { recursive: true, force: true });
  const lastOnline = result.timesToOnline.at(-1) ?? NaN;
  const figures = {
    devices: result.devices,
    via: "reference cloud: POST /register (rate limited), then its broker (aedes over TLS)",
    onboardLimitPerSecond: perSecond ?? null,
    online: result.online,
    failures: Object.fromEntries(result.failures),
    onboardedPerSecond: Number((result.timesToOnboarded.length / ((result.timesToOnboarded.at(-1) ?? NaN) / 1000)).toFixed(1)),
    timeToOnboardedMs: { p50: Math.round(percentile(result.timesToOnboarded, 50)), p99: Math.round(percentile(result.timesToOnboarded, 99)) },
    timeToOnlineMs: { p50: Math.round(percentile(result.timesToOnline, 50)), p99: Math.round(percentile(result.timesToOnline, 99)), max: Math.round(lastOnline) },
    failedAttemptsByReason: Object.fromEntries(result.attemptFailures),
    cloudRequests: stats?.requests ?? null,
    cloudAnswered429: stats?.refused ?? null,
    cloudPeakRequestRate: stats?.peakRequestsPerSecond ?? null,
    cloudPeakAdmittedRate: stats?.peakAdmittedPerSecond ?? null,
    cloudPeakWaiting: stats?.peakWaiting ?? null,
    cloudRegistered: stats?.registered ?? null,
    brokerConnects: stats?.connects ?? null,
    brokerRefusedConnects: stats?.refusedConnects ?? null,
    brokerPeakConnectRate: stats?.peakConnectRate ?? null,
    devicesPeakConnectRate: result.peakConnectRate,
    peakMemoryMB: { devicesRss: Math.round(result.peakRssBytes / 2 ** 20), devicesHeap: Math.round(result.peakHeapBytes / 2 ** 20), cloudRss: stats ? Math.round(stats.rssBytes / 2 ** 20) : null },
    factorySeconds: Number((result.factoryMs / 1000).toFixed(1)),
  };
  if (values.json) console.log(JSON.stringify(figures));
  else for (const [k, v] of Object.entries(figures)) console.log(`${k.padEnd(26)} ${typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)}`);
  process.exit(result.online === result.devices ? 0 : 1);
}
