// Engine-neutral building blocks for provisioning tests, the CLI and the demo: a simulated
// device's I/O with a BLE peripheral on a shared simulated radio and simulated Wi-Fi networks,
// composed over any base Io (host-sim's createSimDevice() on Node, the XS bridge in scenarios).
import type { Io } from "../../src/io/io.js";
import { SimBleRadio, type SimBlePeripheral } from "../ble/link.js";
import { SimWifiStation, type SimNetwork } from "./sim-wifi.js";

export const DEFAULT_NETWORKS: readonly SimNetwork[] = [
  { ssid: "home-net", passphrase: "correct horse battery", channel: 6, rssi: -42 },
  { ssid: "office", passphrase: "s3cret-office", channel: 11, rssi: -60, auth: "wpa2-wpa3-psk" },
  { ssid: "cafe-open", passphrase: "", channel: 1, rssi: -71 },
  { ssid: "neighbour", passphrase: "unknown-to-us", channel: 3, rssi: -80 },
  { ssid: "attic-ap", passphrase: "attic-pass-1", channel: 9, rssi: -85, auth: "wpa-wpa2-psk" },
];

export interface ProvisionableIo {
  readonly io: Io;
  readonly ble: SimBlePeripheral;
  readonly wifi: SimWifiStation;
}

export function withRadios(base: Io, radio: SimBleRadio, networks: readonly SimNetwork[] = DEFAULT_NETWORKS, timing: { scanMs?: number; connectMs?: number } = {}): ProvisionableIo {
  const ble = radio.peripheral();
  const wifi = new SimWifiStation({ networks, timers: base.timers, ...timing });
  return { io: { ...base, ble, wifi }, ble, wifi };
}

export { SimBleRadio };
