// What the lifecycle scenarios with radios share: a unit whose flash already holds broker
// credentials, a device booted behind the simulated BLE link and Wi-Fi, and the home network.
import { utf8 } from "../../src/bytes/bytes.js";
import { generateIdentity, nodeIdOf } from "../../src/identity/identity.js";
import { Device, type DeviceConfig, type DeviceEvent } from "../../src/lifecycle/device.js";
import { Secret } from "../../src/secrets/secret.js";
import type { CredentialRecord } from "../../src/storage/credential-record.js";
import { CredentialStore } from "../../src/storage/credential-store.js";
import { SimBleRadio } from "../../host-sim/ble/link.js";
import { withRadios } from "../../host-sim/provisioning/kit.js";
import type { BrokerEnv, SimDevice } from "./harness.js";

/** The simulated network the units join ("home-net" is in range unless a test takes it away). */
export const HOME = { ssid: utf8("home-net"), passphrase: Secret.fromString("correct horse battery") };

/** Short delays everywhere, Security 1 with `pop`, one join attempt per applied network. */
export function radioConfig(pop: string, extra: Partial<NonNullable<DeviceConfig["provisioning"]>> = {}): DeviceConfig {
  return {
    telemetryIntervalMs: 0,
    keepaliveSeconds: 30,
    backoff: { initialMs: 200, maxMs: 1_000, minMs: 50 },
    provisioning: { security: 1, pop: Secret.fromString(pop), closeAfterSuccessMs: 20, connectAttempts: 1, ...extra },
  };
}

/** Flash holding an identity and the test broker's credentials, plus `extra` (Wi-Fi, user mapping…). */
export function seeded(d: SimDevice, broker: BrokerEnv, extra: Partial<CredentialRecord> = {}): { nodeId: string; record: CredentialRecord } {
  const identity = generateIdentity(d.io);
  const nodeId = nodeIdOf(d.io.crypto, identity);
  const record: CredentialRecord = {
    version: 1,
    identity,
    mqtt: { brokerUrl: `mqtts://${broker.host}:${broker.port}`, clientId: nodeId, username: broker.username, password: Secret.fromString(broker.password), ca: broker.ca },
    ...extra,
  };
  new CredentialStore(d.io.storage).save(record);
  return { nodeId, record };
}

export function bootWithRadios(d: SimDevice, cfg: DeviceConfig, radio = new SimBleRadio()) {
  const radios = withRadios(d.io, radio, undefined, { scanMs: 5, connectMs: 10 });
  const device = new Device(radios.io, cfg);
  const events: DeviceEvent[] = [];
  device.on((e) => events.push(e));
  device.boot();
  return { device, events, wifi: radios.wifi, radio };
}
