// One simulated device on Node: the I/O object over a flash chip that outlives reboots, with its
// log captured. This is what the scenarios call `ctx.device()` on Node, what the XS bridge
// serves to the core running inside XS, and what the demo boots.
import type { LogSink } from "../src/io/io.js";
import type { LogRecord } from "../src/log/logger.js";
import type { FlashControl, SimDevice } from "../test/scenarios/harness.js";
import { Flash } from "./io/flash.js";
import { collectSink } from "./io/log-sink.js";
import { createNodeIo, type NodeIo, type NodeIoOptions } from "./io/node-io.js";

export { isPowerCut, isStorageError } from "./io/flash.js";

export interface HostSimDevice extends SimDevice {
  readonly io: NodeIo;
  reboot(): HostSimDevice;
}

export interface SimDeviceOptions extends Omit<NodeIoOptions, "flash" | "log"> {
  /** Keep the flash in this file (it survives the process); default: in memory. */
  readonly flashPath?: string;
  /** Also send every log record here (the records are captured in `logs` regardless). */
  readonly log?: LogSink;
}

export function createSimDevice(options: SimDeviceOptions = {}): HostSimDevice {
  const flash = options.flashPath !== undefined ? Flash.file(options.flashPath) : Flash.inMemory();
  return boot(flash, options);
}

function boot(flash: Flash, options: SimDeviceOptions): HostSimDevice {
  const logs: LogRecord[] = [];
  const collect = collectSink(logs, "throw"); // a secret-looking field in clear text fails the test
  const forward = options.log;
  const io = createNodeIo({ ...options, flash, log: forward ? (r) => { collect(r); forward(r); } : collect });
  const writesAtBoot = flash.writeCount;
  const control: FlashControl = {
    cutPowerAt: (write, byte) => flash.cutPowerAt(write, byte),
    get writeCount() {
      return flash.writeCount - writesAtBoot;
    },
  };
  return {
    io,
    flash: control,
    logs,
    reboot() {
      io.shutdown(); // the old device's sockets and timers die with it
      return boot(flash, options);
    },
  };
}
