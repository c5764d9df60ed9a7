// npm start (the default): a BLANK simulated unit, from power-on to online.
//
//   1. PKI, the reference cloud (HTTPS + MQTT/TLS broker; Mosquitto with --broker mosquitto) and
//      the user-mapping API; the operator allows this unit for the chosen onboarding strategy;
//   2. power on: the firmware core finds no Wi-Fi credentials, opens the BLE provisioning window
//      and prints its QR payload (drawn in the terminal);
//   3. the phone stand-in (host-sim/provisioning/app.ts, in-process) connects over the simulated
//      BLE link, opens a Security 2 session with the PoP, maps the user (challenge-response, or
//      --mapping secret-key / none) and sends the credentials of a simulated network;
//   4. the unit stores them, joins, runs its onboarding chain, comes online over MQTT/TLS,
//      publishes telemetry, and the cloud confirms the user mapping. Ctrl-C (or --run-for) stops.
import { demoBootstrapVersion, demoBootstrapVersionFields } from "./strategy-demo.js";
import { randomFillSync } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CHALLENGE_SIGNATURE, parseFactoryConfig } from "../../src/config/factory-config.js";
import { Device } from "../../src/lifecycle/device.js";
import { DEFAULT_SERVICE_UUID } from "../../src/provisioning/uuid.js";
import { Secret } from "../../src/secrets/secret.js";
import { CredentialStore } from "../../src/storage/credential-store.js";
import { BleProtocommTransport, SimBleRadio } from "../ble/link.js";
import { CloudApiClient, startCloudApi } from "../cloud/user-mapping/http-api.js";
import { UserMappingCloud } from "../cloud/user-mapping/service.js";
import { provisionDevice, waitForMapping } from "../provisioning/app.js";
import { DEFAULT_NETWORKS, withRadios } from "../provisioning/kit.js";
import { renderQr } from "../provisioning/qr-code.js";
import { createSimDevice } from "../sim-device.js";
import { startDemoCloud, stopOnSignals, timeline } from "./timeline.js";

export interface ProvisioningDemoOptions {
  readonly strategy: string;
  readonly mapping: string;
  readonly broker: string;
  readonly generation: string;
  readonly secure: boolean;
  readonly intervalMs: number;
  readonly runForSeconds?: number;
}

const ENCRYPT_KEY = "12345678910111213141516171819202"; // the services' stock default; a demo value only
const POP = "d3mo-p0p"; // per unit in real life (NVS on the board); the sim config here
const USER = "demo-user";

export async function runProvisioningDemo(o: ProvisioningDemoOptions): Promise<void> {
  if (!["bootstrap", "register", "shared"].includes(o.strategy)) fail(`--strategy must be bootstrap, register or shared (got ${o.strategy})`);
  if (!["challenge", "secret-key", "none"].includes(o.mapping)) fail(`--mapping must be challenge, secret-key or none (got ${o.mapping})`);
  if (o.broker !== "embedded" && o.broker !== "mosquitto") fail(`--broker must be "embedded" or "mosquitto" (got ${o.broker})`);
  const { say, record: logLine } = timeline(12);

  const version = demoBootstrapVersion(o.generation);
  const { work, pki, cloud } = await startDemoCloud(say, { broker: o.broker, version, encryptKey: ENCRYPT_KEY });
  say("cloud", `reference cloud: HTTPS ${cloud.httpUrl}, broker ${cloud.brokerUrl} (${o.broker})`);
  cloud.onEvent((e) => {
    say("cloud", `${e.what} ${e.detail}`);
  });
  const mapping = new UserMappingCloud();
  const api = await startCloudApi(mapping);
  say("cloud", `user-mapping API ${api.url}`);
  cloud.broker.events.on("connected", (c) => say("broker", `client ${c.clientId} connected as ${c.username}`));
  cloud.broker.events.on("refused", (c) => say("broker", `refused ${c.clientId}: CONNACK ${c.returnCode} (${c.why})`));
  cloud.broker.events.on("denied", (c) => say("broker", `denied ${c.action} on ${c.topic} for ${c.clientId}`));
  cloud.broker.events.on("published", (m) => {
    say("broker", `← ${m.topic} (${m.payload.length} B)`);
    // The cloud's half of the secret-key mapping: it listens on node/<id>/user/mapping.
    const node = /^node\/([^/]+)\/user\/mapping$/.exec(m.topic);
    if (node) mapping.nodePublished(node[1]!, new Uint8Array(m.payload));
  });

  const sim = createSimDevice({ flashPath: join(work, "flash.json"), log: (r) => say(r.scope, logLine(r)) });
  const mac = sim.io.device.mac()!;
  const factory: Record<string, unknown> = { chain: ["stored", o.strategy], broker: { url: cloud.brokerUrl, ca: pki.caPem }, retry: { attempts: 3, initialMs: 1000, maxMs: 10_000 } };
  if (o.strategy === "bootstrap") {
    cloud.addBootstrapConfig({ externalId: mac, externalKey: "demo-external-key" });
    factory.bootstrap = { url: cloud.httpUrl, ...demoBootstrapVersionFields(version, cloud.domainId), externalKey: "demo-external-key", ca: pki.caPem, ...(o.secure ? { secure: { key: ENCRYPT_KEY } } : {}) };
  } else if (o.strategy === "register") {
    cloud.allowSerials([mac.replace(/:/g, "")]);
    factory.register = { url: `${cloud.httpUrl}/register`, ca: pki.caPem };
  } else {
    cloud.addSharedAccount("device-class-a", "shared-class-password");
    factory.shared = { username: "device-class-a", password: "shared-class-password", clientIdPrefix: "esp" };
  }
  // The reference cloud's mapping API verifies this firmware's signatures: ch_resp may be served.
  if (o.mapping === "challenge") factory.userMapping = { challengeResponse: { cloud: api.url, signature: CHALLENGE_SIGNATURE } };
  await cloud.settled();
  say("operator", `unit ${mac} allowed for "${o.strategy}"; factory config: chain ${(factory.chain as string[]).join(" → ")}; flash blank`);
  say("wifi-sim", `simulated networks: ${DEFAULT_NETWORKS.map((n) => n.ssid).join(", ")}`);

  const radio = new SimBleRadio();
  const io = withRadios(sim.io, radio).io;
  let phoneStarted = false;
  const device = new Device(io, {
    telemetryIntervalMs: o.intervalMs,
    keepaliveSeconds: 30,
    factory: parseFactoryConfig(JSON.stringify(factory)),
    provisioning: { security: 2, pop: Secret.fromString(POP) },
  });
  device.on((e) => {
    if (e.type === "provisioning" && e.event.type === "opened") {
      say("device", `advertising ${e.event.deviceName} over BLE; QR payload ${e.event.qr}`);
      console.log(renderQr(e.event.qr));
      if (!phoneStarted) {
        phoneStarted = true;
        void phone(e.event.deviceName);
      }
    }
    if (e.type === "user-mapping") say("device", `user mapping ${e.status} (user ${e.userId})`);
  });
  say("power", "on");
  device.boot();
  // The factory registers each node's identity public key with the cloud (claiming).
  const record = new CredentialStore(sim.io.storage).load();
  if (record.status === "ok") mapping.registerNode(device.nodeId!, record.record.identity.publicKey);

  async function phone(deviceName: string): Promise<void> {
    const p = (text: string) => say("phone", text);
    try {
      await sleep(300);
      p(`scanned the QR code; connecting to ${deviceName}`);
      const gatt = await radio.connect(deviceName, { mtu: 247 });
      const transport = await BleProtocommTransport.open(gatt, DEFAULT_SERVICE_UUID);
      const cloudClient = new CloudApiClient(api.url, USER);
      const result = await provisionDevice({
        transport,
        random: (b) => void randomFillSync(b),
        sleep: (ms) => sleep(ms),
        security: 2,
        pop: POP,
        ...(o.mapping === "none" ? {} : { mapping: { method: o.mapping as "challenge" | "secret-key", cloud: cloudClient } }),
        ssid: "home-net",
        passphrase: "correct horse battery",
        onStep: (step, detail) => p(`${step}: ${detail ?? ""}`),
      });
      p(`done: ${gatt.stats.roundTrips} ATT round trips, ${gatt.stats.bytesToPeripheral} B to the device, ${gatt.stats.bytesToCentral} B back`);
      if (result.mapping?.method === "secret-key") {
        p(`waiting for the cloud to confirm mapping request ${result.mapping.requestId}`);
        const status = await waitForMapping(cloudClient, result.mapping.requestId, (ms) => sleep(ms), 70_000, 250);
        p(`mapping request ${result.mapping.requestId}: ${status}`);
      }
      if (o.mapping !== "none") say("cloud", `node ${device.nodeId} belongs to ${mapping.ownerOf(device.nodeId!) ?? "nobody"}`);
    } catch (e) {
      p(`failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  stopOnSignals(async () => {
    say("power", `shutting down (state ${device.state})`);
    device.shutdown();
    await new Promise((r) => setTimeout(r, 200));
    await api.close();
    await cloud.close();
    sim.io.shutdown();
    rmSync(work, { recursive: true, force: true });
  }, o.runForSeconds);
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}
