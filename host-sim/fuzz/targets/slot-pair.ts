// The credential store over arbitrary flash contents: slot framing (magic, format, sequence,
// length, CRC-32) and the record inside. Input layout: byte 0 says which slots exist (bit 0 "a",
// bit 1 "b"), bytes 1–2 the length of slot "a", then slot "a", then slot "b".
// Properties: load() never throws and never writes; it finds a record exactly when an intact slot
// decodes, and then the newest such by serial-number arithmetic (RFC 1982: the step from
// 0xFFFFFFFF to 0 is newer) — a newer intact slot it cannot decode is skipped and said so; no
// intact slot is "empty", or "corrupt" when both are present and damaged — checked against a
// framing parser and comparison written here from the format, not SlotPair's; "ok" means a whole
// record; and a save after that load is what the next boot reads.
import { crc32 } from "../../../src/bytes/bytes.js";
import type { KeyValueStorage } from "../../../src/io/io.js";
import { decodeRecord, encodeRecord } from "../../../src/storage/credential-record.js";
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
    // The model, from the format: a slot is intact when its framing and CRC hold; the store takes
    // the newest intact slot whose record decodes (a newer one it cannot decode is skipped, not a
    // blocker); no intact slot → "empty", or "corrupt" when both keys are there and both damaged.
    const slots = [
      { bytes: a, present: (flags & 1) !== 0, sequence: flags & 1 ? intactSequence(a) : undefined },
      { bytes: b, present: (flags & 2) !== 0, sequence: flags & 2 ? intactSequence(b) : undefined },
    ];
    const intact = slots.filter((x): x is typeof x & { sequence: number } => x.sequence !== undefined);
    if (intact.length === 0) {
      const expected = slots.every((x) => x.present) ? "corrupt" : "empty";
      expect(loaded.status === expected, `store says ${loaded.status}, 0 intact slots (expected ${expected})`);
      return;
    }
    expect(loaded.status !== "empty" && loaded.status !== "corrupt", `store says ${loaded.status}, ${intact.length} intact slots`);
    const newestFirst = intact.length === 2 && intact[0]!.sequence !== intact[1]!.sequence && newest([intact[0]!.sequence, intact[1]!.sequence]) === intact[1]!.sequence
      ? [intact[1]!, intact[0]!] : intact;
    const payload = (x: { bytes: Uint8Array }) => x.bytes.subarray(13, x.bytes.length - 4);
    const decodes = (x: { bytes: Uint8Array }) => { try { decodeRecord(payload(x)); return true; } catch { return false; } };
    const readable = newestFirst.filter(decodes);
    if (readable.length === 0) {
      expect(loaded.status === "unreadable", `store says ${loaded.status}, no intact slot decodes`);
      return;
    }
    expect(loaded.status === "ok", `store says ${loaded.status}, ${readable.length} intact slot(s) decode`);
    if (loaded.status !== "ok") return;
    checkWholeRecord(loaded.record, "store.load");
    expect(loaded.sequence === readable[0]!.sequence, `loaded sequence ${loaded.sequence}, intact slots hold ${intact.map((x) => x.sequence).join(" and ")}, the newest that decodes ${readable[0]!.sequence}`);
    expect((loaded.skipped !== undefined) === (newestFirst[0]!.sequence !== readable[0]!.sequence || !decodes(newestFirst[0]!)),
      `skipped ${loaded.skipped !== undefined} though the newest intact slot ${decodes(newestFirst[0]!) ? "decodes" : "does not decode"}`);
    // Both slots may carry the same sequence (only corrupt flash does): either may be the one loaded.
    const candidates = readable.filter((x) => x.sequence === loaded.sequence);
    const failures: unknown[] = [];
    for (const chosen of candidates) {
      try {
        checkNothingDropped(payload(chosen), loaded.record);
      } catch (e) {
        failures.push(e);
      }
    }
    if (failures.length === candidates.length) throw failures[0];
    // Power on again after a save: the new record is what comes back.
    const next = { ...loaded.record, strategy: { name: "fuzz", state: { n: loaded.sequence } } };
    store.save(next);
    const reread = new CredentialStore(storage).load();
    expect(reread.status === "ok" && reread.sequence !== loaded.sequence && reread.record.strategy?.name === "fuzz",
      `a save after loading sequence ${loaded.sequence} is not what the next boot reads (got ${reread.status === "ok" ? `sequence ${reread.sequence}, strategy ${String(reread.record.strategy?.name)}` : reread.status})`);
  },
};
