// The phone-app stand-in: `npm run provision -- [options]`.
//
//   npm run provision                                   # self-contained: boots a blank simulated
//        device + the reference cloud (+ an in-process MQTT broker), then provisions it over the
//        simulated BLE link, step by step, and prints the figures
//   npm run provision -- --security 1 --mapping secret-key --ssid office --passphrase s3cret-office
//   npm run provision -- --serve --listen 127.0.0.1:8080 # a simulated device on the protocomm HTTP
//        transport (softAP style) + the cloud API, waiting for a client
//   npm run provision -- --host 127.0.0.1:8080 --cloud http://127.0.0.1:PORT --pop abcd1234
//        # provision that device over HTTP from another terminal
//
// Options: --transport ble|http, --security 0|1|2, --pop, --username, --mapping
// challenge|secret-key|none, --user, --ssid, --passphrase, --mtu.
import { randomFillSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { utf8 } from "../../src/bytes/bytes.js";
import { generateIdentity, nodeIdOf } from "../../src/identity/identity.js";
import { MqttClient } from "../../src/mqtt/client.js";
import type { SecurityVersion } from "../../src/provisioning/security.js";
import { userMappingPayload, userMappingTopic } from "../../src/provisioning/user-mapping.js";
import { DEFAULT_SERVICE_UUID } from "../../src/provisioning/uuid.js";
import { openProvisioningWindow, type WindowEvent } from "../../src/provisioning/window.js";
import { Secret } from "../../src/secrets/secret.js";
import { BleProtocommTransport, SimBleRadio } from "../ble/link.js";
import { startEmbeddedBroker } from "../broker/embedded.js";
import { generateTestPki } from "../certs/pki.js";
import { CloudApiClient, startCloudApi } from "../cloud/user-mapping/http-api.js";
import { attachMappingSubscriber } from "../cloud/user-mapping/mqtt-bridge.js";
import { UserMappingCloud } from "../cloud/user-mapping/service.js";
import { createSimDevice } from "../sim-device.js";
import { provisionDevice, waitForMapping } from "./app.js";
import { HttpProtocommTransport, startHttpTransport } from "./http-transport.js";
import { DEFAULT_NETWORKS, withRadios } from "./kit.js";
import { renderQr } from "./qr-code.js";
import { nodeCrypto } from "../io/node-crypto.js";

const USAGE = `usage: npm run provision -- [options]
  (no options)                      boot a blank simulated device + reference cloud, provision it over simulated BLE
  --transport ble|http              transport (default ble)
  --security 0|1|2                  security level (default 2)
  --pop CODE                        proof of possession (default abcd1234)
  --mapping challenge|secret-key|none   user-node mapping (default challenge); --user NAME
  --ssid NAME --passphrase TEXT     the simulated network to join
  --mtu N                           BLE ATT MTU (default 512)
  --serve [--listen HOST:PORT]      run a device on Espressif's HTTP transport and wait for a client
  --host HOST:PORT --cloud URL      provision such a device over HTTP from another terminal`;

let parsed;
try {
  parsed = parseArgs({
  options: {
    help: { type: "boolean", default: false },
    transport: { type: "string", default: "ble" },
    security: { type: "string" },
    pop: { type: "string", default: "abcd1234" },
    username: { type: "string", default: "wifiprov" },
    mapping: { type: "string", default: "challenge" },
    user: { type: "string", default: "demo-user" },
    ssid: { type: "string", default: DEFAULT_NETWORKS[0]!.ssid },
    passphrase: { type: "string", default: DEFAULT_NETWORKS[0]!.passphrase },
    mtu: { type: "string", default: "512" },
    host: { type: "string" },
    cloud: { type: "string" },
    serve: { type: "boolean", default: false },
    listen: { type: "string", default: "127.0.0.1:8080" },
  },
  });
} catch (e) {
  console.error(`${(e as Error).message}\n${USAGE}`);
  process.exit(2);
}
const args = parsed.values;
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}

const random = (b: Uint8Array): void => void randomFillSync(b);
const say = (step: string, detail = ""): void => console.log(`  [${step}] ${detail}`);
const security = args.security !== undefined ? (Number(args.security) as SecurityVersion) : undefined;
const mappingMethod = args.mapping === "none" ? undefined : (args.mapping as "challenge" | "secret-key");

async function main(): Promise<void> {
  if (args.host !== undefined) return remote();
  return selfContained();
}

/** Provision a device already listening on the HTTP transport. */
async function remote(): Promise<void> {
  const [host, port] = args.host!.split(":");
  const transport = new HttpProtocommTransport(host!, Number(port ?? 80));
  const cloud = args.cloud !== undefined ? new CloudApiClient(args.cloud, args.user!) : undefined;
  if (mappingMethod !== undefined && cloud === undefined) throw new Error("--cloud URL is needed for user-node mapping (or --mapping none)");
  console.log(`provisioning http://${args.host} …`);
  const r = await provisionDevice({ transport, random, sleep: (ms) => sleep(ms), ...(security !== undefined ? { security } : {}), pop: args.pop!, username: args.username!, ...(mappingMethod && cloud ? { mapping: { method: mappingMethod, cloud } } : {}), ssid: args.ssid!, passphrase: args.passphrase!, onStep: say });
  if (r.mapping?.method === "secret-key" && cloud) say("mapping", `cloud says ${await waitForMapping(cloud, r.mapping.requestId, (ms) => sleep(ms), 65_000, 500)}`);
  console.log(`done: ${r.traffic.requests} requests, ${r.traffic.bytesSent} B sent, ${r.traffic.bytesReceived} B received`);
  transport.close();
}

async function selfContained(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "provision-cli-"));
  const pki = generateTestPki(join(dir, "pki"));
  const broker = await startEmbeddedBroker({ pki, users: { device: "device-password", cloud: "cloud-password" } });
  const cloud = new UserMappingCloud();
  const api = await startCloudApi(cloud);
  const sub = await attachMappingSubscriber(cloud, { url: `mqtts://localhost:${broker.port}`, username: "cloud", password: "cloud-password", ca: pki.caPem });
  const sim = createSimDevice({ unrefTimers: true });
  const radio = new SimBleRadio();
  const dev = withRadios(sim.io, radio);
  const identity = generateIdentity(sim.io);
  cloud.registerNode(nodeIdOf(nodeCrypto, identity), identity.publicKey);
  let pendingMapping: { userId: string; secretKey: Secret } | undefined;
  let online: Promise<void> | undefined;
  const window = openProvisioningWindow(dev.io, identity, {
    security: security ?? 2,
    pop: Secret.fromString(args.pop!),
    username: args.username!,
    ble: !args.serve,
    // The reference cloud verifies this firmware's signatures: ch_resp may be served (as a
    // factory config's userMapping.challengeResponse would say on the board).
    challengeResponse: mappingMethod === "challenge" || args.serve === true,
    onEvent(e: WindowEvent) {
      if (e.type === "opened") {
        console.log(`device: advertising ${e.deviceName}, node ${e.nodeId}`);
        console.log(`device: QR payload ${e.qr}`);
        console.log(renderQr(e.qr));
      } else if (e.type === "user-mapping-requested") pendingMapping = { userId: e.userId, secretKey: e.secretKey };
      else if (e.type === "wifi-connected") {
        console.log(`device: joined Wi-Fi, IP ${e.ip}`);
        if (pendingMapping) online = publishMapping(pendingMapping);
      } else if (e.type === "closed") console.log(`device: provisioning window closed (${e.reason})`);
      else if (e.type !== "wifi-connecting") console.log(`device: ${e.type}`);
    },
  });
  const publishMapping = (m: { userId: string; secretKey: Secret }) =>
    new Promise<void>((resolve) => {
      const mqtt = new MqttClient(sim.io, { endpoint: { host: "localhost", port: broker.port, ca: pki.caPem }, clientId: window.nodeId, username: "device", password: Secret.fromString("device-password"), keepaliveSeconds: 30, cleanSession: true });
      mqtt.on((e) => {
        if (e.type === "online") mqtt.publish(userMappingTopic(window.nodeId), utf8(userMappingPayload(window.nodeId, m.userId, m.secretKey.revealString())), { qos: 1 });
        if (e.type === "delivered") {
          console.log(`device: user mapping published at QoS 1 to ${userMappingTopic(window.nodeId)} (PUBACK received)`);
          mqtt.stop();
          resolve();
        }
      });
      mqtt.start();
    });

  const cleanup = async (): Promise<void> => {
    window.close();
    await sub.close();
    await api.close();
    await broker.close();
    sim.io.shutdown();
    rmSync(dir, { recursive: true, force: true });
  };

  if (args.serve) {
    const [host, port] = args.listen!.split(":");
    const http = await startHttpTransport(window.service, { host: host!, port: Number(port) });
    console.log(`device: protocomm HTTP transport on http://${http.host}:${http.port} (POST /<endpoint>), cloud API on ${api.url}`);
    console.log(`try: npm run provision -- --host ${http.host}:${http.port} --cloud ${api.url} --pop ${args.pop}`);
    process.on("SIGINT", () => void http.close().then(cleanup).then(() => process.exit(0)));
    return;
  }

  const userCloud = new CloudApiClient(api.url, args.user!);
  console.log(`phone: scanning… found ${radio.scan().map((a) => `${a.name} [${a.serviceUuids.join(",")}]`).join(", ")}`);
  const gatt = await radio.connect(window.deviceName, { mtu: Number(args.mtu) });
  const transport = await BleProtocommTransport.open(gatt, DEFAULT_SERVICE_UUID);
  say("gatt", `MTU ${gatt.connection.mtu}; endpoints ${[...transport.endpoints.keys()].join(", ")}`);
  try {
    const r = await provisionDevice({ transport, random, sleep: (ms) => sleep(ms), ...(security !== undefined ? { security } : {}), pop: args.pop!, username: args.username!, ...(mappingMethod ? { mapping: { method: mappingMethod, cloud: userCloud } } : {}), ssid: args.ssid!, passphrase: args.passphrase!, onStep: say });
    if (r.mapping?.method === "secret-key") {
      await online;
      say("mapping", `cloud says ${await waitForMapping(userCloud, r.mapping.requestId, (ms) => sleep(ms), 65_000, 100)}`);
    }
    say("cloud", `nodes of ${args.user}: ${(await userCloud.nodes()).join(", ") || "(none)"}`);
    console.log(`figures: ${gatt.stats.roundTrips} ATT round trips, ${gatt.stats.bytesToPeripheral} B to device, ${gatt.stats.bytesToCentral} B to phone, ${r.traffic.requests} protocomm requests, handshake ${r.handshakeMs} ms`);
    await sleep(1200);
  } finally {
    await cleanup();
  }
}

main().catch((e: unknown) => {
  console.error(`provision: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
