// The board's entry point: build the Io from the SDK, configure the core for the board, boot.
// The SDK calls the main module's default export once the preloaded modules (and, in development
// builds with `ssid=`, setup/network's Wi-Fi join and SNTP) are done.
import mcConfig from "mc/config";
import { Device } from "../../lifecycle/device.js";
import type { ProvisioningWindow } from "../../provisioning/window.js";
import { parseFactoryConfig } from "../../config/factory-config.js";
import { Logger } from "../../log/logger.js";
import { createBoardIo } from "./io.js";
import { copyConfig, parseBoardConfig } from "./board-config.js";
import { readFactoryPop } from "./pop.js";
import { traceSink } from "./log.js";
import { boardClock } from "./clock.js";
import { BoardHttpProvisioning } from "./http-provisioning.js";

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
  const io = createBoardIo({ storageNamespace: board.storageNamespace, fileRoot: board.fileRoot, sntp: board.sntp, canRestart: board.canRestart });
  // Radio on first: the MAC becomes readable and esp_fill_random() is a true RNG before the
  // first boot makes the identity key.
  io.wifi?.start();
  const pop = readFactoryPop(board.provisioning.pop);
  log.info("board", { mac: io.device.mac() ?? null, ble: io.ble !== undefined, pop: pop !== undefined ? "present" : "missing" });
  // Without a factory PoP the unit cannot run a secure provisioning session: it skips the BLE
  // window and goes straight to onboarding (a development board with Wi-Fi set at build time).
  if (pop === undefined) log.warn("provisioning-disabled", { reason: "no factory PoP in NVS" });
  // Espressif's second transport: protocomm over HTTP on the board's network (the desktop
  // simulator has no BLE, so it provisions this way). The listener is made at the first window.
  const transport = board.provisioning.transport;
  const http = transport === "ble" ? undefined : new BoardHttpProvisioning({ port: board.provisioning.httpPort, log: new Logger(traceSink, boardClock.now, "http"), random: io.random });
  const provisioning = pop === undefined ? undefined : {
    pop,
    ble: transport !== "http",
    ...(http !== undefined ? { attachesTransport: true, onWindow: (w: ProvisioningWindow) => { http.serve(w.service); } } : {}),
  };
  log.info("provisioning-transport", { transport, ...(http !== undefined ? { httpPort: board.provisioning.httpPort } : {}) });
  const device = new Device(io, { ...board.device, factory, ...(provisioning !== undefined ? { provisioning } : {}) });
  device.boot();
  return device;
}
