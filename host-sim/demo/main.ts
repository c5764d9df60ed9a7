// npm start: a BLANK simulated unit is provisioned over BLE by the phone stand-in, joins the
// simulated Wi-Fi, onboards against the reference cloud and comes online (provisioning-demo.ts).
//   --strategy bootstrap|register|shared   the onboarding strategy of that run (default register)
//   --strategy hub [--auto-approve]        local approval on a hub page instead (hub-demo.ts): the
//                                          timeline prints the page URL and login; a person clicks Allow
//   --mapping challenge|secret-key|none    how the phone maps the user (default challenge)
//   --broker embedded|mosquitto            the cloud's broker
//   --run-for SECONDS                      stop (exit 0) after that long
//
// npm start -- --factory: the original spine demo, one device whose flash already holds factory
// credentials, real TLS, a real MQTT broker, and a readable timeline:
//
//   1. make a PKI (CA + broker certificate) and start the broker: embedded aedes (default) or
//      Debian's Mosquitto (--broker mosquitto), TLS only, one device account;
//   2. "production line": write factory credentials into the device's flash (a file);
//   3. power on: the firmware core boots from flash, verifies the broker, connects, publishes
//      telemetry every few seconds; the broker's view is printed alongside. Ctrl-C stops.
//
// npm start -- --factory --strategy bootstrap|register|shared: a blank unit without radios onboards
// itself (strategy-demo.ts): no BLE, the network is taken as given.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { generateIdentity, nodeIdOf } from "../../src/identity/identity.js";
import { Device } from "../../src/lifecycle/device.js";
import { Secret } from "../../src/secrets/secret.js";
import { CredentialStore } from "../../src/storage/credential-store.js";
import { startEmbeddedBroker } from "../broker/embedded.js";
import { startMosquitto } from "../broker/mosquitto.js";
import { generateTestPki } from "../certs/pki.js";
import { createSimDevice } from "../sim-device.js";
import { runHubDemo } from "./hub-demo.js";
import { runStrategyDemo } from "./strategy-demo.js";
import { runProvisioningDemo } from "./provisioning-demo.js";
import { stopOnSignals, timeline } from "./timeline.js";
import { nodeCrypto } from "../io/node-crypto.js";

const { values: args } = parseArgs({
  options: {
    broker: { type: "string", default: "embedded" },
    interval: { type: "string", default: "3000" },
    "run-for": { type: "string" }, // seconds; default: until Ctrl-C
    strategy: { type: "string" }, // bootstrap | register | shared: start blank and onboard
    generation: { type: "string", default: "client" }, // bootstrap service version (mainflux-0.12 … magistrala-0.30) or raw | thing | client
    secure: { type: "boolean", default: false }, // bootstrap over the AES-CFB /secure/ endpoint
    mapping: { type: "string", default: "challenge" }, // challenge | secret-key | none
    factory: { type: "boolean", default: false }, // the spine demo: flash holds factory credentials
    "auto-approve": { type: "boolean", default: false }, // --strategy hub: approve without a person
  },
});
if (args.strategy === "hub") {
  await runHubDemo({
    broker: args.broker!,
    autoApprove: args["auto-approve"]!,
    intervalMs: Number(args.interval),
    ...(args["run-for"] !== undefined ? { runForSeconds: Number(args["run-for"]) } : {}),
  });
  await new Promise(() => {}); // runHubDemo owns the process from here
}
if (!args.factory) {
  await runProvisioningDemo({
    strategy: args.strategy ?? "register",
    mapping: args.mapping!,
    broker: args.broker!,
    generation: args.generation!,
    secure: args.secure!,
    intervalMs: Number(args.interval),
    ...(args["run-for"] !== undefined ? { runForSeconds: Number(args["run-for"]) } : {}),
  });
  await new Promise(() => {}); // runProvisioningDemo owns the process from here
}
if (args.strategy !== undefined) {
  await runStrategyDemo({
    strategy: args.strategy,
    broker: args.broker,
    generation: args.generation!,
    secure: args.secure!,
    intervalMs: Number(args.interval),
    ...(args["run-for"] !== undefined ? { runForSeconds: Number(args["run-for"]) } : {}),
  });
  // runStrategyDemo owns the process from here (it exits on Ctrl-C or --run-for).
  await new Promise(() => {});
}
if (args.broker !== "embedded" && args.broker !== "mosquitto") {
  console.error(`--broker must be "embedded" or "mosquitto" (got ${args.broker})`);
  process.exit(2);
}

const { say, record: logLine } = timeline(7);

const work = mkdtempSync(join(tmpdir(), "onboarding-demo-"));
const pki = generateTestPki(join(work, "pki"));
say("setup", `PKI generated in ${work} (CA + broker certificate for localhost)`);

const user = { username: "factory-device", password: "demo-password-not-a-secret-in-production" };
let closeBroker: () => Promise<void>;
let port: number;
if (args.broker === "embedded") {
  const broker = await startEmbeddedBroker({ pki, users: { [user.username]: user.password } });
  port = broker.port;
  closeBroker = () => broker.close();
  broker.events.on("clientConnected", (c) => say("broker", `client ${c.clientId} connected as ${c.username} over ${c.tlsVersion} ${c.cipher}`));
  broker.events.on("published", (m) => say("broker", `← ${m.topic} (${m.size} B, QoS ${m.qos}${m.retain ? ", retained" : ""})`));
  broker.events.on("clientDisconnected", (c) => say("broker", `client ${c.clientId} disconnected`));
  broker.events.on("authFailed", (f) => say("broker", `refused ${f.clientId}: CONNACK ${f.returnCode}`));
} else {
  const broker = await startMosquitto({ pki, users: { [user.username]: user.password } });
  port = broker.port;
  closeBroker = () => broker.dispose();
  say("broker", `mosquitto log: ${broker.logPath}`);
}
say("broker", `${args.broker} broker listening on mqtts://localhost:${port}`);

// The production line writes the factory record; the firmware never sees this code.
const sim = createSimDevice({ flashPath: join(work, "flash.json"), log: (r) => say(r.scope, logLine(r)) });
const identity = generateIdentity(sim.io);
new CredentialStore(sim.io.storage).save({
  version: 1,
  identity,
  mqtt: {
    brokerUrl: `mqtts://localhost:${port}`,
    clientId: nodeIdOf(nodeCrypto, identity),
    username: user.username,
    password: Secret.fromString(user.password),
    ca: pki.caPem,
  },
  strategy: { name: "factory", state: {} },
});
say("factory", `credentials for node ${nodeIdOf(nodeCrypto, identity)} written to flash (${join(work, "flash.json")})`);

// Power on: a new device over the same flash, as after a reboot.
const unit = sim.reboot();
say("power", "on");
const device = new Device(unit.io, { telemetryIntervalMs: Number(args.interval), keepaliveSeconds: 30 });
device.boot();

stopOnSignals(async () => {
  say("power", `shutting down (flash writes this boot: ${unit.flash.writeCount})`);
  device.shutdown();
  await new Promise((r) => setTimeout(r, 200));
  await closeBroker();
  rmSync(work, { recursive: true, force: true });
}, args["run-for"] !== undefined ? Number(args["run-for"]) : undefined);
