// npm start -- --strategy hub: local approval on a base station. The reference cloud (its broker
// enforces the logins), the reference hub (HTTPS page + pairing API, mDNS responder, UDP
// announcer) and a BLANK simulated unit whose chain is just "hub". The unit finds the hub, prints
// its pairing code and waits; the timeline prints the hub page's URL and the demo login. A person
// logs in, checks that the page shows the same code, and clicks Allow; the unit comes online.
//   --auto-approve   approve unattended: log in to the page and post its Allow form, after
//                    checking that the code on the page is the one the unit printed.
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseFactoryConfig } from "../../src/config/factory-config.js";
import { Device } from "../../src/lifecycle/device.js";
import { startHub } from "../hub/hub.js";
import { HubWebClient } from "../hub/web-client.js";
import { createSimDevice } from "../sim-device.js";
import { startDemoCloud, stopOnSignals, timeline } from "./timeline.js";

export interface HubDemoOptions {
  readonly broker: string;
  readonly autoApprove: boolean;
  readonly intervalMs: number;
  readonly runForSeconds?: number;
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export async function runHubDemo(o: HubDemoOptions): Promise<void> {
  if (o.broker !== "embedded" && o.broker !== "mosquitto") {
    console.error(`--broker must be "embedded" or "mosquitto" (got ${o.broker})`);
    process.exit(2);
  }
  const { say, record: logLine } = timeline(8);
  const { work, pki, cloud } = await startDemoCloud(say, { broker: o.broker });
  say("cloud", `broker ${cloud.brokerUrl} (${o.broker}); the hub issues its logins here`);
  cloud.broker.events.on("connected", (c) => say("broker", `client ${c.clientId} connected as ${c.username}`));
  cloud.broker.events.on("refused", (c) => say("broker", `refused ${c.clientId}: CONNACK ${c.returnCode} (${c.why})`));
  cloud.broker.events.on("published", (m) => say("broker", `← ${m.topic} (${m.payload.length} B)`));

  // The demo's operator login, made fresh each run and shown here so a person can log in.
  const password = randomBytes(9).toString("base64url");
  const udpPort = await freeUdpPort();
  const hub = await startHub({
    stateDir: join(work, "hub"), password, cloud, brokerCa: pki.caPem, pollMs: 2000,
    mdns: {}, announce: { targets: [{ host: "127.0.0.1", port: udpPort }], intervalMs: 5000 },
  });
  say("hub", `page: ${hub.url}/  login: ${hub.user} / ${password}  (self-signed certificate; its key sha256 ${hub.keyHash.slice(0, 16)}…)`);
  say("hub", `mDNS responder on 127.0.0.1:${hub.mdns!.port} (_onboard-hub._tcp.local), announcing "emonpi.local" to udp/${udpPort}`);
  hub.events.on("request", (e) => { if (e.outcome !== "pending") say("hub", `${e.key} from ${e.address}: ${e.outcome} (HTTP ${e.status})`); });
  let lastPending = "";
  hub.events.on("request", (e) => {
    if (e.outcome === "pending" && e.key !== lastPending) {
      lastPending = e.key;
      const r = hub.requests().find((x) => x.key === e.key);
      say("hub", `${r?.name ?? e.key} (${e.address}) is waiting, pairing code ${r?.pairingCode ?? "—"}: open the page and click Allow${o.autoApprove ? " (--auto-approve will)" : ""}`);
    }
  });
  hub.events.on("decision", (d) => say("hub", `${d.who} clicked ${d.action} for ${d.key}${d.ok ? "" : " (refused)"}`));

  const configPath = join(work, "factory-config.json");
  writeFileSync(configPath, JSON.stringify({ chain: ["stored", "hub"], hub: { mdnsServer: `127.0.0.1:${hub.mdns!.port}`, udpPort, pollIntervalMs: 2000, hubKey: hub.keyHash } }, null, 2));
  const config = parseFactoryConfig(readFileSync(configPath, "utf8"));
  say("factory", `factory config ${configPath}: chain ${config.chain.join(" → ")}; flash left blank`);

  const sim = createSimDevice({ flashPath: join(work, "flash.json"), log: (r) => say(r.scope, logLine(r)) });
  say("power", "on");
  const device = new Device(sim.io, { telemetryIntervalMs: o.intervalMs, keepaliveSeconds: 30, factory: config });
  device.on((e) => { if (e.type === "state" && e.state === "online") say("demo", `the unit is online: approved on the hub, credentials from the hub, MQTT over TLS to ${cloud.brokerUrl}`); });
  device.boot();

  if (o.autoApprove) void autoApprove();
  async function autoApprove(): Promise<void> {
    const page = new HubWebClient(hub.url, hub.certPem);
    if (!(await page.login(hub.user, password))) return say("approve", "could not log in to the hub page");
    for (;;) {
      const printed = sim.logs.filter((l) => l.event === "hub-pairing-code").at(-1)?.fields.code;
      const listed = (await page.list()).requests.find((r) => r.status === "pending" && r.pairingCode !== undefined);
      if (printed !== undefined && listed) {
        if (listed.pairingCode !== String(printed)) {
          say("approve", `the page shows ${listed.pairingCode} but the unit printed ${String(printed)}: not approving`);
          return;
        }
        say("approve", `codes match (${listed.pairingCode}): clicking Allow for ${listed.name}`);
        const status = await page.decide(listed.key, "allow");
        if (status !== 303) say("approve", `the page answered HTTP ${status}`);
        return;
      }
      await sleep(500);
    }
  }

  stopOnSignals(async () => {
    say("power", `shutting down (state ${device.state})`);
    device.shutdown();
    await sleep(200);
    await hub.close();
    await cloud.close();
    sim.io.shutdown();
    rmSync(work, { recursive: true, force: true });
  }, o.runForSeconds);
}
