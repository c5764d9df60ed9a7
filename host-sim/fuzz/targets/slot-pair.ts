// The credential store over arbitrary flash contents: slot framing (magic, format, sequence,
// length, CRC-32) and the record inside. Input layout: byte 0 says which slots exist (bit 0 "a",
// bit 1 "b"), bytes 1–2 the length of slot "a", then slot "a", then slot "b".
// Properties: load() never throws and never writes; it finds a record exactly when a slot is
// intact, and then the newer one by serial-number arithmetic (RFC 1982: the step from 0xFFFFFFFF
// to 0 is newer), checked against a framing parser and comparison written here from the format,
// not SlotPair's; "ok" means a whole record; and a save after that load
// is what the next boot reads.
import { crc32 } from "../../../src/bytes/bytes.js";
import type { KeyValueStorage } from "../../../src/io/io.js";
import { encodeRecord } from "../../../src/storage/credential-record.js";
import { CredentialStore } from "../../../src/storage/credential-store.js";
import { SlotPair } from "../../../src/storage/slot-pair.js";
import type { Rand } from "../rand.js";
import { mutate } from "../mutate.js";
import { expect, type FuzzTarget } from "../target.js";
import { RECORD_KNOWN_ISSUES, checkNothingDropped, checkWholeRecord, nearlyValidRecordBytes, oddMapEntryBytes, sampleRecord } from "./credential-record.js";

/** NVS-like key-value storage in memory that counts writes. */
class CountingStorage implements KeyValueStorage {
  readonly map = new Map<string, Uint8Array>();
  writes = 0;
  read(key: string) { const v = this.map.get(key); return v && v.slice(); }
  write(key: string, value: Uint8Array) { this.writes++; this.map.set(key, value.slice()); }
  delete(key: string) { this.writes++; this.map.delete(key); }
}

/**
 * A slot holding `payload` with any sequence number: framed by SlotPair itself (so the fuzzer
 * follows the real format), then the sequence patched and the CRC made right again.
 */
function framedAt(payload: Uint8Array, sequence: number): Uint8Array {
  const storage = new CountingStorage();
  new SlotPair(storage, "f").save(payload);
  const slot = storage.map.get("f.a")!;
  const view = new DataView(slot.buffer, slot.byteOffset, slot.byteLength);
  view.setUint32(5, sequence >>> 0);
  view.setUint32(slot.length - 4, crc32(slot.subarray(0, slot.length - 4)));
  return slot;
}

/** The newest of one or two sequences: b beats a when (b − a) mod 2³² is in 1..2³¹−1 (2³¹ exactly: the larger). */
function newest(sequences: readonly number[]): number {
  const [a, b] = sequences;
  if (b === undefined) return a!;
  const forward = (b - a! + 0x1_0000_0000) % 0x1_0000_0000;
  return forward !== 0 && (forward < 0x8000_0000 || (forward === 0x8000_0000 && b > a!)) ? b : a!;
}

/** The sequence of an intact slot (magic, format 1, exact length, CRC-32), else undefined. */
function intactSequence(slot: Uint8Array | undefined): number | undefined {
  if (!slot || slot.length < 17) return undefined;
  const view = new DataView(slot.buffer, slot.byteOffset, slot.byteLength);
  if (view.getUint32(0) !== 0x4f4e4252 || slot[4] !== 1 || view.getUint32(9) !== slot.length - 17) return undefined;
  if (view.getUint32(slot.length - 4) !== crc32(slot.subarray(0, slot.length - 4))) return undefined;
  return view.getUint32(5);
}

function layout(a: Uint8Array | undefined, b: Uint8Array | undefined): Uint8Array {
  const aa = a ?? new Uint8Array(0);
  const bb = b ?? new Uint8Array(0);
  const out = new Uint8Array(3 + aa.length + bb.length);
  out[0] = (a ? 1 : 0) | (b ? 2 : 0);
  out[1] = aa.length >> 8;
  out[2] = aa.length & 255;
  out.set(aa, 3);
  out.set(bb, 3 + aa.length);
  return out;
}

function randomSlot(r: Rand): Uint8Array | undefined {
  const sequence = r.pick([0, 1, 2, 7, 0x7fffffff, 0xfffffffe, 0xffffffff, r.int(0, 0xffffffff)]);
  switch (r.int(0, 4)) {
    case 0: return undefined;
    case 1: return framedAt(encodeRecord(sampleRecord(r)), sequence);
    case 2: return framedAt(r.bool() ? nearlyValidRecordBytes(r) : oddMapEntryBytes(r), sequence); // framing good, record maybe not
    case 3: return mutate(r, framedAt(encodeRecord(sampleRecord(r)), sequence), 2048); // framing broken
    default: return r.bytes(r.int(0, 40));
  }
}

export const slotPairTarget: FuzzTarget = {
  name: "slot-pair",
  maxLength: 4096,
  seeds(r) {
    return Array.from({ length: 50 }, () => layout(randomSlot(r), randomSlot(r)));
  },
  generators: [(r) => layout(randomSlot(r), randomSlot(r))],
  knownIssues: RECORD_KNOWN_ISSUES,
  run(input) {
    const flags = input[0] ?? 0;
    const aLength = ((input[1] ?? 0) << 8) | (input[2] ?? 0);
    const storage = new CountingStorage();
    const a = input.subarray(3, 3 + aLength);
    const b = input.subarray(Math.min(input.length, 3 + aLength));
    if (flags & 1) storage.map.set("cred.a", a.slice());
    if (flags & 2) storage.map.set("cred.b", b.slice());
    const store = new CredentialStore(storage);
    const loaded = store.load(); // any exception escapes: a failure
    expect(storage.writes === 0, "load() wrote to flash");
    const sequences = [flags & 1 ? intactSequence(a) : undefined, flags & 2 ? intactSequence(b) : undefined].filter((x) => x !== undefined);
    expect((loaded.status === "empty") === (sequences.length === 0), `store says ${loaded.status}, ${sequences.length} intact slots`);
    if (loaded.status !== "ok") return;
    checkWholeRecord(loaded.record, "store.load");
    expect(loaded.sequence === newest(sequences), `loaded sequence ${loaded.sequence}, intact slots hold ${sequences.join(" and ")}`);
    const chosen = loaded.sequence === (flags & 1 ? intactSequence(a) : undefined) ? a : b;
    checkNothingDropped(chosen.subarray(13, chosen.length - 4), loaded.record);
    // Power on again after a save: the new record is what comes back.
    const next = { ...loaded.record, strategy: { name: "fuzz", state: { n: loaded.sequence } } };
    store.save(next);
    const reread = new CredentialStore(storage).load();
    expect(reread.status === "ok" && reread.sequence !== loaded.sequence && reread.record.strategy?.name === "fuzz",
      `a save after loading sequence ${loaded.sequence} is not what the next boot reads (got ${reread.status === "ok" ? `sequence ${reread.sequence}, strategy ${String(reread.record.strategy?.name)}` : reread.status})`);
  },
};
