// The board's entry point: build the Io from the SDK, configure the core for the board, boot.
// The SDK calls the main module's default export once the preloaded modules (and, in development
// builds with `ssid=`, setup/network's Wi-Fi join and SNTP) are done.
import config from "mc/config";
import { Digest } from "crypt";
import { useSha512 } from "../../identity/ed25519.js";
import { Device } from "../../lifecycle/device.js";
import { parseFactoryConfig } from "../../config/factory-config.js";
import { Logger } from "../../log/logger.js";
import { createBoardIo } from "./io.js";
import { parseBoardConfig } from "./board-config.js";
import { readFactoryPop } from "./pop.js";
import { traceSink } from "./log.js";
import { boardClock } from "./clock.js";
import { toArrayBuffer } from "./pem.js";

/** SHA-512 in C (the SDK's Digest): about 100× faster on XS than hashing in JavaScript. */
export function nativeSha512(message: Uint8Array): Uint8Array<ArrayBuffer> {
  const digest = new Digest("SHA512");
  digest.write(toArrayBuffer(message));
  return new Uint8Array(digest.close());
}

export default function main(): Device | undefined {
  const log = new Logger(traceSink, boardClock.now, "board");
  let board;
  let factory;
  try {
    board = parseBoardConfig(config);
    factory = parseFactoryConfig(config.factory); // a bad fleet build stops here, with the field named
  } catch (e) {
    log.error("config-invalid", { error: e instanceof Error ? e.message : "unknown" });
    return undefined;
  }
  useSha512(nativeSha512);
  const io = createBoardIo({ storageNamespace: board.storageNamespace, sntp: board.sntp });
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
