// Bytes and round trips of one full BLE provisioning (proto-ver → session → scan → credentials
// → apply → status until connected), per security level: the phone-app stand-in against a
// simulated device over the simulated GATT link, whose ATT PDUs are counted (host-sim/ble/link.ts).
import { randomFillSync } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { generateIdentity } from "../../src/identity/identity.js";
import type { SecurityVersion } from "../../src/provisioning/security.js";
import { DEFAULT_SERVICE_UUID } from "../../src/provisioning/uuid.js";
import { openProvisioningWindow } from "../../src/provisioning/window.js";
import { Secret } from "../../src/secrets/secret.js";
import { BleProtocommTransport, SimBleRadio } from "../ble/link.js";
import { provisionDevice } from "../provisioning/app.js";
import { withRadios } from "../provisioning/kit.js";
import { createSimDevice } from "../sim-device.js";

export interface ProvisioningTraffic {
  /** ATT request/response pairs, GATT discovery included. */
  readonly attRoundTrips: number;
  readonly bytesToDevice: number;
  readonly bytesToPhone: number;
  /** protocomm requests (one write + one read each). */
  readonly requests: number;
}

export async function bleProvisioning(security: SecurityVersion, mtu: number): Promise<ProvisioningTraffic> {
  const sim = createSimDevice({ log: () => {} });
  const radio = new SimBleRadio();
  const dev = withRadios(sim.io, radio, undefined, { scanMs: 5, connectMs: 20 });
  const window = openProvisioningWindow(dev.io, generateIdentity(sim.io), { security, pop: Secret.fromString("abcd1234"), closeAfterSuccessMs: 100, ble: true });
  const gatt = await radio.connect(window.deviceName, { mtu });
  const transport = await BleProtocommTransport.open(gatt, DEFAULT_SERVICE_UUID);
  const result = await provisionDevice({ transport, random: (b) => void randomFillSync(b), sleep: (ms) => sleep(ms), pop: "abcd1234", ssid: "office", passphrase: "s3cret-office", pollMs: 100 });
  if (result.status.state !== "connected") throw new Error(`provisioning ended ${result.status.state}`);
  return { attRoundTrips: gatt.stats.roundTrips, bytesToDevice: gatt.stats.bytesToPeripheral, bytesToPhone: gatt.stats.bytesToCentral, requests: result.traffic.requests };
}
