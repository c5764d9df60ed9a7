// Crash-consistent storage of one record over key-value flash (NVS on the ESP32).
//
// NVS replaces one key per write and a power cut mid-write can leave that key erased or torn;
// nothing is atomic across keys. So the record lives in two slots, "<name>.a" and "<name>.b",
// each framed as
//
//   magic "ONBR" | format 1 | sequence u32 | length u32 | payload | CRC-32 over all before it
//
// A save always overwrites the slot that does NOT hold the current record, with sequence + 1.
// Whatever byte the power dies on, the current slot is untouched, so the next boot reads either
// the old record (new slot torn or absent) or the new one (new slot whole, higher sequence).
// Loading only reads: a normal reboot writes nothing.
//
// A save that makes the previous record obsolete for good (it held a secret the new one dropped)
// also overwrites the stale slot with the new frame, so the old secret leaves the flash. That is
// a second write after the first has completed: a cut during it leaves the new slot intact, so at
// every byte one valid record (the new one) remains.
import type { KeyValueStorage } from "../io/io.js";
import { crc32 } from "../bytes/bytes.js";

const MAGIC = [0x4f, 0x4e, 0x42, 0x52]; // "ONBR"
const FORMAT = 1;
const HEADER = 13;
const TRAILER = 4;

export interface SlotRecord {
  readonly payload: Uint8Array;
  readonly sequence: number;
  readonly slot: "a" | "b";
}

/** What the two slots hold: intact records (newest first) and slots present but unusable. */
export interface SlotScan {
  readonly records: readonly SlotRecord[];
  /** Slots holding bytes that are not an intact frame (torn, bit-rotted), or whose read failed. */
  readonly damaged: readonly ("a" | "b")[];
}

export class SlotPair {
  readonly #storage: KeyValueStorage;
  readonly #keys: { readonly a: string; readonly b: string };
  #current: SlotRecord | undefined | null = null; // null: not read yet

  constructor(storage: KeyValueStorage, name: string) {
    if (name.length > 13) throw new RangeError("slot name must be at most 13 characters (NVS keys are at most 15)");
    this.#storage = storage;
    this.#keys = { a: `${name}.a`, b: `${name}.b` };
  }

  /** The newest intact record, or undefined if neither slot holds one. */
  load(): SlotRecord | undefined {
    if (this.#current === null) this.#current = this.scan().records[0];
    return this.#current;
  }

  /** Read both slots (reads only). A read that throws (e.g. a non-blob NVS value) is a damaged slot. */
  scan(): SlotScan {
    const records: SlotRecord[] = [];
    const damaged: ("a" | "b")[] = [];
    for (const slot of ["a", "b"] as const) {
      const read = this.#read(slot);
      if (read === "damaged") damaged.push(slot);
      else if (read) records.push(read);
    }
    if (records.length === 2 && isNewerSequence(records[1]!.sequence, records[0]!.sequence)) records.reverse();
    return { records, damaged };
  }

  /** From now on `record` (one of `scan()`'s) counts as the current one: the next save overwrites the other slot. */
  adopt(record: SlotRecord): void {
    this.#current = record;
  }

  /**
   * Write `payload` to the slot not holding the current record, with the next sequence number.
   * With `scrub`, then overwrite the other slot with the same frame: the previous record is gone.
   */
  save(payload: Uint8Array, options: { scrub?: boolean } = {}): SlotRecord {
    const current = this.load();
    const slot = current?.slot === "a" ? "b" : "a";
    const other = slot === "a" ? "b" : "a";
    const sequence = ((current?.sequence ?? 0) + 1) >>> 0;
    const bytes = frame(payload, sequence);
    this.#storage.write(this.#keys[slot], bytes);
    this.#current = { payload: payload.slice(), sequence, slot };
    if (options.scrub && current !== undefined) this.#storage.write(this.#keys[other], bytes);
    return this.#current;
  }

  /** Remove both slots, the stale one first so a cut in between leaves the current record. */
  erase(): void {
    const current = this.load();
    const first = current?.slot === "a" ? "b" : "a";
    this.#storage.delete(this.#keys[first]);
    this.#storage.delete(this.#keys[first === "a" ? "b" : "a"]);
    this.#current = undefined;
  }

  #read(slot: "a" | "b"): SlotRecord | undefined | "damaged" {
    let bytes: Uint8Array | undefined;
    try {
      bytes = this.#storage.read(this.#keys[slot]);
    } catch {
      return "damaged"; // the board throws for a key of another type, or a failing read
    }
    if (bytes === undefined) return undefined;
    if (!(bytes instanceof Uint8Array)) return "damaged";
    const parsed = unframe(bytes);
    return parsed ? { ...parsed, slot } : "damaged";
  }
}

/**
 * Sequence numbers are compared in serial-number arithmetic (RFC 1982), so the step from
 * 0xFFFFFFFF to 0 is still "newer". Valid slots differ by one; only corrupt flash is ever far apart.
 */
export function isNewerSequence(x: number, y: number): boolean {
  const d = (x - y) >>> 0;
  return d !== 0 && (d < 0x8000_0000 || (d === 0x8000_0000 && x > y));
}

function frame(payload: Uint8Array, sequence: number): Uint8Array {
  const out = new Uint8Array(HEADER + payload.length + TRAILER);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[4] = FORMAT;
  view.setUint32(5, sequence);
  view.setUint32(9, payload.length);
  out.set(payload, HEADER);
  view.setUint32(HEADER + payload.length, crc32(out.subarray(0, HEADER + payload.length)));
  return out;
}

function unframe(bytes: Uint8Array): { payload: Uint8Array; sequence: number } | undefined {
  if (bytes.length < HEADER + TRAILER) return undefined;
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) return undefined;
  if (bytes[4] !== FORMAT) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(9);
  if (bytes.length !== HEADER + length + TRAILER) return undefined;
  if (view.getUint32(HEADER + length) !== crc32(bytes.subarray(0, HEADER + length))) return undefined;
  return { payload: bytes.slice(HEADER, HEADER + length), sequence: view.getUint32(5) };
}
