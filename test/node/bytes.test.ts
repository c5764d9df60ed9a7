// src/bytes: UTF-8 both ways against Node's own encoder and strict decoder (TextEncoder,
// TextDecoder with fatal: true — the WHATWG rules), over random text and random bytes, and across
// the lengths where fromUtf8 cuts its output into pieces.
import assert from "node:assert/strict";
import { test } from "node:test";
import { fromUtf8, utf8, Utf8Error } from "../../src/bytes/bytes.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A deterministic generator, so a failure names a reproducible case. */
function generator(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
}

function randomText(next: () => number, length: number): string {
  let s = "";
  while (s.length < length) {
    const kind = next() % 5;
    if (kind === 0) s += String.fromCharCode(next() % 0x80);
    else if (kind === 1) s += String.fromCharCode(0x80 + (next() % 0x780));
    else if (kind === 2) { const c = 0x800 + (next() % (0x10000 - 0x800)); if (c < 0xd800 || c > 0xdfff) s += String.fromCharCode(c); }
    else s += String.fromCodePoint(0x10000 + (next() % 0x100000));
  }
  return s;
}

test("utf8() gives TextEncoder's bytes and fromUtf8() gives the text back, at every length around its piece size", () => {
  const next = generator(0x5eed);
  for (const length of [0, 1, 2, 63, 64, 65, 127, 128, 129, 1000, 5000]) {
    for (let round = 0; round < 20; round++) {
      const text = randomText(next, length);
      const bytes = utf8(text);
      assert.deepEqual(bytes, new Uint8Array(encoder.encode(text)), `encode, length ${length} round ${round}`);
      assert.equal(fromUtf8(bytes), text, `decode, length ${length} round ${round}`);
    }
  }
});

test("fromUtf8() refuses exactly what a fatal TextDecoder refuses (overlong, surrogates, above U+10FFFF, truncated), with Utf8Error", () => {
  const next = generator(0xbad5);
  let refused = 0;
  for (let round = 0; round < 20_000; round++) {
    const bytes = new Uint8Array(1 + (next() % 8));
    for (let i = 0; i < bytes.length; i++) {
      // mostly the bytes around the UTF-8 boundaries, where the rules are
      const pick = next() % 4;
      bytes[i] = pick === 0 ? next() % 0x80 : pick === 1 ? 0x80 + (next() % 0x40) : 0xc0 + (next() % 0x40);
    }
    let expected: string | undefined;
    try { expected = decoder.decode(bytes); } catch { expected = undefined; }
    if (expected === undefined) {
      refused++;
      assert.throws(() => fromUtf8(bytes), Utf8Error, `accepted ${Buffer.from(bytes).toString("hex")}`);
    } else {
      assert.equal(fromUtf8(bytes), expected, `decoded ${Buffer.from(bytes).toString("hex")} differently`);
    }
  }
  assert.ok(refused > 1000, `only ${refused} malformed inputs: the comparison has no teeth`);
});

// Self-derived, not an oracle: the expected bytes are the firmware's own earlier behaviour (the
// surrogate's code point in the 3-byte form), written down so the rewrite keeps it.
test("utf8() keeps a lone surrogate as its 3-byte form (what the firmware always did; TextEncoder would write U+FFFD)", () => {
  assert.deepEqual([...utf8("a\ud800b")], [0x61, 0xed, 0xa0, 0x80, 0x62]);
  assert.deepEqual([...utf8("\udc00")], [0xed, 0xb0, 0x80]);
});
