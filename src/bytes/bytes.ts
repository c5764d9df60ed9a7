// Byte helpers that run on every engine. XS on the board has no TextEncoder, Buffer or atob,
// so UTF-8, hex and base64 are done here by hand on Uint8Array.

export class Utf8Error extends Error {}

export function utf8(text: string): Uint8Array {
  // Measured first, then written into one Uint8Array: on XS a number[] holds a slot per byte in one
  // chunk (16 B per byte on the ESP32, 32 on the simulator) — encoding a 2 KB credential record that
  // way asked for a single 70 KB allocation and aborted a 64 KB chunk heap on the SDK's runtime.
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) length += 1;
    else if (c < 0x800) length += 2;
    else if (isHighSurrogate(c) && i + 1 < text.length && isLowSurrogate(text.charCodeAt(i + 1))) { length += 4; i++; }
    else length += 3; // BMP, and a lone surrogate (encoded as itself, as before)
  }
  const out = new Uint8Array(length);
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (isHighSurrogate(c) && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (isLowSurrogate(d)) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c < 0x80) out[o++] = c;
    else if (c < 0x800) { out[o++] = 0xc0 | (c >> 6); out[o++] = 0x80 | (c & 63); }
    else if (c < 0x10000) { out[o++] = 0xe0 | (c >> 12); out[o++] = 0x80 | ((c >> 6) & 63); out[o++] = 0x80 | (c & 63); }
    else { out[o++] = 0xf0 | (c >> 18); out[o++] = 0x80 | ((c >> 12) & 63); out[o++] = 0x80 | ((c >> 6) & 63); out[o++] = 0x80 | (c & 63); }
  }
  return out;
}

const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
const isLowSurrogate = (c: number): boolean => c >= 0xdc00 && c <= 0xdfff;

/** Code units per String.fromCharCode call in fromUtf8: few enough for the board's 512-slot stack. */
const PIECE = 64;

/** Strict UTF-8 decoding: overlong forms, surrogates and truncated sequences throw Utf8Error. */
export function fromUtf8(bytes: Uint8Array): string {
  // Pieces of PIECE code units joined once: appending one character at a time makes a new string
  // per character on XS (a 2 KB record churned 2 MB of chunk heap through the collector).
  const pieces: string[] = [];
  const units: number[] = [];
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    let c: number;
    let n: number;
    if (b < 0x80) { c = b; n = 0; }
    else if (b >= 0xc2 && b < 0xe0) { c = b & 0x1f; n = 1; }
    else if (b >= 0xe0 && b < 0xf0) { c = b & 0x0f; n = 2; }
    else if (b >= 0xf0 && b < 0xf5) { c = b & 0x07; n = 3; }
    else throw new Utf8Error(`invalid UTF-8 lead byte at ${i}`);
    for (let k = 1; k <= n; k++) {
      const cont = bytes[i + k];
      if (cont === undefined || (cont & 0xc0) !== 0x80) throw new Utf8Error(`invalid UTF-8 continuation at ${i + k}`);
      c = (c << 6) | (cont & 0x3f);
    }
    if ((n === 2 && c < 0x800) || (n === 3 && (c < 0x10000 || c > 0x10ffff)) || (c >= 0xd800 && c <= 0xdfff)) {
      throw new Utf8Error(`invalid UTF-8 code point at ${i}`);
    }
    if (c >= 0x10000) units.push(0xd800 + ((c - 0x10000) >> 10), 0xdc00 + ((c - 0x10000) & 0x3ff));
    else units.push(c);
    if (units.length >= PIECE) {
      pieces.push(String.fromCharCode.apply(null, units));
      units.length = 0;
    }
    i += n + 1;
  }
  if (units.length > 0) pieces.push(String.fromCharCode.apply(null, units));
  return pieces.join("");
}

const HEX = "0123456789abcdef";

export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += HEX[b >> 4]! + HEX[b & 15]!;
  return s;
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new Error("invalid hex string");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i]!, b = bytes[i + 1], c = bytes[i + 2];
    const n = (a << 16) | ((b ?? 0) << 8) | (c ?? 0);
    s += B64[n >> 18]! + B64[(n >> 12) & 63]! + (b === undefined ? "=" : B64[(n >> 6) & 63]!) + (c === undefined ? "=" : B64[n & 63]!);
  }
  return s;
}

export function fromBase64(text: string): Uint8Array {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new Error("invalid base64 string");
  const pad = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let n = 0;
    for (let k = 0; k < 4; k++) {
      const ch = text[i + k]!;
      n = (n << 6) | (ch === "=" ? 0 : B64.indexOf(ch));
    }
    if (o < out.length) out[o++] = n >> 16;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Equality whose time depends only on the lengths, not on where the bytes differ: for proofs and
 * MACs an attacker submits (an early exit would tell them how many leading bytes were right).
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

let crcTable: Uint32Array | undefined; // built lazily: a table made at preload would be read-only flash on the board

/** CRC-32 (IEEE 802.3, as zlib). */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (const b of bytes) crc = crcTable[(crc ^ b) & 255]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
