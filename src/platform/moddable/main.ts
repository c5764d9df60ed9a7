// The board's entry point: build the Io from the SDK, configure the core for the board, boot.
// The SDK calls the main module's default export once the preloaded modules (and, in development
// builds with `ssid=`, setup/network's Wi-Fi join and SNTP) are done.
import mcConfig from "mc/config";
import { Device } from "../../lifecycle/device.js";
import { parseFactoryConfig } from "../../config/factory-config.js";
import { Logger } from "../../log/logger.js";
import { createBoardIo } from "./io.js";
import { copyConfig, parseBoardConfig } from "./board-config.js";
import { readFactoryPop } from "./pop.js";
import { traceSink } from "./log.js";
import { boardClock } from "./clock.js";

export default function main(): Device | undefined {
  const log = new Logger(traceSink, boardClock.now, "board");
  let board;
  let factory;
  try {
    const config = copyConfig(mcConfig) as Readonly<Record<string, unknown>>;
    board = parseBoardConfig(config);
    factory = parseFactoryConfig(config.factory); // a bad fleet build stops here, with the field named
  } catch (e) {
    log.error("config-invalid", { error: e instanceof Error ? e.message : "unknown" });
    return undefined;
  }
  const io = createBoardIo({ storageNamespace: board.storageNamespace, sntp: board.sntp, canRestart: board.canRestart });
  // Radio on first: the MAC becomes readable and esp_fill_random() is a true RNG before the
  // first boot makes the identity key.
  io.wifi?.start();
  const pop = readFactoryPop(board.provisioning.pop);
  log.info("board", { mac: io.device.mac() ?? null, ble: io.ble !== undefined, pop: pop !== undefined ? "present" : "missing" });
  // Without a factory PoP the unit cannot run a secure provisioning session: it skips the BLE
  // window and goes straight to onboarding (a development board with Wi-Fi set at build time).
  if (pop === undefined) log.warn("provisioning-disabled", { reason: "no factory PoP in NVS" });
  const device = new Device(io, { ...board.device, factory, ...(pop !== undefined ? { provisioning: { pop } } : {}) });
  device.boot();
  return device;
}
