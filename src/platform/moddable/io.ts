// The I/O object on the board, from the SDK's modules. The only place the firmware meets the SDK;
// src/lifecycle and everything under it sees only the Io interface.
import type { Io, LogSink } from "../../io/io.js";
import { Logger } from "../../log/logger.js";
import { BoardNetwork } from "./network.js";
import { createStorage } from "./storage.js";
import { BoardTimers } from "./timers.js";
import { boardClock, createBoardClock } from "./clock.js";
import { boardRandom } from "./random.js";
import { boardCrypto } from "./crypto.js";
import { boardDevice } from "./device.js";
import { traceSink } from "./log.js";
import { BoardWifi } from "./wifi.js";
import { createBle } from "./ble.js";

export interface BoardIoOptions {
  /** NVS namespace of the firmware's keys (≤ 15 characters). */
  readonly storageNamespace: string;
  /** The SDK's config.file.root: where the desktop simulator keeps the firmware's keys (storage-files.ts). */
  readonly fileRoot?: string | undefined;
  /** SNTP server used after joining Wi-Fi while the clock is unset. */
  readonly sntp?: string | undefined;
  readonly log?: LogSink;
  /** False where System.restart() cannot restart (the desktop simulator). Default true. */
  readonly canRestart?: boolean;
}

export function createBoardIo(options: BoardIoOptions): Io {
  const log = options.log ?? traceSink;
  const timers = new BoardTimers((error) => {
    const code = typeof (error as { code?: unknown } | null)?.code === "string" ? (error as { code: string }).code : "exception";
    new Logger(log, boardClock.now, "timers").error("timer-callback-threw", { code });
  });
  const ble = createBle(new Logger(log, boardClock.now, "ble"), timers);
  const clock = createBoardClock();
  return {
    network: new BoardNetwork({ clock, crypto: boardCrypto, log }),
    ...(ble !== undefined ? { ble } : {}),
    wifi: new BoardWifi(options.sntp),
    storage: createStorage(options.storageNamespace, options.fileRoot),
    timers,
    clock,
    random: boardRandom,
    crypto: boardCrypto,
    device: boardDevice(options.canRestart ?? true),
    log,
  };
}
