// XS live heap across a whole onboarding and a steady state, as an engine-neutral scenario run
// inside XS by the bench: a blank unit opens its provisioning window, the phone-app stand-in (in
// the same engine) provisions it over the simulated BLE link with Security 2, the unit joins the
// simulated Wi-Fi, bootstraps its MQTT credentials from the reference cloud over HTTPS (real
// sockets through the bridge), goes online, then publishes QoS 1 telemetry. At each step the host
// runs XS's collector between deliveries and records the slots still live (heap-probe.ts).
import type { Io } from "../../src/io/io.js";
import { parseFactoryConfig } from "../../src/config/factory-config.js";
import { generateIdentity } from "../../src/identity/identity.js";
import { Device } from "../../src/lifecycle/device.js";
import { ProvisioningClient } from "../../src/provisioning/client.js";
import { DEFAULT_SERVICE_UUID } from "../../src/provisioning/uuid.js";
import { Secret } from "../../src/secrets/secret.js";
import { BleProtocommTransport, SimBleRadio } from "../ble/link.js";
import { withRadios } from "../provisioning/kit.js";
import { heapProbe } from "../xs/heap-probe.js";
import { check, checkEqual, waitFor, type BrokerEnv, type Scenario, type ScenarioContext } from "../../test/scenarios/harness.js";

/** What the bench passes in place of a plain broker: the cloud the unit onboards with. */
export interface OnboardingBenchEnv extends BrokerEnv {
  /** A factory config (JSON) whose chain bootstraps from the reference cloud. */
  readonly factory: unknown;
  readonly publishes: number;
}

export const ONBOARDING_POP = "bench-pop-2";

const sleeper = (io: Io) => (ms: number) => new Promise<void>((r) => io.timers.set(r, ms));

/** The phone's part, in a function of its own so none of its objects stay reachable afterwards. */
async function provision(io: Io, radio: SimBleRadio, deviceName: string): Promise<void> {
  const gatt = await radio.connect(deviceName, { mtu: 512 });
  const client = new ProvisioningClient(await BleProtocommTransport.open(gatt, DEFAULT_SERVICE_UUID), io.random, sleeper(io));
  await client.establishSession(2, { pop: ONBOARDING_POP });
  checkEqual(await client.setConfig("home-net", "correct horse battery"), 0, "set config");
  checkEqual(await client.applyConfig(), 0, "apply");
  checkEqual((await client.waitForConnection(40, 250)).state, "connected", "app sees connected");
  await gatt.disconnect();
}

async function onboardingHeap(ctx: ScenarioContext): Promise<void> {
  const env = ctx.broker as OnboardingBenchEnv;
  const sample = heapProbe(ctx) ?? (() => Promise.resolve(NaN));
  await sample("baseline: bundle loaded, nothing made");
  const d = ctx.device();
  // noble builds its Ed25519 tables on the first key; the board bundle leaves the big one out
  // (README, memory budget), this XS bundle does not: shown apart from what the device keeps.
  generateIdentity(d.io);
  await sample("one Ed25519 key made (noble's lazily built tables)");
  const radio = new SimBleRadio();
  const io = withRadios(d.io, radio, undefined, { scanMs: 5, connectMs: 10 }).io;
  let opened: string | undefined;
  const device = new Device({ ...io, log: () => {} }, {
    telemetryIntervalMs: 0, keepaliveSeconds: 60,
    backoff: { initialMs: 100, maxMs: 1000, minMs: 50 },
    factory: parseFactoryConfig(env.factory),
    provisioning: { security: 2, pop: Secret.fromString(ONBOARDING_POP), closeAfterSuccessMs: 20, connectAttempts: 1 },
  });
  device.on((e) => {
    if (e.type === "provisioning" && e.event.type === "opened") opened = e.event.deviceName;
  });
  device.boot();
  check(opened !== undefined, "the provisioning window opened");
  await sample("first boot: identity made, window open");
  await provision(d.io, radio, opened);
  await waitFor(d.io, () => device.state === "online", 60_000, `online (state ${device.state})`);
  await sample("online: provisioned, bootstrapped, connected (phone gone)");
  const client = device.mqtt!;
  for (let sent = 0; sent < env.publishes; sent++) {
    check(device.publishTelemetry({ seq: sent, t: "bench" }) !== undefined, "telemetry refused");
    if (client.outboxSize >= 32) await waitFor(d.io, () => client.outboxSize < 16, 20_000, "acknowledgements");
  }
  await waitFor(d.io, () => client.outboxSize === 0, 20_000, "all delivered");
  await sample(`steady state: online after ${env.publishes} QoS 1 publishes, all acknowledged`);
  device.shutdown();
  await sample("after shutdown (flash and radios still held by the scenario)");
}

export const scenarios: Scenario[] = [{ name: "bench:onboarding-heap", needs: ["broker"], run: onboardingHeap }];
