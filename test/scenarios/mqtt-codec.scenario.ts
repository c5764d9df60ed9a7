// The MQTT 3.1.1 codec on every engine: round trips of each packet type, byte-exact vectors
// worked out by hand from the standard, stream framing at every split point, and malformed
// input refused with the expected typed error. The differential tests against mqtt-packet are in
// test/node/mqtt-codec.test.ts; these run inside XS too.
import { utf8 } from "../../src/bytes/bytes.js";
import {
  decodePacket, encodePacket, MqttDecodeError, MqttEncodeError, PacketReader,
  type MqttDecodeErrorCode, type MqttEncodeErrorCode, type MqttPacket,
} from "../../src/mqtt/codec.js";
import { Secret } from "../../src/secrets/secret.js";
import { check, checkEqual, checkThrows, type Scenario } from "./harness.js";

const ascii = (s: string): number[] => Array.from(utf8(s));
const bytes = (...parts: (number | number[])[]): Uint8Array => Uint8Array.from(parts.flat());

/** One packet of every type; CONNECT twice (bare, and with everything optional present). */
const SAMPLES: readonly MqttPacket[] = [
  { type: "connect", clientId: "node0001", cleanSession: false, keepalive: 30 },
  {
    type: "connect", clientId: "", cleanSession: true, keepalive: 65535, username: "user-é", password: Secret.fromString("pw"),
    will: { topic: "devices/node0001/status", payload: utf8('{"online":false}'), qos: 1, retain: true },
  },
  { type: "connack", sessionPresent: true, returnCode: 0 },
  { type: "connack", sessionPresent: false, returnCode: 5 },
  { type: "publish", topic: "t/😀", payload: new Uint8Array(0), qos: 0, retain: false, dup: false },
  { type: "publish", topic: "a/b", payload: bytes(0, 255, 1), qos: 1, retain: true, dup: true, messageId: 65535 },
  { type: "publish", topic: "/", payload: utf8("once"), qos: 2, retain: false, dup: false, messageId: 1 },
  { type: "puback", messageId: 7 },
  { type: "pubrec", messageId: 8 },
  { type: "pubrel", messageId: 9 },
  { type: "pubcomp", messageId: 10 },
  { type: "subscribe", messageId: 11, subscriptions: [{ topic: "cmd/+/x", qos: 1 }, { topic: "#", qos: 2 }, { topic: "a/b", qos: 0 }] },
  { type: "suback", messageId: 11, granted: [1, 0x80, 2, 0] },
  { type: "unsubscribe", messageId: 12, topics: ["cmd/+/x", "#"] },
  { type: "unsuback", messageId: 12 },
  { type: "pingreq" },
  { type: "pingresp" },
  { type: "disconnect" },
];

/** The harness compares Secrets as equal whatever they hold: compare password bytes instead. */
function checkSamePacket(actual: MqttPacket, expected: MqttPacket, message: string): void {
  if (actual.type === "connect" && expected.type === "connect") {
    const { password: a, ...restA } = actual;
    const { password: e, ...restE } = expected;
    checkEqual(restA, restE, message);
    checkEqual(a?.revealBytes(), e?.revealBytes(), `${message}: password`);
    return;
  }
  checkEqual(actual, expected, message);
}

function decodeError(fn: () => unknown, code: MqttDecodeErrorCode, message: string): MqttDecodeError {
  const e = checkThrows(fn, MqttDecodeError, message);
  checkEqual(e.code, code, `${message}: code`);
  return e;
}

function encodeError(packet: unknown, code: MqttEncodeErrorCode, message: string): void {
  const e = checkThrows(() => encodePacket(packet as MqttPacket), MqttEncodeError, message);
  checkEqual(e.code, code, `${message}: code`);
}

/** Packets from `reader` after pushing each piece in turn. */
function readAll(reader: PacketReader, pieces: readonly Uint8Array[]): MqttPacket[] {
  const out: MqttPacket[] = [];
  for (const piece of pieces) {
    reader.push(piece);
    for (let p = reader.next(); p !== undefined; p = reader.next()) out.push(p);
  }
  return out;
}

const pub = (extra: object) => ({ type: "publish", topic: "t", payload: new Uint8Array(0), qos: 0, retain: false, dup: false, ...extra });

export const scenarios: Scenario[] = [
  {
    name: "mqtt codec: every packet type round-trips",
    run() {
      for (const packet of SAMPLES) {
        const encoded = encodePacket(packet);
        checkSamePacket(decodePacket(encoded), packet, `${packet.type} round trip`);
        checkEqual(encodePacket(decodePacket(encoded)), encoded, `${packet.type} re-encodes to the same bytes`);
      }
    },
  },
  {
    name: "mqtt codec: encodings match the standard byte for byte",
    run() {
      const vectors: [MqttPacket, Uint8Array][] = [
        [{ type: "connect", clientId: "c", cleanSession: true, keepalive: 60 }, bytes(0x10, 13, 0, 4, ascii("MQTT"), 4, 0x02, 0, 60, 0, 1, ascii("c"))],
        [
          { type: "connect", clientId: "c", cleanSession: false, keepalive: 0, username: "u", password: Secret.fromString("p"), will: { topic: "w", payload: bytes(9), qos: 2, retain: true } },
          // flags: username 0x80 | password 0x40 | will retain 0x20 | will QoS 2 0x10 | will 0x04
          bytes(0x10, 25, 0, 4, ascii("MQTT"), 4, 0xf4, 0, 0, 0, 1, ascii("c"), 0, 1, ascii("w"), 0, 1, 9, 0, 1, ascii("u"), 0, 1, ascii("p")),
        ],
        [{ type: "connack", sessionPresent: true, returnCode: 0 }, bytes(0x20, 2, 1, 0)],
        [{ type: "publish", topic: "a/b", payload: utf8("hi"), qos: 1, retain: true, dup: true, messageId: 10 }, bytes(0x3b, 9, 0, 3, ascii("a/b"), 0, 10, ascii("hi"))],
        [{ type: "puback", messageId: 0x1234 }, bytes(0x40, 2, 0x12, 0x34)],
        [{ type: "pubrec", messageId: 1 }, bytes(0x50, 2, 0, 1)],
        [{ type: "pubrel", messageId: 1 }, bytes(0x62, 2, 0, 1)],
        [{ type: "pubcomp", messageId: 1 }, bytes(0x70, 2, 0, 1)],
        [{ type: "subscribe", messageId: 1, subscriptions: [{ topic: "a/+", qos: 1 }] }, bytes(0x82, 8, 0, 1, 0, 3, ascii("a/+"), 1)],
        [{ type: "suback", messageId: 1, granted: [0x80] }, bytes(0x90, 3, 0, 1, 0x80)],
        [{ type: "unsubscribe", messageId: 2, topics: ["#"] }, bytes(0xa2, 5, 0, 2, 0, 1, ascii("#"))],
        [{ type: "unsuback", messageId: 2 }, bytes(0xb0, 2, 0, 2)],
        [{ type: "pingreq" }, bytes(0xc0, 0)],
        [{ type: "pingresp" }, bytes(0xd0, 0)],
        [{ type: "disconnect" }, bytes(0xe0, 0)],
      ];
      for (const [packet, expected] of vectors) {
        checkEqual(encodePacket(packet), expected, `${packet.type} bytes`);
        checkSamePacket(decodePacket(expected), packet, `${packet.type} from bytes`);
      }
    },
  },
  {
    name: "mqtt codec: remaining length in 1, 2 and 3 bytes at its boundaries",
    run() {
      // topic "t" (3 bytes) + payload: remaining lengths 127 | 128 and 16383 | 16384
      for (const [remaining, headerSize] of [[127, 2], [128, 3], [16383, 3], [16384, 4]] as const) {
        const packet: MqttPacket = { type: "publish", topic: "t", payload: new Uint8Array(remaining - 3).fill(0xa5), qos: 0, retain: false, dup: false };
        const encoded = encodePacket(packet);
        checkEqual(encoded.length, remaining + headerSize, `remaining length ${remaining}`);
        checkSamePacket(decodePacket(encoded), packet, `remaining length ${remaining} round trip`);
      }
      // a longer encoding than needed is tolerated (3.1.1 does not forbid it): 0x80 0x00 is 0
      checkEqual(decodePacket(bytes(0xc0, 0x80, 0x00)), { type: "pingreq" }, "non-minimal remaining length");
    },
  },
  {
    name: "mqtt codec: the reader frames a stream split at any byte, or many packets at once",
    run() {
      const stream = bytes(...SAMPLES.map((p) => Array.from(encodePacket(p))));
      const all = readAll(new PacketReader(), [stream]);
      checkEqual(all.length, SAMPLES.length, "all packets from one chunk");
      all.forEach((p, i) => checkSamePacket(p, SAMPLES[i]!, `packet ${i} from one chunk`));
      for (let cut = 0; cut <= stream.length; cut++) {
        const got = readAll(new PacketReader(), [stream.subarray(0, cut), stream.subarray(cut)]);
        checkEqual(got.length, SAMPLES.length, `cut at ${cut}`);
        got.forEach((p, i) => checkSamePacket(p, SAMPLES[i]!, `cut at ${cut}, packet ${i}`));
      }
      const reader = new PacketReader();
      const oneByOne = readAll(reader, Array.from(stream, (b) => bytes(b)));
      checkEqual(oneByOne.map((p) => p.type), SAMPLES.map((p) => p.type), "byte by byte");
      checkEqual(reader.bufferedBytes, 0, "nothing left over");
    },
  },
  {
    name: "mqtt codec: malformed input is refused with a typed code",
    run() {
      const cases: [MqttDecodeErrorCode, Uint8Array, string][] = [
        ["unknown-type", bytes(0xf0, 0), "type 15"],
        ["reserved-flags", bytes(0x80, 3, 0, 1, 0), "SUBSCRIBE flags 0"],
        ["reserved-flags", bytes(0x20, 2, 0x02, 0), "CONNACK reserved flag bit"],
        ["reserved-flags", bytes(0x10, 13, 0, 4, ascii("MQTT"), 4, 0x03, 0, 60, 0, 1, ascii("c")), "CONNECT reserved flag bit 0"],
        ["malformed-remaining-length", bytes(0x30, 0xff, 0xff, 0xff, 0xff, 0x01), "five length bytes"],
        ["trailing-bytes", bytes(0x40, 3, 0, 1, 0), "PUBACK of three bytes"],
        ["truncated", bytes(0x30, 3, 0, 5, 0x61), "topic running past the packet"],
        ["bad-utf8", bytes(0x30, 4, 0, 2, 0xc0, 0x80), "overlong NUL in a topic"],
        ["bad-qos", bytes(0x36, 5, 0, 1, ascii("t"), 0, 1), "PUBLISH QoS 3"],
        ["bad-qos", bytes(0x90, 3, 0, 1, 3), "SUBACK code 3"],
        ["bad-topic", bytes(0x30, 5, 0, 3, ascii("a/#")), "wildcard in a PUBLISH topic"],
        ["bad-message-id", bytes(0x40, 2, 0, 0), "PUBACK id 0"],
        ["protocol", bytes(0x38, 3, 0, 1, ascii("t")), "DUP at QoS 0"],
        ["protocol", bytes(0x82, 2, 0, 1), "SUBSCRIBE without filters"],
        ["protocol", bytes(0x10, 17, 0, 4, ascii("MQTT"), 4, 0x42, 0, 60, 0, 1, ascii("c"), 0, 2, ascii("pw")), "password without username"],
        ["unsupported-protocol", bytes(0x10, 15, 0, 6, ascii("MQIsdp"), 3, 0x02, 0, 60, 0, 1, ascii("c")), "MQTT 3.1"],
      ];
      for (const [code, input, what] of cases) {
        decodeError(() => decodePacket(input), code, what);
        const reader = new PacketReader();
        reader.push(input);
        const first = decodeError(() => reader.next(), code, `${what} (reader)`);
        reader.push(encodePacket({ type: "pingresp" }));
        const again = checkThrows(() => reader.next(), MqttDecodeError, `${what}: the reader stays failed`);
        check(again === first, `${what}: the same error again`);
      }
      decodeError(() => decodePacket(bytes(0x40, 2, 0)), "truncated", "a whole packet cut short");
      const waiting = new PacketReader();
      waiting.push(bytes(0x40, 2, 0));
      checkEqual(waiting.next(), undefined, "a reader waits for the rest instead");
    },
  },
  {
    name: "mqtt codec: an oversize packet is refused from its header, before its body arrives",
    run() {
      const reader = new PacketReader({ maxPacketSize: 1024 });
      reader.push(bytes(0x30, 0xfe)); // header not complete yet
      checkEqual(reader.next(), undefined, "waits for the rest of the length");
      reader.push(bytes(0x07)); // 1022 + 3 = 1025 bytes announced
      decodeError(() => reader.next(), "oversize", "1025 > 1024");
      checkEqual(reader.bufferedBytes, 0, "nothing kept");
      const huge = new PacketReader();
      huge.push(bytes(0x30, 0xff, 0xff, 0xff, 0x7f));
      decodeError(() => huge.next(), "oversize", "256 MiB announced against the default limit");
    },
  },
  {
    name: "mqtt codec: the encoder refuses packets that break MQTT 3.1.1",
    run() {
      encodeError(pub({ topic: "a/+" }), "bad-topic", "wildcard in a PUBLISH topic");
      encodeError(pub({ qos: 1 }), "bad-message-id", "QoS 1 without a packet identifier");
      encodeError(pub({ qos: 1, messageId: 0 }), "bad-message-id", "packet identifier 0");
      encodeError(pub({ dup: true }), "protocol", "DUP at QoS 0");
      encodeError(pub({ qos: 3, messageId: 1 }), "bad-qos", "QoS 3");
      encodeError(pub({ topic: "a\u0000" }), "bad-string", "U+0000 in a topic");
      encodeError({ type: "subscribe", messageId: 1, subscriptions: [] }, "protocol", "SUBSCRIBE without filters");
      encodeError({ type: "subscribe", messageId: 1, subscriptions: [{ topic: "a/#/b", qos: 0 }] }, "bad-topic", "# not last");
      encodeError({ type: "connect", clientId: "c", cleanSession: true, keepalive: 60, password: Secret.fromString("pw") }, "protocol", "password without username");
      encodeError({ type: "connect", clientId: "c", cleanSession: true, keepalive: 65536 }, "bad-field", "keepalive too large");
      encodeError({ type: "connect", clientId: "x".repeat(65536), cleanSession: true, keepalive: 0 }, "bad-string", "client ID over 65535 bytes");
      encodeError({ type: "auth" }, "unknown-type", "MQTT 5 AUTH");
    },
  },
  {
    name: "mqtt codec: the CONNECT password stays a Secret and out of error messages",
    run() {
      const connect: MqttPacket = { type: "connect", clientId: "c", cleanSession: true, keepalive: 60, username: "u", password: Secret.fromString("hunter2") };
      const encoded = encodePacket(connect);
      const decoded = decodePacket(encoded);
      check(decoded.type === "connect", "a CONNECT");
      check(decoded.password instanceof Secret, "password decoded as a Secret");
      checkEqual(String(decoded.password), "[redacted]", "prints redacted");
      check(JSON.stringify(decoded).indexOf("hunter2") < 0, "JSON shows no password");
      checkEqual(decoded.password.revealString(), "hunter2", "the bytes are intact");
      // cut the packet inside the password, and spoil the flags: errors name no content
      const cut = encoded.subarray(0, encoded.length - 2);
      const truncated = decodeError(() => decodePacket(bytes(0x10, cut.length - 2, Array.from(cut.subarray(2)))), "truncated", "password cut short");
      check(truncated.message.indexOf("hunter") < 0, "no password in the message");
      const spoiled = encoded.slice();
      spoiled[9] = 0x42; // password flag without username flag
      const refused = decodeError(() => decodePacket(spoiled), "protocol", "password without username");
      check(refused.message.indexOf("hunter") < 0, "no password in the message");
    },
  },
];
