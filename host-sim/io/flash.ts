// Simulated NVS flash with power-cut injection.
//
// `Flash` is the chip: its contents outlive reboots (in memory, or in a file on the host).
// `flash.open()` boots a device over it and returns that boot's `KeyValueStorage`. A power cut
// kills every storage opened so far; the next `open()` is the reboot.
//
// Fault model of one write of an n-byte value to a key (what Moddable's Preference.set does on
// NVS: erase the key, then write it):
//   step 0       the key is erased;
//   bytes 1..n   the new value reaches flash byte by byte.
// A cut at byte b (0 ≤ b ≤ n) leaves:
//   b = 0        the key absent;
//   0 < b < n    a torn value: the first b bytes of the new value, followed by the old value's
//                bytes from b on when the old value was longer (stale data in the rest of the
//                slot — the most hostile plausible outcome: right length, wrong content), else
//                just the b bytes;
//   b = n        the whole new value; power dies right after.
// A delete is one step: the key disappears, then the power dies (b is ignored).
// Writes refused by the NVS limits (StorageError) never reach flash: they neither count nor cut.
import type { KeyValueStorage } from "../../src/io/io.js";
import { loadFlashFile, saveFlashFile } from "./flash-file.js";
import {
  checkKey, checkValue, DEFAULT_PARTITION_SIZE, entryCost, NAMESPACE_COST, StorageError, usableBytes,
} from "./nvs-limits.js";

export { StorageError, isStorageError, type StorageErrorCode, MAX_KEY_BYTES, MAX_BLOB_BYTES } from "./nvs-limits.js";

/** Thrown by the write a power cut interrupts, and by every later call on the dead device's storage. */
export class PowerCut extends Error {
  override readonly name = "PowerCut";
}

export const isPowerCut = (error: unknown): error is PowerCut => error instanceof PowerCut;

export interface FlashOptions {
  /** NVS partition size in bytes; default 0x6000 (24 KiB), the board's default `nvs` partition. */
  readonly partitionSize?: number;
}

/** One operation that reached flash, as a recorder sees it. `size` is the new value's length (0 for a delete). */
export interface FlashWrite {
  readonly kind: "write" | "delete";
  readonly key: string;
  readonly size: number;
}

/** Where to cut: the `write`-th write or delete after arming (0 = the next), after `byte` bytes. */
export interface CutPoint {
  readonly write: number;
  readonly byte: number;
}

export interface WriteRecorder {
  /** Writes and deletes since `record()` was called, in order. */
  readonly writes: readonly FlashWrite[];
  stop(): void;
}

/** Every cut point of a recorded sequence: for each write, bytes 0..size; for a delete, byte 0. */
export function cutPoints(writes: readonly FlashWrite[]): CutPoint[] {
  const points: CutPoint[] = [];
  writes.forEach((w, write) => {
    for (let byte = 0; byte <= w.size; byte++) points.push({ write, byte });
  });
  return points;
}

/** What a storage instance may do to the chip; kept out of the public Flash API. */
interface ChipPort {
  read(key: string): Uint8Array | undefined;
  write(key: string, value: Uint8Array): void;
  delete(key: string): void;
}

/** One boot's view of the flash: the `KeyValueStorage` of the I/O object. */
export class FlashStorage implements KeyValueStorage {
  readonly #chip: ChipPort;

  /** Use `flash.open()`. */
  constructor(chip: ChipPort) {
    this.#chip = chip;
  }

  read(key: string): Uint8Array | undefined {
    return this.#chip.read(key);
  }

  write(key: string, value: Uint8Array): void {
    this.#chip.write(key, value);
  }

  delete(key: string): void {
    this.#chip.delete(key);
  }
}

export class Flash {
  /** The file holding the contents, or undefined for an in-memory flash. */
  readonly path: string | undefined;
  /** Approximate usable bytes of the partition (see nvs-limits.ts). */
  readonly capacity: number;
  readonly #contents: Map<string, Uint8Array>;
  #writeCount = 0;
  #deleteCount = 0;
  #boots = 0;
  #deadUpToBoot = 0; // storages from boots ≤ this number were on when the power died
  #armed: { remaining: number; byte: number } | undefined;
  readonly #recorders = new Set<FlashWrite[]>();

  private constructor(path: string | undefined, contents: Map<string, Uint8Array>, options: FlashOptions) {
    this.path = path;
    this.#contents = contents;
    this.capacity = usableBytes(options.partitionSize ?? DEFAULT_PARTITION_SIZE);
  }

  /** An erased flash that lives in memory only: fast, for tests. */
  static inMemory(options: FlashOptions = {}): Flash {
    return new Flash(undefined, new Map(), options);
  }

  /**
   * A flash backed by the file at `path` (created on the first write). Opening the same file
   * again — in this process after a power cut, or in a later run — sees what was last written,
   * torn values included. Keep one Flash per file at a time.
   */
  static file(path: string, options: FlashOptions = {}): Flash {
    return new Flash(path, loadFlashFile(path), options);
  }

  /** Boot a device over this flash. Storages from earlier boots keep working unless the power was cut. */
  open(): FlashStorage {
    const boot = ++this.#boots;
    const alive = (): void => {
      if (boot <= this.#deadUpToBoot) throw new PowerCut("the device is off after a power cut; reboot (flash.open()) to use the flash again");
    };
    return new FlashStorage({
      read: (key) => { alive(); return this.#read(key); },
      write: (key, value) => { alive(); this.#write(key, value); },
      delete: (key) => { alive(); this.#delete(key); },
    });
  }

  /** Writes and deletes that reached flash since this Flash object was made (a normal boot adds none). */
  get writeCount(): number {
    return this.#writeCount;
  }

  /** Deletes among `writeCount`. */
  get deleteCount(): number {
    return this.#deleteCount;
  }

  /** Bytes in use by the stored keys, by the same approximate model as `capacity`. */
  get usedBytes(): number {
    let used = NAMESPACE_COST;
    for (const value of this.#contents.values()) used += entryCost(value.length);
    return used;
  }

  /**
   * Arm a power cut (replacing any armed one). Accepts `(write, byte)` or `{ write, byte }`.
   * A `byte` beyond the value's length means "after the last byte".
   */
  cutPowerAt(write: number | CutPoint, byte?: number): void {
    const point = typeof write === "number" ? { write, byte: byte ?? 0 } : write;
    if (!Number.isInteger(point.write) || point.write < 0 || !Number.isInteger(point.byte) || point.byte < 0) {
      throw new RangeError(`cutPowerAt: write and byte must be integers ≥ 0, got ${point.write}, ${point.byte}`);
    }
    this.#armed = { remaining: point.write, byte: point.byte };
  }

  /** Cancel an armed cut that has not happened yet. */
  disarm(): void {
    this.#armed = undefined;
  }

  get armed(): boolean {
    return this.#armed !== undefined;
  }

  /** Start recording writes, e.g. during a dry run, to enumerate cut points with `cutPoints()`. */
  record(): WriteRecorder {
    const writes: FlashWrite[] = [];
    this.#recorders.add(writes);
    return { writes, stop: () => void this.#recorders.delete(writes) };
  }

  /** The stored keys, for inspection in tests (not part of the board's API). */
  keys(): string[] {
    return [...this.#contents.keys()];
  }

  /** A key's stored bytes without a device (works after a power cut), for inspection in tests. */
  peek(key: string): Uint8Array | undefined {
    return this.#contents.get(key)?.slice();
  }

  #read(key: string): Uint8Array | undefined {
    checkKey(key);
    return this.#contents.get(key)?.slice();
  }

  #write(key: string, value: Uint8Array): void {
    checkKey(key);
    checkValue(key, value);
    this.#checkSpace(key, value.length);
    const fresh = value.slice();
    const cutAt = this.#step({ kind: "write", key, size: fresh.length });
    if (cutAt === undefined) {
      this.#contents.set(key, fresh);
      this.#persist();
      return;
    }
    const byte = Math.min(cutAt, fresh.length);
    const landed = byte === 0 ? undefined : torn(fresh, this.#contents.get(key), byte);
    if (landed === undefined) this.#contents.delete(key);
    else this.#contents.set(key, landed);
    this.#powerOff(`power cut writing "${key}" after ${byte} of ${fresh.length} bytes`);
  }

  #delete(key: string): void {
    checkKey(key);
    const cutAt = this.#step({ kind: "delete", key, size: 0 });
    this.#deleteCount++;
    this.#contents.delete(key);
    if (cutAt !== undefined) this.#powerOff(`power cut deleting "${key}"`);
    this.#persist();
  }

  /** The board refuses a write that does not fit; the old value stays (see the report on Preference). */
  #checkSpace(key: string, length: number): void {
    const old = this.#contents.get(key);
    const after = this.usedBytes - (old === undefined ? 0 : entryCost(old.length)) + entryCost(length);
    if (after > this.capacity) {
      throw new StorageError("no-space", `NVS is full: writing ${length} bytes to "${key}" needs ${after} of ${this.capacity} usable bytes`);
    }
  }

  /** Counts one operation reaching flash; returns the byte to cut at if the armed cut is this one. */
  #step(write: FlashWrite): number | undefined {
    this.#writeCount++;
    for (const writes of this.#recorders) writes.push(write);
    const armed = this.#armed;
    if (armed === undefined) return undefined;
    if (armed.remaining > 0) {
      armed.remaining--;
      return undefined;
    }
    this.#armed = undefined;
    return armed.byte;
  }

  #powerOff(message: string): never {
    this.#persist();
    this.#deadUpToBoot = this.#boots;
    throw new PowerCut(message);
  }

  #persist(): void {
    if (this.path !== undefined) saveFlashFile(this.path, this.#contents);
  }
}

/** The value a write torn after `byte` bytes leaves behind (see the fault model at the top). */
function torn(fresh: Uint8Array, old: Uint8Array | undefined, byte: number): Uint8Array {
  if (byte >= fresh.length) return fresh;
  const length = Math.max(byte, old?.length ?? 0);
  const out = new Uint8Array(length);
  if (old !== undefined) out.set(old.subarray(byte), byte);
  out.set(fresh.subarray(0, byte), 0);
  return out;
}
