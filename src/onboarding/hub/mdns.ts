// DNS messages (RFC 1035 wire format) for mDNS / DNS-SD "legacy unicast" queries (RFC 6762 §6.7),
// sans-I/O. The encoder writes what the device asks (no compression: our queries are tiny); the
// decoder reads what any responder may send: name compression, the mDNS cache-flush bit, records
// of types we do not use (kept as raw bytes). Every malformed message is a typed DnsError.

export const TYPE_A = 1;
export const TYPE_PTR = 12;
export const TYPE_TXT = 16;
export const TYPE_SRV = 33;
export const CLASS_IN = 1;

export type DnsErrorCode =
  /** The message ends before a header, name or record does. */
  | "truncated"
  /** A compression pointer points outside the message. */
  | "bad-pointer"
  /** Compression pointers that lead back to one already followed. */
  | "compression-loop"
  /** A label or name that breaks RFC 1035's limits, or that we cannot encode. */
  | "bad-name"
  /** Record data that does not fit its type (an A record that is not 4 bytes, …). */
  | "bad-record"
  /** Not the reply to our query. */
  | "wrong-id"
  | "not-a-response"
  /** The responder reported an error (RCODE ≠ 0). */
  | "rcode"
  /** More sections or records than any reply to one question needs. */
  | "too-large";

export class DnsError extends Error {
  constructor(readonly code: DnsErrorCode, message: string) {
    super(message);
  }
}

export interface DnsQuestion {
  readonly name: string;
  readonly type: number;
  /** Class without the mDNS unicast-response bit; default IN. */
  readonly class?: number;
}

interface RecordBase {
  readonly name: string;
  readonly class: number;
  /** The mDNS cache-flush bit (top bit of the class field). */
  readonly flush: boolean;
  readonly ttl: number;
}

export type DnsRecord =
  | (RecordBase & { readonly type: typeof TYPE_A; readonly address: string })
  | (RecordBase & { readonly type: typeof TYPE_PTR; readonly target: string })
  | (RecordBase & { readonly type: typeof TYPE_SRV; readonly priority: number; readonly weight: number; readonly port: number; readonly target: string })
  | (RecordBase & { readonly type: typeof TYPE_TXT; readonly strings: readonly Uint8Array[] })
  | (RecordBase & { readonly type: number; readonly data: Uint8Array });

export interface DnsMessage {
  readonly id: number;
  /** The 16 flag bits (QR, opcode, AA, TC, RD, RA, Z, RCODE). */
  readonly flags: number;
  readonly questions: readonly DnsQuestion[];
  readonly answers: readonly DnsRecord[];
  readonly authorities: readonly DnsRecord[];
  readonly additionals: readonly DnsRecord[];
}

const FLAG_QR = 0x8000;
const MAX_RECORDS = 64;
const MAX_NAME = 255;

/** ASCII lower case: DNS names compare case-insensitively (RFC 4343), and only in ASCII. */
export function sameName(a: string, b: string): boolean {
  return lowerAscii(trimDot(a)) === lowerAscii(trimDot(b));
}

function lowerAscii(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

function trimDot(s: string): string {
  return s.endsWith(".") ? s.slice(0, -1) : s;
}

// ---- encoding

class Writer {
  #buf = new Uint8Array(512);
  #len = 0;

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + n));
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  u8(v: number): void { this.#room(1); this.#buf[this.#len++] = v & 0xff; }
  u16(v: number): void { this.u8(v >>> 8); this.u8(v); }
  u32(v: number): void { this.u16(v >>> 16); this.u16(v & 0xffff); }
  bytes(b: Uint8Array): void { this.#room(b.length); this.#buf.set(b, this.#len); this.#len += b.length; }
  get length(): number { return this.#len; }
  patch16(at: number, v: number): void { this.#buf[at] = (v >>> 8) & 0xff; this.#buf[at + 1] = v & 0xff; }
  done(): Uint8Array { return this.#buf.slice(0, this.#len); }
}

function writeName(w: Writer, name: string): void {
  const trimmed = trimDot(name);
  let total = 1;
  if (trimmed.length > 0) {
    for (const label of trimmed.split(".")) {
      if (label.length === 0 || label.length > 63) throw new DnsError("bad-name", `label of ${label.length} characters in a name (1 to 63 allowed)`);
      total += label.length + 1;
      if (total > MAX_NAME) throw new DnsError("bad-name", `name longer than ${MAX_NAME} bytes`);
      w.u8(label.length);
      for (let i = 0; i < label.length; i++) {
        const c = label.charCodeAt(i);
        if (c < 0x21 || c > 0x7e) throw new DnsError("bad-name", "names are encoded as printable ASCII only");
        w.u8(c);
      }
    }
  }
  w.u8(0);
}

function writeRecord(w: Writer, r: DnsRecord): void {
  writeName(w, r.name);
  w.u16(r.type);
  w.u16((r.flush ? 0x8000 : 0) | (r.class & 0x7fff));
  w.u32(r.ttl >>> 0);
  const lengthAt = w.length;
  w.u16(0);
  const start = w.length;
  if ("address" in r) {
    const parts = r.address.split(".").map(Number);
    if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new DnsError("bad-record", "an A record needs a dotted IPv4 address");
    for (const p of parts) w.u8(p);
  } else if ("port" in r) {
    w.u16(r.priority); w.u16(r.weight); w.u16(r.port);
    writeName(w, r.target);
  } else if ("target" in r) {
    writeName(w, r.target);
  } else if ("strings" in r) {
    for (const s of r.strings) {
      if (s.length > 255) throw new DnsError("bad-record", "a TXT string is at most 255 bytes");
      w.u8(s.length); w.bytes(s);
    }
    if (r.strings.length === 0) w.u8(0); // RFC 6763 §6.1: an empty TXT record is one empty string
  } else {
    w.bytes(r.data);
  }
  const length = w.length - start;
  if (length > 0xffff) throw new DnsError("bad-record", "record data longer than 65535 bytes");
  w.patch16(lengthAt, length);
}

/** A whole message, without name compression. */
export function encodeMessage(m: DnsMessage): Uint8Array {
  const w = new Writer();
  w.u16(m.id & 0xffff);
  w.u16(m.flags & 0xffff);
  w.u16(m.questions.length); w.u16(m.answers.length); w.u16(m.authorities.length); w.u16(m.additionals.length);
  for (const q of m.questions) {
    writeName(w, q.name);
    w.u16(q.type);
    w.u16(q.class ?? CLASS_IN);
  }
  for (const r of [...m.answers, ...m.authorities, ...m.additionals]) writeRecord(w, r);
  return w.done();
}

/** One question, as a legacy-unicast mDNS query: the responder replies by unicast with this ID. */
export function encodeQuery(id: number, name: string, type: number): Uint8Array {
  return encodeMessage({ id, flags: 0, questions: [{ name, type }], answers: [], authorities: [], additionals: [] });
}

// ---- decoding

class Reader {
  at = 0;
  constructor(readonly bytes: Uint8Array) {}

  need(n: number, what: string): void {
    if (this.at + n > this.bytes.length) throw new DnsError("truncated", `message ends inside ${what}`);
  }
  u8(what: string): number { this.need(1, what); return this.bytes[this.at++]!; }
  u16(what: string): number { this.need(2, what); const v = (this.bytes[this.at]! << 8) | this.bytes[this.at + 1]!; this.at += 2; return v; }
  u32(what: string): number { const hi = this.u16(what); return hi * 0x10000 + this.u16(what); }
}

/**
 * A name at r.at (r.at moves past it; pointers are followed without moving it further). A pointer
 * may point anywhere inside the message, but never to a place already visited for this name.
 */
function readName(r: Reader, limit = r.bytes.length): string {
  const bytes = r.bytes;
  const labels: string[] = [];
  let at = r.at;
  let end = -1; // where the caller continues once the first pointer was taken
  const visited: number[] = [];
  let total = 1;
  for (;;) {
    if (at >= (end < 0 ? limit : bytes.length)) throw new DnsError("truncated", "message ends inside a name");
    const len = bytes[at]!;
    if ((len & 0xc0) === 0xc0) {
      if (at + 1 >= (end < 0 ? limit : bytes.length)) throw new DnsError("truncated", "message ends inside a compression pointer");
      const target = ((len & 0x3f) << 8) | bytes[at + 1]!;
      if (end < 0) end = at + 2;
      if (target >= bytes.length) throw new DnsError("bad-pointer", `compression pointer to offset ${target} outside the ${bytes.length}-byte message`);
      if (visited.includes(target)) throw new DnsError("compression-loop", `compression pointers loop at offset ${target}`);
      visited.push(target);
      at = target;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new DnsError("bad-name", `label type 0x${(len & 0xc0).toString(16)} is not defined`);
    if (len === 0) {
      r.at = end < 0 ? at + 1 : end;
      return labels.join(".");
    }
    total += len + 1;
    if (total > MAX_NAME) throw new DnsError("bad-name", `name longer than ${MAX_NAME} bytes`);
    if (at + 1 + len > (end < 0 ? limit : bytes.length)) throw new DnsError("truncated", "message ends inside a label");
    let label = "";
    for (let i = at + 1; i <= at + len; i++) label += String.fromCharCode(bytes[i]!);
    labels.push(label);
    at += 1 + len;
  }
}

function readRecord(r: Reader): DnsRecord {
  const name = readName(r);
  const type = r.u16("a record header");
  const klass = r.u16("a record header");
  const ttl = r.u32("a record header");
  const length = r.u16("a record header");
  r.need(length, "record data");
  const start = r.at;
  const end = start + length;
  const base = { name, class: klass & 0x7fff, flush: (klass & 0x8000) !== 0, ttl };
  let record: DnsRecord;
  if (type === TYPE_A) {
    if (length !== 4) throw new DnsError("bad-record", `A record of ${length} bytes (4 expected)`);
    const b = r.bytes;
    record = { ...base, type: TYPE_A, address: `${b[start]}.${b[start + 1]}.${b[start + 2]}.${b[start + 3]}` };
  } else if (type === TYPE_PTR) {
    const target = readName(r, end);
    if (r.at !== end) throw new DnsError("bad-record", "PTR record data longer than its name");
    record = { ...base, type: TYPE_PTR, target };
  } else if (type === TYPE_SRV) {
    if (length < 7) throw new DnsError("bad-record", `SRV record of ${length} bytes`);
    const priority = r.u16("SRV"), weight = r.u16("SRV"), port = r.u16("SRV");
    const target = readName(r, end);
    if (r.at !== end) throw new DnsError("bad-record", "SRV record data longer than its target");
    record = { ...base, type: TYPE_SRV, priority, weight, port, target };
  } else if (type === TYPE_TXT) {
    const strings: Uint8Array[] = [];
    let at = start;
    while (at < end) {
      const n = r.bytes[at]!;
      if (at + 1 + n > end) throw new DnsError("bad-record", "TXT string runs past its record");
      strings.push(r.bytes.slice(at + 1, at + 1 + n));
      at += 1 + n;
    }
    record = { ...base, type: TYPE_TXT, strings };
  } else {
    record = { ...base, type, data: r.bytes.slice(start, end) };
  }
  r.at = end;
  return record;
}

/** Any DNS message. Bytes after the last record are ignored (as resolvers do). */
export function decodeMessage(bytes: Uint8Array): DnsMessage {
  const r = new Reader(bytes);
  const id = r.u16("the header");
  const flags = r.u16("the header");
  const counts = [r.u16("the header"), r.u16("the header"), r.u16("the header"), r.u16("the header")] as const;
  if (counts[0] + counts[1] + counts[2] + counts[3] > MAX_RECORDS) throw new DnsError("too-large", `more than ${MAX_RECORDS} questions and records`);
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < counts[0]; i++) {
    const name = readName(r);
    const type = r.u16("a question");
    const klass = r.u16("a question");
    questions.push({ name, type, class: klass & 0x7fff });
  }
  const section = (n: number): DnsRecord[] => {
    const out: DnsRecord[] = [];
    for (let i = 0; i < n; i++) out.push(readRecord(r));
    return out;
  };
  const answers = section(counts[1]);
  const authorities = section(counts[2]);
  const additionals = section(counts[3]);
  return { id, flags, questions, answers, authorities, additionals };
}

/** The reply to our query `id`: a response, no error, same ID, else a typed error. */
export function decodeResponse(bytes: Uint8Array, id: number): DnsMessage {
  const m = decodeMessage(bytes);
  if ((m.flags & FLAG_QR) === 0) throw new DnsError("not-a-response", "a query, not a response");
  if (m.id !== id) throw new DnsError("wrong-id", `reply ID ${m.id} is not our query's ${id}`);
  const rcode = m.flags & 0xf;
  if (rcode !== 0) throw new DnsError("rcode", `responder answered with RCODE ${rcode}`);
  return m;
}

/** TXT strings as text (each byte a character: DNS-SD keys are ASCII). */
export function txtText(strings: readonly Uint8Array[]): string[] {
  return strings.map((s) => {
    let t = "";
    for (const b of s) t += String.fromCharCode(b);
    return t;
  });
}
