// Replaces ble.ts in builds without a BLE peripheral (the SDK's desktop simulator on Linux has
// only empty BLE stubs). manifest.json maps this file to the module name of ble.ts there, so the
// rest of the glue is the same. The device says so at boot instead of advertising into the void.
import type { BlePeripheral, Timers } from "../../io/io.js";
import type { Logger } from "../../log/logger.js";

export function createBle(log: Logger, _timers?: Timers): BlePeripheral | undefined {
  log.warn("ble-absent", { reason: "this build has no BLE peripheral (Moddable desktop simulator): BLE provisioning is unavailable" });
  return undefined;
}
