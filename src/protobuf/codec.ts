// A small proto3 codec driven by message descriptors (see messages.ts). Enough for protocomm's
// fixed, small messages: varint scalars, bytes/strings, nested messages, oneofs, repeated
// messages. proto3 rules: a missing scalar decodes to its default (0, false, empty); an absent
// message field or oneof member decodes to undefined; unknown fields are skipped; anything
// malformed throws ProtobufError. Encoding omits default scalars except inside a oneof.
import { fromUtf8, utf8 } from "../bytes/bytes.js";

export type ScalarType = "uint32" | "int32" | "enum" | "bool" | "bytes" | "string";

export interface FieldDef {
  readonly no: number;
  readonly name: string;
  readonly type: ScalarType | MessageDef;
  readonly repeated?: boolean;
  /** Name of the oneof this field belongs to (members have explicit presence). */
  readonly oneof?: string;
}

export interface MessageDef {
  readonly name: string;
  readonly fields: readonly FieldDef[];
}

export type ProtoValue = number | boolean | string | Uint8Array | ProtoObject | readonly ProtoObject[] | undefined;
export interface ProtoObject {
  readonly [field: string]: ProtoValue;
}

export type ProtobufErrorKind = "truncated" | "varint-too-long" | "bad-wire-type" | "wire-type-mismatch" | "bad-field-number" | "bad-utf8";

export class ProtobufError extends Error {
  override readonly name = "ProtobufError";
  constructor(readonly kind: ProtobufErrorKind, message: string) {
    super(message);
  }
}

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

function wireTypeOf(type: FieldDef["type"]): number {
  return type === "bytes" || type === "string" || typeof type === "object" ? WIRE_LEN : WIRE_VARINT;
}

// ---- writer

class Writer {
  #chunks: number[] = [];
  #parts: Uint8Array[] = [];
  #length = 0;

  varint(value: number): void {
    if (value < 0) {
      // negative int32: 10-byte two's-complement sign extension, as protoc does
      let lo = value | 0;
      for (let i = 0; i < 4; i++) {
        this.#chunks.push((lo & 0x7f) | 0x80);
        lo >>>= 7;
      }
      // byte 5 carries bits 28..31 plus sign-extended high bits
      this.#chunks.push(((lo & 0x0f) | 0x70) | 0x80);
      for (let i = 0; i < 4; i++) this.#chunks.push(0xff);
      this.#chunks.push(0x01);
      return;
    }
    let v = value >>> 0;
    while (v > 0x7f) {
      this.#chunks.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    this.#chunks.push(v);
  }

  raw(bytes: Uint8Array): void {
    this.#flush();
    this.#parts.push(bytes);
    this.#length += bytes.length;
  }

  #flush(): void {
    if (this.#chunks.length === 0) return;
    const b = Uint8Array.from(this.#chunks);
    this.#parts.push(b);
    this.#length += b.length;
    this.#chunks = [];
  }

  finish(): Uint8Array {
    this.#flush();
    const out = new Uint8Array(this.#length);
    let at = 0;
    for (const p of this.#parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

function isDefault(type: ScalarType, value: ProtoValue): boolean {
  switch (type) {
    case "bytes":
      return (value as Uint8Array).length === 0;
    case "string":
      return (value as string).length === 0;
    case "bool":
      return value === false;
    default:
      return value === 0;
  }
}

function writeField(w: Writer, field: FieldDef, value: ProtoValue): void {
  const type = field.type;
  w.varint((field.no << 3) | wireTypeOf(type));
  if (typeof type === "object") {
    const body = encode(type, value as ProtoObject);
    w.varint(body.length);
    w.raw(body);
    return;
  }
  switch (type) {
    case "bytes": {
      const b = value as Uint8Array;
      w.varint(b.length);
      w.raw(b);
      return;
    }
    case "string": {
      const b = utf8(value as string);
      w.varint(b.length);
      w.raw(b);
      return;
    }
    case "bool":
      w.varint(value ? 1 : 0);
      return;
    case "uint32":
      w.varint((value as number) >>> 0);
      return;
    default:
      w.varint((value as number) | 0);
  }
}

/** Encode `value` (fields by name; missing ones are defaults) in field-number order. */
export function encode(def: MessageDef, value: ProtoObject): Uint8Array {
  const w = new Writer();
  const fields = [...def.fields].sort((a, b) => a.no - b.no);
  for (const field of fields) {
    const v = value[field.name];
    if (v === undefined) continue;
    if (field.repeated) {
      for (const item of v as readonly ProtoObject[]) writeField(w, { ...field, repeated: false }, item);
      continue;
    }
    if (typeof field.type !== "object" && field.oneof === undefined && isDefault(field.type, v)) continue;
    writeField(w, field, v);
  }
  return w.finish();
}

// ---- reader

class Reader {
  at = 0;
  constructor(readonly bytes: Uint8Array) {}

  get done(): boolean {
    return this.at >= this.bytes.length;
  }

  /** Low 32 bits of a varint (as protobuf does for 32-bit fields); at most 10 bytes. */
  varint(): number {
    let result = 0;
    for (let i = 0; i < 10; i++) {
      if (this.at >= this.bytes.length) throw new ProtobufError("truncated", "varint runs past the end");
      const b = this.bytes[this.at++]!;
      if (i < 5) result |= (b & 0x7f) << (7 * i);
      if ((b & 0x80) === 0) return result;
    }
    throw new ProtobufError("varint-too-long", "varint longer than 10 bytes");
  }

  take(n: number): Uint8Array {
    if (n < 0 || this.at + n > this.bytes.length) throw new ProtobufError("truncated", "length-delimited field runs past the end");
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_I64:
        this.take(8);
        return;
      case WIRE_LEN:
        this.take(this.varint() >>> 0);
        return;
      case WIRE_I32:
        this.take(4);
        return;
      default:
        throw new ProtobufError("bad-wire-type", `unsupported wire type ${wire}`);
    }
  }
}

function defaultOf(type: ScalarType): ProtoValue {
  switch (type) {
    case "bytes":
      return new Uint8Array(0);
    case "string":
      return "";
    case "bool":
      return false;
    default:
      return 0;
  }
}

/** Decode; the result has every field of `def` (defaults / undefined / []). */
export function decode<T = ProtoObject>(def: MessageDef, bytes: Uint8Array): T {
  return decodeOnto(def, bytes, undefined) as T;
}

/**
 * Decode `bytes` on top of `base` (a singular message field seen again on the wire): proto3 merges
 * field by field — scalars present replace, repeated fields append, nested messages merge.
 */
function decodeOnto(def: MessageDef, bytes: Uint8Array, base: ProtoObject | undefined): ProtoObject {
  const out: Record<string, ProtoValue> = {};
  const byNo = new Map<number, FieldDef>();
  for (const f of def.fields) {
    byNo.set(f.no, f);
    const earlier = base?.[f.name];
    if (f.repeated) out[f.name] = earlier === undefined ? [] : [...(earlier as ProtoObject[])];
    else if (base !== undefined) out[f.name] = earlier;
    else if (typeof f.type === "object" || f.oneof !== undefined) out[f.name] = undefined;
    else out[f.name] = defaultOf(f.type);
  }
  const r = new Reader(bytes);
  while (!r.done) {
    const key = r.varint() >>> 0;
    const no = key >>> 3;
    const wire = key & 7;
    if (no === 0) throw new ProtobufError("bad-field-number", "field number 0");
    const field = byNo.get(no);
    if (field === undefined) {
      r.skip(wire);
      continue;
    }
    if (wire !== wireTypeOf(field.type)) {
      throw new ProtobufError("wire-type-mismatch", `${def.name}.${field.name}: wire type ${wire}`);
    }
    let value: ProtoValue;
    const type = field.type;
    if (typeof type === "object") {
      const body = r.take(r.varint() >>> 0);
      const existing = field.repeated ? undefined : out[field.name];
      value = decodeOnto(type, body, existing === undefined ? undefined : existing as ProtoObject);
    } else if (type === "bytes") {
      value = new Uint8Array(r.take(r.varint() >>> 0)); // a plain copy, even from a Buffer
    } else if (type === "string") {
      const b = r.take(r.varint() >>> 0);
      try {
        value = fromUtf8(b);
      } catch {
        throw new ProtobufError("bad-utf8", `${def.name}.${field.name}: invalid UTF-8`);
      }
    } else {
      const v = r.varint();
      value = type === "bool" ? v !== 0 : type === "uint32" ? v >>> 0 : v | 0;
    }
    if (field.repeated) (out[field.name] as ProtoObject[]).push(value as ProtoObject);
    else {
      if (field.oneof !== undefined) {
        for (const other of def.fields) if (other.oneof === field.oneof && other !== field) out[other.name] = undefined;
      }
      out[field.name] = value;
    }
  }
  return out;
}
