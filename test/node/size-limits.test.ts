// M7 (issue 14): MQTT and HTTP size limits sized for the board and set by the factory config.
// The measurement: every reply recorded from the real Mainflux bootstrap service
// (test/fixtures/mainflux-bootstrap/recorded.json) is replayed through the HTTP parser with the
// board defaults and must fit with the stated margin; a reply 4× the largest must not. The MQTT
// side: what the device receives (CONNACK, SUBACK, PUBACK, a rotation command) fits; a packet over
// the limit is refused before its body is buffered.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { BOARD_LIMITS } from "../../src/config/limits.js";
import { parseFactoryConfig, ConfigError } from "../../src/config/factory-config.js";
import { DEFAULT_HTTP_LIMITS, HttpError, ResponseParser } from "../../src/http/codec.js";
import { encodePacket, MqttDecodeError, PacketReader } from "../../src/mqtt/codec.js";

interface Exchange { status: number; headers: Record<string, string>; bodyText?: string; bodyHex?: string }
const recorded = JSON.parse(readFileSync(new URL("../fixtures/mainflux-bootstrap/recorded.json", import.meta.url), "utf8")) as { exchanges: Exchange[] }[];

function response(e: Exchange, body: Buffer): Buffer {
  const head = [`HTTP/1.1 ${e.status} X`, `content-type: ${e.headers["content-type"] ?? "application/json"}`, `content-length: ${body.length}`, "", ""].join("\r\n");
  return Buffer.concat([Buffer.from(head), body]);
}

test("M7: every recorded Mainflux reply fits the board's HTTP limit with at least 3× margin; one 4× the largest is refused", () => {
  let largest = 0;
  for (const config of recorded) {
    for (const e of config.exchanges) {
      const body = e.bodyHex !== undefined ? Buffer.from(e.bodyHex, "hex") : Buffer.from(e.bodyText ?? "", "utf8");
      largest = Math.max(largest, body.length);
      const parsed = new ResponseParser(DEFAULT_HTTP_LIMITS).push(new Uint8Array(response(e, body)));
      assert.ok(parsed, "parsed whole");
      assert.equal(parsed.body.length, body.length);
    }
  }
  process.stderr.write(`M7: largest recorded bootstrap reply ${largest} bytes; HTTP body limit ${DEFAULT_HTTP_LIMITS.maxBodyBytes} (${(DEFAULT_HTTP_LIMITS.maxBodyBytes / largest).toFixed(1)}×)\n`);
  assert.ok(largest > 4000, "the recordings include certificate-carrying replies");
  assert.ok(DEFAULT_HTTP_LIMITS.maxBodyBytes >= 3 * largest, "margin");
  assert.ok(DEFAULT_HTTP_LIMITS.maxBodyBytes <= 16 * 1024 && DEFAULT_HTTP_LIMITS.maxHeaderBytes <= 4 * 1024, "a few KB, not 64 KB");
  const huge = Buffer.alloc(4 * largest, 0x61);
  assert.throws(() => new ResponseParser(DEFAULT_HTTP_LIMITS).push(new Uint8Array(response({ status: 200, headers: {} }, huge))), (e: unknown) => e instanceof HttpError && e.code === "body-too-large");
});

test("M7: the board's MQTT limit takes what the device receives and refuses a larger packet before buffering it", () => {
  const reader = new PacketReader({ maxPacketSize: BOARD_LIMITS.mqttPacketBytes });
  const rotation = JSON.stringify({ rotate: { username: "u".repeat(64), password: "p".repeat(64), clientId: "c".repeat(64) } });
  for (const p of [
    encodePacket({ type: "connack", sessionPresent: true, returnCode: 0 }),
    encodePacket({ type: "suback", messageId: 1, granted: [1] }),
    encodePacket({ type: "publish", topic: "m/fleet-domain/c/82d774b7-24a7-4979-b320-ef2264d05f5f/cmd", payload: Buffer.from(rotation), qos: 1, retain: false, dup: false, messageId: 7 }),
  ]) {
    reader.push(p);
    assert.ok(reader.next(), "fits");
  }
  const big = encodePacket({ type: "publish", topic: "t", payload: new Uint8Array(BOARD_LIMITS.mqttPacketBytes), qos: 0, retain: false, dup: false });
  const r2 = new PacketReader({ maxPacketSize: BOARD_LIMITS.mqttPacketBytes });
  r2.push(big.subarray(0, 5)); // only the fixed header has arrived
  assert.throws(() => r2.next(), (e: unknown) => e instanceof MqttDecodeError && e.code === "oversize");
});

test("M7: the limits are factory config values with the board defaults; out-of-range values are refused by name", () => {
  const base = { chain: ["stored"], broker: { url: "mqtts://b.example:8883" } };
  assert.deepEqual(parseFactoryConfig(base).limits, BOARD_LIMITS);
  assert.deepEqual(parseFactoryConfig({ ...base, limits: { mqttPacketBytes: 8192 } }).limits, { ...BOARD_LIMITS, mqttPacketBytes: 8192 });
  for (const [limits, path] of [[{ mqttPacketBytes: 10 }, "limits.mqttPacketBytes"], [{ httpBodyBytes: 1e9 }, "limits.httpBodyBytes"], [{ httpHeaderBytes: "4k" }, "limits.httpHeaderBytes"], [{ mqtt: 1 }, "limits"]] as const) {
    assert.throws(() => parseFactoryConfig({ ...base, limits }), (e: unknown) => e instanceof ConfigError && e.path === path, JSON.stringify(limits));
  }
});
