// npm start -- --strategy bootstrap|register|shared: a blank unit onboards itself against the
// reference cloud, from "needs-onboarding" to "online", with the cloud's side in the timeline.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseFactoryConfig } from "../../src/config/factory-config.js";
import { Device } from "../../src/lifecycle/device.js";
import { BOOTSTRAP_VERSIONS, bootstrapProfile, LEGACY_VERSION, type BootstrapVersion } from "../../src/onboarding/bootstrap-version.js";
import { createSimDevice } from "../sim-device.js";
import { startDemoCloud, stopOnSignals, timeline } from "./timeline.js";

export interface StrategyDemoOptions {
  readonly strategy: string;
  readonly generation: string;
  readonly secure: boolean;
  readonly intervalMs: number;
  readonly runForSeconds?: number;
  /** "mosquitto": Debian's Mosquitto enforces the credentials instead of the embedded broker. */
  readonly broker: string;
}

const ENCRYPT_KEY = "12345678910111213141516171819202"; // the services' stock default; a demo value only

/** --generation takes a service version (mainflux-0.13, magistrala-0.20, …) or one of the old names. */
export function demoBootstrapVersion(name: string): BootstrapVersion {
  if ((BOOTSTRAP_VERSIONS as readonly string[]).includes(name)) return name as BootstrapVersion;
  if (name === "raw" || name === "thing" || name === "client") return LEGACY_VERSION[name];
  console.error(`--generation must be one of ${BOOTSTRAP_VERSIONS.join(", ")} (or raw, thing, client; got ${name})`);
  process.exit(2);
}

/** The factory's bootstrap section for the demo's cloud: the version, and the domain where its topics need one. */
export function demoBootstrapVersionFields(version: BootstrapVersion, domainId: string): Record<string, string> {
  return { version, ...(bootstrapProfile(version).topics === "domain" ? { domainId } : {}) };
}

export async function runStrategyDemo(options: StrategyDemoOptions): Promise<void> {
  const { strategy, generation } = options;
  if (strategy !== "bootstrap" && strategy !== "register" && strategy !== "shared") {
    console.error(`--strategy must be bootstrap, register or shared (got ${strategy})`);
    process.exit(2);
  }
  const version = demoBootstrapVersion(generation);
  const { say, record: logLine } = timeline(10);

  const { work, pki, cloud } = await startDemoCloud(say, { broker: options.broker, version, encryptKey: ENCRYPT_KEY });
  say("cloud", `reference cloud: HTTPS ${cloud.httpUrl}, broker ${cloud.brokerUrl} (state in cloud-state.json)`);
  cloud.onEvent((e) => say("cloud", `${e.what} ${e.detail}`));
  cloud.broker.events.on("connected", (c) => say("broker", `client ${c.clientId} connected as ${c.username}`));
  cloud.broker.events.on("refused", (c) => say("broker", `refused ${c.clientId}: CONNACK ${c.returnCode} (${c.why})`));
  cloud.broker.events.on("published", (m) => say("broker", `← ${m.topic} (${m.payload.length} B)`));

  const sim = createSimDevice({ flashPath: join(work, "flash.json"), log: (r) => say(r.scope, logLine(r)) });
  const mac = sim.io.device.mac()!;
  const serial = mac.replace(/:/g, "");

  // The operator's side: tell the cloud about this unit (or this class of units).
  const factory: Record<string, unknown> = { chain: ["stored", strategy], broker: { url: cloud.brokerUrl, ca: pki.caPem }, retry: { attempts: 3, initialMs: 1000, maxMs: 10_000 } };
  if (strategy === "bootstrap") {
    const config = cloud.addBootstrapConfig({ externalId: mac, externalKey: "demo-external-key" });
    say("operator", `bootstrap config uploaded: external ID ${mac} → thing ${config.thingId}, ${config.channels.length} channels (${bootstrapProfile(version).label}${options.secure ? ", secure" : ""})`);
    factory.bootstrap = { url: cloud.httpUrl, ...demoBootstrapVersionFields(version, cloud.domainId), externalKey: "demo-external-key", ca: pki.caPem, ...(options.secure ? { secure: { key: ENCRYPT_KEY } } : {}) };
  } else if (strategy === "register") {
    cloud.allowSerials([serial]);
    say("operator", `serial ${serial} added to the registration allow-list`);
    factory.register = { url: `${cloud.httpUrl}/register`, ca: pki.caPem };
  } else {
    cloud.addSharedAccount("device-class-a", "shared-class-password");
    say("operator", `shared account device-class-a created (unique client IDs required)`);
    factory.shared = { username: "device-class-a", password: "shared-class-password", clientIdPrefix: "esp" };
  }
  // The build: the same factory config for every unit, here as the simulator's JSON file.
  await cloud.settled();
  const configPath = join(work, "factory-config.json");
  writeFileSync(configPath, JSON.stringify(factory, null, 2));
  const config = parseFactoryConfig(readFileSync(configPath, "utf8"));
  say("factory", `factory config ${configPath}: chain ${config.chain.join(" → ")}; flash left blank`);

  say("power", "on");
  const device = new Device(sim.io, { telemetryIntervalMs: options.intervalMs, keepaliveSeconds: 30, factory: config });
  device.boot();

  stopOnSignals(async () => {
    say("power", `shutting down (state ${device.state})`);
    device.shutdown();
    await new Promise((r) => setTimeout(r, 200));
    await cloud.close();
    sim.io.shutdown();
    rmSync(work, { recursive: true, force: true });
  }, options.runForSeconds);
}
