// Assembles the I/O object (src/io/io.ts) for a device simulated on Node.js.
//
//   const io = createNodeIo({ flash: Flash.inMemory(), clock: new ManualClock(), log: "collect" });
//   new Device(io, config).boot();
//   ...
//   const rebooted = createNodeIo({ flash: io.flash });   // power-cycle: same flash, fresh everything else
//
// The result is an `Io` with the simulator's handles on it (flash control, clock, logs, MAC),
// so a test can hold one object.
import type { Io, LogSink } from "../../src/io/io.js";
import type { LogRecord } from "../../src/log/logger.js";
import { ManualClock, RealClock, RealTimers, type ClearableTimers, type SettableClock } from "./clock.js";
import { SimDeviceInfo, type SimDeviceInfoOptions } from "./device.js";
import { Flash, type FlashOptions, type FlashStorage } from "./flash.js";
import { collectSink, printSink, type SecretFieldPolicy } from "./log-sink.js";
import { NodeNetwork, type TlsProfile, type TlsSessionInfo } from "./network.js";
import { nodeCrypto } from "./node-crypto.js";
import { cryptoRandom, seededRandom, type RandomSource } from "./random.js";

export interface NodeIoOptions extends SimDeviceInfoOptions {
  /** Default "board": TLS limited to what the ESP32's TLS stack can do. */
  readonly tlsProfile?: TlsProfile;
  readonly connectTimeoutMs?: number;
  readonly onTlsSession?: (info: TlsSessionInfo) => void;

  /**
   * The flash to boot from: an existing `Flash` (a reboot keeps its contents), or where to make
   * one: `{ path }` for a file, `{}` for memory. Default: a new in-memory flash.
   */
  readonly flash?: Flash | (FlashOptions & { readonly path?: string });

  /** A ManualClock for deterministic tests (its timers fire on `advance()`); default real time. */
  readonly clock?: ManualClock;
  /** Real clock only: what the device clock reads at start (ms since epoch). 0 = a board before SNTP. */
  readonly clockStartsAt?: number;
  /** Real timers only: let Node exit while device timers are pending. Default false. */
  readonly unrefTimers?: boolean;

  /** Default: node:crypto. A seed gives the same bytes on every run. */
  readonly random?: RandomSource | { readonly seed: string | number };

  /** "print" (default) to stdout/stderr, "collect" into `io.logs`, "silent", or your own sink. */
  readonly log?: "print" | "collect" | "silent" | LogSink;
  /** What the sink does with a secret-looking field in clear text; default "throw" when collecting, "redact" when printing. */
  readonly secretFields?: SecretFieldPolicy;
}

export interface NodeIo extends Io {
  readonly network: NodeNetwork;
  readonly storage: FlashStorage;
  readonly timers: ClearableTimers;
  readonly clock: SettableClock;
  readonly device: SimDeviceInfo;
  /** The chip behind `storage`: power cuts, write counts, reboots (`createNodeIo({ flash })`). */
  readonly flash: Flash;
  /** Records collected with `log: "collect"` (empty otherwise). */
  readonly logs: readonly LogRecord[];
  /** The device is gone: close its sockets and cancel its timers. Flash contents stay. */
  shutdown(): void;
}

export function createNodeIo(options: NodeIoOptions = {}): NodeIo {
  const flash = options.flash instanceof Flash ? options.flash : makeFlash(options.flash);
  const clock: SettableClock = options.clock ?? new RealClock(options.clockStartsAt);
  const clockTimers = options.clock?.timers ?? new RealTimers({ unref: options.unrefTimers ?? false });
  // A device whose power is off schedules nothing: a socket error arriving after shutdown must not
  // start a reconnect loop that keeps the host process alive.
  let poweredOff = false;
  const timers: ClearableTimers = {
    set: (callback, ms) => (poweredOff ? -1 : clockTimers.set(callback, ms)),
    clear: (id) => clockTimers.clear(id),
    clearAll: () => clockTimers.clearAll(),
    get pending() { return clockTimers.pending; },
  };
  const random = makeRandom(options.random);
  const logs: LogRecord[] = [];
  const log = makeSink(options, logs);
  const network = new NodeNetwork({
    log,
    clock,
    ...(options.tlsProfile !== undefined ? { tlsProfile: options.tlsProfile } : {}),
    ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
    ...(options.onTlsSession !== undefined ? { onTlsSession: options.onTlsSession } : {}),
  });
  return {
    network,
    storage: flash.open(),
    timers,
    clock,
    random,
    crypto: nodeCrypto,
    device: new SimDeviceInfo(options, macRandom(options.random, random)),
    log,
    flash,
    logs,
    shutdown() {
      poweredOff = true;
      network.closeAll();
      timers.clearAll();
    },
  };
}

function makeFlash(spec: (FlashOptions & { readonly path?: string }) | undefined): Flash {
  if (spec?.path !== undefined) return Flash.file(spec.path, spec);
  return Flash.inMemory(spec ?? {});
}

function makeRandom(spec: NodeIoOptions["random"]): RandomSource {
  if (spec === undefined) return cryptoRandom;
  return typeof spec === "function" ? spec : seededRandom(spec.seed);
}

/** The default MAC draws from its own stream, so `io.random`'s bytes do not depend on whether a MAC was given. */
function macRandom(spec: NodeIoOptions["random"], random: RandomSource): RandomSource {
  if (spec !== undefined && typeof spec !== "function") return seededRandom(`mac:${String(spec.seed)}`);
  return random;
}

function makeSink(options: NodeIoOptions, logs: LogRecord[]): LogSink {
  const log = options.log ?? "print";
  if (typeof log === "function") return log;
  switch (log) {
    case "collect": return collectSink(logs, options.secretFields ?? "throw");
    case "silent": return () => {};
    case "print": return printSink({ secretFields: options.secretFields ?? "redact" });
  }
}
