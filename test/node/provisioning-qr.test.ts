// The terminal QR encoder: structure checks (finder patterns, timing, version choice). Decoding
// was verified with an independent decoder (jsQR 1.4.0) for versions 1–10 during development.
import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeQr, renderQr } from "../../host-sim/provisioning/qr-code.js";
import { qrPayload } from "../../src/provisioning/qr.js";

test("provisioning QR: version by length, finder and timing patterns in place", () => {
  const payload = qrPayload({ name: "PROV_1a2b3c", pop: "abcd1234", transport: "ble", security: 2, username: "wifiprov" });
  const m = encodeQr(new TextEncoder().encode(payload));
  assert.equal(m.length, 37, "90 bytes at level L → version 5 (37×37)");
  assert.equal(encodeQr(new TextEncoder().encode("hi")).length, 21, "version 1");
  for (const [ox, oy] of [[0, 0], [m.length - 7, 0], [0, m.length - 7]] as const) {
    for (let i = 0; i < 7; i++) {
      assert.equal(m[oy]![ox + i], true, "finder top edge");
      assert.equal(m[oy + 6]![ox + i], true, "finder bottom edge");
      assert.equal(m[oy + i]![ox], true, "finder left edge");
    }
    assert.equal(m[oy + 3]![ox + 3], true, "finder centre");
    assert.equal(m[oy + 1]![ox + 1], false, "finder light ring");
  }
  for (let i = 8; i < m.length - 8; i++) assert.equal(m[6]![i], i % 2 === 0, "timing row");
  assert.throws(() => encodeQr(new Uint8Array(300)), RangeError);
  assert.ok(renderQr(payload).split("\n").length >= 19);
});
