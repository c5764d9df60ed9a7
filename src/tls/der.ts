// A strict DER reader: just what X.509 certificates and ECDSA signatures need. Every element is
// bounds-checked against its container; anything else is a typed error, never a crash.

export class DerError extends Error {
  readonly code = "bad-der";
}

export interface Element {
  readonly tag: number;
  /** Offset of the tag byte (the element's encoding is bytes[start, end)). */
  readonly start: number;
  /** Offset of the first content byte. */
  readonly body: number;
  readonly end: number;
}

/** The element at `at`, which must end by `limit`. Definite, minimal-enough lengths only (≤ 3 length bytes). */
export function element(der: Uint8Array, at: number, limit: number): Element {
  if (at + 2 > limit) throw new DerError("DER element runs past its container");
  const tag = der[at]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError("multi-byte DER tags are not used here");
  let length = der[at + 1]!;
  let body = at + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 3 || body + n > limit) throw new DerError("unsupported DER length");
    if (der[body] === 0) throw new DerError("non-minimal DER length");
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + der[body + i]!;
    if (length < 0x80) throw new DerError("non-minimal DER length");
    body += n;
  }
  if (body + length > limit) throw new DerError("DER element runs past its container");
  return { tag, start: at, body, end: body + length };
}

/** Reads the children of a constructed element in order. */
export class DerReader {
  #at: number;
  constructor(readonly der: Uint8Array, parent: Element) {
    this.#at = parent.body;
    this.limit = parent.end;
  }
  readonly limit: number;

  get more(): boolean { return this.#at < this.limit; }

  /** The next child; when `tag` is given it must match. */
  next(tag?: number, what = "element"): Element {
    if (!this.more) throw new DerError(`${what} missing`);
    const e = element(this.der, this.#at, this.limit);
    if (tag !== undefined && e.tag !== tag) throw new DerError(`${what}: unexpected tag 0x${e.tag.toString(16)}`);
    this.#at = e.end;
    return e;
  }

  /** The next child if it has this tag (optional fields such as [0] version). */
  optional(tag: number): Element | undefined {
    if (!this.more || this.der[this.#at] !== tag) return undefined;
    return this.next(tag);
  }

  end(what: string): void {
    if (this.more) throw new DerError(`${what}: trailing data`);
  }
}

export function root(der: Uint8Array, tag: number, what: string): Element {
  const e = element(der, 0, der.length);
  if (e.tag !== tag) throw new DerError(`${what}: unexpected tag`);
  if (e.end !== der.length) throw new DerError(`${what}: trailing data`);
  return e;
}

export function contents(der: Uint8Array, e: Element): Uint8Array {
  return der.subarray(e.body, e.end);
}

export function encoding(der: Uint8Array, e: Element): Uint8Array {
  return der.subarray(e.start, e.end);
}

/** Dotted OID text, e.g. "1.2.840.10045.2.1". */
export function oid(der: Uint8Array, e: Element): string {
  if (e.tag !== 0x06 || e.end === e.body) throw new DerError("not an OBJECT IDENTIFIER");
  const parts: number[] = [];
  let value = 0;
  for (let i = e.body; i < e.end; i++) {
    const b = der[i]!;
    if (value === 0 && b === 0x80) throw new DerError("non-minimal OID component");
    value = value * 128 + (b & 0x7f);
    if (value > 0xffffffff) throw new DerError("OID component too large");
    if ((b & 0x80) === 0) {
      if (parts.length === 0) parts.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80);
      else parts.push(value);
      value = 0;
    } else if (i === e.end - 1) {
      throw new DerError("truncated OID");
    }
  }
  return parts.join(".");
}

/** A positive INTEGER's magnitude (leading zero octet stripped); negative or empty integers are errors. */
export function unsignedInteger(der: Uint8Array, e: Element): Uint8Array {
  if (e.tag !== 0x02 || e.end === e.body) throw new DerError("not an INTEGER");
  if (der[e.body]! & 0x80) throw new DerError("negative INTEGER");
  let start = e.body;
  if (der[start] === 0 && start + 1 < e.end) {
    if (!(der[start + 1]! & 0x80)) throw new DerError("non-minimal INTEGER");
    start++;
  }
  return der.subarray(start, e.end);
}

/** A BIT STRING's bytes; only whole-byte strings (0 unused bits) are accepted where keys and signatures live. */
export function bitStringBytes(der: Uint8Array, e: Element): Uint8Array {
  if (e.tag !== 0x03 || e.end === e.body) throw new DerError("not a BIT STRING");
  if (der[e.body] !== 0) throw new DerError("BIT STRING with unused bits");
  return der.subarray(e.body + 1, e.end);
}
