// npm run fleet -- --devices N [--broker embedded|mosquitto] [--connect-limit R|none]
//                  [--timeout SECONDS] [--json]
// A boot storm: N devices with factory credentials power up at once against one broker over TLS.
// The embedded broker runs in its own process (the second core) and refuses CONNECTs beyond
// --connect-limit per second with CONNACK 3; the devices back off with jitter and retry.
// Mosquitto has no CONNECT rate limit, so there the storm is unthrottled.
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { generateTestPki } from "../certs/pki.js";
import { startMosquitto } from "../broker/mosquitto.js";
import type { BrokerMessage, BrokerProcessConfig, BrokerStats } from "./broker-process.js";
import { percentile, runFleet, type FleetBroker } from "./fleet.js";

const { values } = parseArgs({
  options: {
    devices: { type: "string", default: "100" },
    broker: { type: "string", default: "embedded" },
    "connect-limit": { type: "string", default: "200" },
    timeout: { type: "string", default: "600" },
    json: { type: "boolean", default: false },
  },
});
const devices = Number(values.devices);
const kind = values.broker;
// Mosquitto has no CONNECT rate limit: the storm is unthrottled there.
const limit = values["connect-limit"] === "none" || kind === "mosquitto" ? undefined : Number(values["connect-limit"]);
if (kind !== "embedded" && kind !== "mosquitto") throw new Error(`--broker embedded|mosquitto, not ${kind}`);

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
    if (Math.round(ms / 250) % 8 === 0) process.stderr.write(`  ${(ms / 1000).toFixed(1)} s: ${online} online${brokerStats ? `, broker saw ${brokerStats.connects} CONNECTs (peak ${brokerStats.peakConnectRate}/s), refused ${brokerStats.rateLimited}` : ""}\n`);
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
