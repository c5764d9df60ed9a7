// Differential tests of src/mqtt/codec.ts against mqtt-packet (the codec MQTT.js and Aedes use):
// (a) what we encode, mqtt-packet parses to the same packet and would itself encode to the same
// bytes; (b) what mqtt-packet generates, we decode to what mqtt-packet parses; (c) the same
// streams cut at random points through PacketReader; (d) malformed input: every error code,
// truncation at every length, random mutations, oversize announcements. Seeded, so repeatable.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import mqttPacket from "mqtt-packet";
import type { Packet as MpPacket } from "mqtt-packet";
import { utf8 } from "../../src/bytes/bytes.js";
import {
  decodePacket, DEFAULT_MAX_PACKET_SIZE, encodePacket, MAX_REMAINING_LENGTH, MqttDecodeError, MqttEncodeError, PacketReader,
  type MqttDecodeErrorCode, type MqttEncodeErrorCode, type MqttPacket, type MqttPacketType, type QoS, type SubackCode,
} from "../../src/mqtt/codec.js";
import { Secret } from "../../src/secrets/secret.js";
import { plainPacket } from "../../host-sim/fuzz/targets/mqtt-codec.js";

// ---------------------------------------------------------------------------------------------
// Seeded randomness

class Rand {
  #state: number;
  constructor(seed: number) { this.#state = seed >>> 0; }

  /** mulberry32: small, fast, good enough to pick test cases. */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(min: number, max: number): number { return min + Math.floor(this.next() * (max - min + 1)); }
  bool(p = 0.5): boolean { return this.next() < p; }
  pick<T>(items: readonly T[]): T { return items[Math.floor(this.next() * items.length)]!; }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(this.next() * 256);
    return out;
  }
}

const TYPES: readonly MqttPacketType[] = [
  "connect", "connack", "publish", "puback", "pubrec", "pubrel", "pubcomp",
  "subscribe", "suback", "unsubscribe", "unsuback", "pingreq", "pingresp", "disconnect",
];

// Characters of 1 to 4 UTF-8 bytes, control characters included (legal, if discouraged); never
// U+0000, a lone surrogate, "/" or a wildcard: those are placed deliberately.
const CHARS = ["a", "b", "Z", "0", "9", "-", "_", ".", " ", "$", "\u0001", "\u007f", "é", "ß", "\u00a0", "中", "\uffff", "😀", "\u{10ffff}"];

function randText(r: Rand, maxChars: number): string {
  const n = r.bool(0.1) ? 0 : r.int(1, maxChars);
  let s = "";
  for (let i = 0; i < n; i++) s += r.pick(CHARS);
  return s;
}

function randTopicName(r: Rand): string {
  const levels: string[] = [];
  for (let i = r.int(1, 5); i > 0; i--) levels.push(randText(r, 8));
  const topic = levels.join("/");
  return topic === "" ? "x" : topic;
}

function randTopicFilter(r: Rand): string {
  if (r.bool(0.05)) return "#";
  const levels: string[] = [];
  for (let i = r.int(1, 5); i > 0; i--) levels.push(r.bool(0.2) ? "+" : randText(r, 8));
  if (r.bool(0.2)) levels.push("#");
  const filter = levels.join("/");
  return filter === "" ? "+" : filter;
}

function randPayload(r: Rand): Uint8Array {
  const roll = r.next();
  if (roll < 0.1) return new Uint8Array(0);
  if (roll < 0.97) return r.bytes(r.int(1, 300));
  return r.bytes(r.int(16_000, 70_000)); // three-byte remaining lengths
}

const randId = (r: Rand): number => (r.bool(0.1) ? r.pick([1, 255, 256, 65535]) : r.int(1, 65535));
const randQos = (r: Rand): QoS => r.pick([0, 1, 2] as const);

function randPacket(r: Rand, type: MqttPacketType): MqttPacket {
  switch (type) {
    case "connect": {
      const clientId = r.bool(0.9) ? randText(r, 30) : "";
      const username = r.bool(0.6) ? randText(r, 20) : undefined;
      return {
        type, clientId, cleanSession: clientId === "" || r.bool(),
        keepalive: r.bool(0.2) ? r.pick([0, 1, 65535]) : r.int(0, 65535),
        ...(username !== undefined ? { username } : {}),
        ...(username !== undefined && r.bool(0.7) ? { password: Secret.fromBytes(r.bytes(r.int(0, 64))) } : {}),
        ...(r.bool() ? { will: { topic: randTopicName(r), payload: randPayload(r), qos: randQos(r), retain: r.bool() } } : {}),
      };
    }
    case "connack": {
      const returnCode = r.bool(0.8) ? r.int(0, 5) : r.int(6, 255);
      return { type, sessionPresent: returnCode === 0 && r.bool(), returnCode };
    }
    case "publish": {
      const qos = randQos(r);
      const base = { type, topic: randTopicName(r), payload: randPayload(r), qos, retain: r.bool(), dup: qos > 0 && r.bool() } as const;
      return qos > 0 ? { ...base, messageId: randId(r) } : base;
    }
    case "subscribe": {
      const subscriptions = Array.from({ length: r.int(1, 6) }, () => ({ topic: randTopicFilter(r), qos: randQos(r) }));
      return { type, messageId: randId(r), subscriptions };
    }
    case "suback":
      return { type, messageId: randId(r), granted: Array.from({ length: r.int(1, 8) }, () => r.pick([0, 1, 2, 0x80] as const)) };
    case "unsubscribe":
      return { type, messageId: randId(r), topics: Array.from({ length: r.int(1, 6) }, () => randTopicFilter(r)) };
    case "puback": case "pubrec": case "pubrel": case "pubcomp": case "unsuback":
      return { type, messageId: randId(r) };
    case "pingreq": case "pingresp": case "disconnect":
      return { type };
  }
}

// ---------------------------------------------------------------------------------------------
// Translation between our packets and mqtt-packet's

type MpObject = Record<string, unknown>;

const toBuffer = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length);
/** A plain Uint8Array copy: deepStrictEqual tells a Buffer from a Uint8Array. */
const plain = (b: unknown): Uint8Array => (typeof b === "string" ? utf8(b) : new Uint8Array(b as Uint8Array));

function toMqttPacket(p: MqttPacket): MpPacket {
  const o: MpObject = { cmd: p.type };
  switch (p.type) {
    case "connect":
      Object.assign(o, { protocolId: "MQTT", protocolVersion: 4, clientId: p.clientId, clean: p.cleanSession, keepalive: p.keepalive });
      if (p.username !== undefined) o.username = p.username;
      if (p.password !== undefined) o.password = toBuffer(p.password.revealBytes());
      if (p.will) o.will = { topic: p.will.topic, payload: toBuffer(p.will.payload), qos: p.will.qos, retain: p.will.retain };
      break;
    case "connack": Object.assign(o, { sessionPresent: p.sessionPresent, returnCode: p.returnCode }); break;
    case "publish":
      Object.assign(o, { topic: p.topic, payload: toBuffer(p.payload), qos: p.qos, retain: p.retain, dup: p.dup });
      if (p.messageId !== undefined) o.messageId = p.messageId;
      break;
    case "subscribe": Object.assign(o, { messageId: p.messageId, subscriptions: p.subscriptions.map((s) => ({ ...s })) }); break;
    case "suback": Object.assign(o, { messageId: p.messageId, granted: [...p.granted] }); break;
    case "unsubscribe": Object.assign(o, { messageId: p.messageId, unsubscriptions: [...p.topics] }); break;
    case "puback": case "pubrec": case "pubrel": case "pubcomp": case "unsuback": o.messageId = p.messageId; break;
    case "pingreq": case "pingresp": case "disconnect": break;
  }
  return o as unknown as MpPacket;
}

/** A parsed mqtt-packet packet in our comparable shape (see `comparable`). */
function fromMqttPacket(mp: MpPacket): unknown {
  const m = mp as unknown as MpObject;
  const type = m.cmd as MqttPacketType;
  switch (type) {
    case "connect": {
      assert.equal(m.protocolId, "MQTT");
      assert.equal(m.protocolVersion, 4);
      const will = m.will as MpObject | undefined;
      return {
        type, clientId: m.clientId, cleanSession: m.clean, keepalive: m.keepalive,
        ...(m.username !== undefined ? { username: m.username } : {}),
        ...(m.password !== undefined ? { password: plain(m.password) } : {}),
        ...(will ? { will: { topic: will.topic, payload: plain(will.payload), qos: will.qos, retain: will.retain } } : {}),
      };
    }
    case "connack": return { type, sessionPresent: m.sessionPresent, returnCode: m.returnCode };
    case "publish":
      return {
        type, topic: m.topic, payload: plain(m.payload), qos: m.qos, retain: m.retain, dup: m.dup,
        ...((m.qos as number) > 0 ? { messageId: m.messageId } : {}),
      };
    case "subscribe":
      return { type, messageId: m.messageId, subscriptions: (m.subscriptions as MpObject[]).map((s) => ({ topic: s.topic, qos: s.qos })) };
    case "suback": return { type, messageId: m.messageId, granted: m.granted };
    case "unsubscribe": return { type, messageId: m.messageId, topics: m.unsubscriptions };
    case "puback": case "pubrec": case "pubrel": case "pubcomp": case "unsuback": return { type, messageId: m.messageId };
    case "pingreq": case "pingresp": case "disconnect": return { type };
  }
}

/** Our packet with the password revealed and every byte array plain, for deepStrictEqual (shared with the fuzzer). */
const comparable = plainPacket;

interface MpParse { packets: MpPacket[]; error: Error | undefined; leftover: number }

function mqttPacketParse(bytes: Uint8Array): MpParse {
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const packets: MpPacket[] = [];
  let error: Error | undefined;
  parser.on("packet", (p: MpPacket) => packets.push(p));
  parser.on("error", (e: Error) => { error ??= e; });
  const leftover = parser.parse(Buffer.from(bytes));
  return { packets, error, leftover };
}

function mqttPacketGenerate(p: MpPacket): Uint8Array {
  return new Uint8Array(mqttPacket.generate(p, { protocolVersion: 4 }));
}

function decodeCode(fn: () => unknown): MqttDecodeErrorCode {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof MqttDecodeError, `expected MqttDecodeError, got ${String(e)}`);
    return e.code;
  }
  assert.fail("expected an MqttDecodeError");
}

function encodeCode(packet: unknown): MqttEncodeErrorCode {
  try {
    encodePacket(packet as MqttPacket);
  } catch (e) {
    assert.ok(e instanceof MqttEncodeError, `expected MqttEncodeError, got ${String(e)}`);
    return e.code;
  }
  assert.fail("expected an MqttEncodeError");
}

/** Feeds `bytes` to a reader in pieces cut at random points; returns every packet. */
function readInPieces(r: Rand, bytes: Uint8Array, maxPiece: number, options?: { maxPacketSize: number }): MqttPacket[] {
  const reader = new PacketReader(options);
  const out: MqttPacket[] = [];
  for (let pos = 0; pos < bytes.length; ) {
    const end = Math.min(bytes.length, pos + r.int(1, maxPiece));
    reader.push(bytes.subarray(pos, end));
    pos = end;
    for (let p = reader.next(); p !== undefined; p = reader.next()) out.push(p);
  }
  assert.equal(reader.bufferedBytes, 0, "nothing left over");
  return out;
}

// ---------------------------------------------------------------------------------------------
// (a) ours -> mqtt-packet, (b) mqtt-packet -> ours, (c) streams in pieces

const PER_TYPE_OURS = 250;
const PER_TYPE_THEIRS = 200;

/** Packets and their encodings from (a) and (b), reused by the stream and mutation tests. */
const corpus: { packet: MqttPacket; bytes: Uint8Array }[] = [];

describe("differential: we encode, mqtt-packet parses", () => {
  for (const type of TYPES) {
    test(`${type} x${PER_TYPE_OURS}`, () => {
      const r = new Rand(0xc0dec + TYPES.indexOf(type));
      for (let i = 0; i < PER_TYPE_OURS; i++) {
        const packet = randPacket(r, type);
        const bytes = encodePacket(packet);
        const theirs = mqttPacketParse(bytes);
        assert.equal(theirs.error, undefined, `mqtt-packet refused our ${type} #${i}: ${theirs.error?.message}`);
        assert.equal(theirs.packets.length, 1);
        assert.equal(theirs.leftover, 0);
        assert.deepStrictEqual(fromMqttPacket(theirs.packets[0]!), comparable(packet), `${type} #${i} parsed differently`);
        assert.deepStrictEqual(mqttPacketGenerate(toMqttPacket(packet)), bytes, `${type} #${i}: mqtt-packet encodes other bytes`);
        assert.deepStrictEqual(comparable(decodePacket(bytes)), comparable(packet), `${type} #${i} does not round-trip`);
        corpus.push({ packet, bytes });
      }
    });
  }
});

/** An mqtt-packet-style object: strings where it takes strings or Buffers, defaults left out. */
function randTheirPacket(r: Rand, type: MqttPacketType): MpPacket {
  const o = toMqttPacket(randPacket(r, type)) as unknown as MpObject;
  if (type === "publish" && r.bool(0.3)) o.payload = randText(r, 40);
  if (type === "connect") {
    if (o.password !== undefined && r.bool(0.3)) o.password = randText(r, 20);
    if (o.clean === true && r.bool(0.3)) delete o.clean; // defaults to true
    if (o.keepalive === 0 && r.bool(0.5)) delete o.keepalive; // defaults to 0
    if (r.bool(0.3)) { delete o.protocolId; delete o.protocolVersion; } // default to MQTT / 4
  }
  return o as unknown as MpPacket;
}

describe("differential: mqtt-packet generates, we decode", () => {
  for (const type of TYPES) {
    test(`${type} x${PER_TYPE_THEIRS}`, () => {
      const r = new Rand(0xbeef + TYPES.indexOf(type));
      for (let i = 0; i < PER_TYPE_THEIRS; i++) {
        const bytes = mqttPacketGenerate(randTheirPacket(r, type));
        const theirs = mqttPacketParse(bytes);
        assert.equal(theirs.error, undefined);
        const ours = decodePacket(bytes);
        assert.deepStrictEqual(comparable(ours), fromMqttPacket(theirs.packets[0]!), `${type} #${i} decoded differently`);
        assert.deepStrictEqual(encodePacket(ours), bytes, `${type} #${i} re-encodes to other bytes`);
        corpus.push({ packet: ours, bytes });
      }
    });
  }
});

describe("PacketReader on streams cut anywhere", () => {
  test("the whole corpus as one stream, in random pieces of every size class", () => {
    const r = new Rand(42);
    const stream = new Uint8Array(corpus.reduce((n, c) => n + c.bytes.length, 0));
    let at = 0;
    for (const c of corpus) { stream.set(c.bytes, at); at += c.bytes.length; }
    const expected = corpus.map((c) => comparable(c.packet));
    for (const maxPiece of [7, 64, 1500, 100_000, stream.length]) {
      const got = readInPieces(r, stream, maxPiece);
      assert.deepStrictEqual(got.map(comparable), expected, `pieces of up to ${maxPiece} bytes`);
    }
    // byte by byte: the first 500 packets (the whole stream would take long for nothing new)
    const head = corpus.slice(0, 500);
    const headBytes = stream.subarray(0, head.reduce((n, c) => n + c.bytes.length, 0));
    assert.deepStrictEqual(readInPieces(r, headBytes, 1).map(comparable), head.map((c) => comparable(c.packet)), "byte by byte");
  });

  test("every split point of a mixed sequence", () => {
    const packets = TYPES.map((t) => randPacket(new Rand(7), t));
    const bytes = new Uint8Array(packets.flatMap((p) => [...encodePacket(p)]));
    for (let cut = 0; cut <= bytes.length; cut++) {
      const reader = new PacketReader();
      const got: MqttPacket[] = [];
      for (const piece of [bytes.subarray(0, cut), bytes.subarray(cut)]) {
        reader.push(piece);
        for (let p = reader.next(); p; p = reader.next()) got.push(p);
      }
      assert.deepStrictEqual(got.map(comparable), packets.map(comparable), `cut at ${cut}`);
    }
  });

  test("pushing a Buffer: decoded payloads are plain copies, not views of the caller's memory", () => {
    const bytes = Buffer.from(encodePacket({ type: "publish", topic: "t", payload: utf8("abc"), qos: 0, retain: false, dup: false }));
    const reader = new PacketReader();
    reader.push(bytes);
    bytes.fill(0);
    const p = reader.next();
    assert.ok(p?.type === "publish");
    assert.equal(Object.getPrototypeOf(p.payload), Uint8Array.prototype);
    assert.deepStrictEqual(p.payload, utf8("abc"));
    const direct = Buffer.from(encodePacket({ type: "publish", topic: "t", payload: utf8("xyz"), qos: 0, retain: false, dup: false }));
    const q = decodePacket(direct);
    direct.fill(0);
    assert.ok(q.type === "publish");
    assert.deepStrictEqual(q.payload, utf8("xyz"));
  });

  test("a 2 MiB PUBLISH (four-byte remaining length) with a raised limit", () => {
    const r = new Rand(9);
    const packet: MqttPacket = { type: "publish", topic: "big", payload: r.bytes(2 * 1024 * 1024 + 5), qos: 1, retain: false, dup: false, messageId: 9 };
    const bytes = encodePacket(packet);
    assert.equal(bytes[1]! & 0x80, 0x80);
    assert.equal(bytes[4]! & 0x80, 0);
    assert.deepStrictEqual(bytes, mqttPacketGenerate(toMqttPacket(packet)));
    const got = readInPieces(r, bytes, 50_000, { maxPacketSize: 4 * 1024 * 1024 });
    assert.deepStrictEqual(got.map(comparable), [comparable(packet)]);
    assert.equal(decodeCode(() => readInPieces(r, bytes, 50_000)), "oversize", "the default limit refuses it");
  });
});

// ---------------------------------------------------------------------------------------------
// (d) malformed input

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!.map((h) => parseInt(h, 16)));
/** A packet from a type/flags byte and a body given in hex; the remaining length is computed. */
const frame = (first: number, body: string) => {
  const b = body === "" ? new Uint8Array(0) : hex(body);
  assert.ok(b.length < 128);
  return Uint8Array.from([first, b.length, ...b]);
};
const str = (s: string) => { const b = utf8(s); return [b.length >> 8, b.length & 255, ...b].map((x) => x.toString(16).padStart(2, "0")).join(""); };
/** A CONNECT body: protocol name, level, flags, keepalive 60, then `rest` (hex). */
const connectBody = (flags: number, rest: string, name = "MQTT", level = 4) =>
  str(name) + level.toString(16).padStart(2, "0") + flags.toString(16).padStart(2, "0") + "003c" + rest;

/** Code, description, bytes, and "waits" where a PacketReader just waits for more bytes. */
const MALFORMED: [MqttDecodeErrorCode, string, Uint8Array, "waits"?][] = [
  ["unknown-type", "type 0", hex("0000")],
  ["unknown-type", "type 15", hex("f000")],
  ["reserved-flags", "PUBACK flags 1", frame(0x41, "0001")],
  ["reserved-flags", "PUBREL flags 0", frame(0x60, "0001")],
  ["reserved-flags", "SUBSCRIBE flags 0", frame(0x80, "0001" + str("a") + "00")],
  ["reserved-flags", "UNSUBSCRIBE flags 3", frame(0xa3, "0001" + str("a"))],
  ["reserved-flags", "PINGREQ flags 8", hex("c800")],
  ["reserved-flags", "CONNECT flags 1", frame(0x11, connectBody(0x02, str("c")))],
  ["reserved-flags", "CONNECT reserved connect-flag bit 0", frame(0x10, connectBody(0x03, str("c")))],
  ["reserved-flags", "CONNACK acknowledge flags 2", frame(0x20, "0200")],
  ["reserved-flags", "SUBSCRIBE options bit 2", frame(0x82, "0001" + str("a") + "04")],
  ["malformed-remaining-length", "five length bytes", hex("30 ff ff ff ff 01")],
  ["malformed-remaining-length", "four continuation bytes, cut", hex("30 80 80 80 80")],
  ["truncated", "nothing", new Uint8Array(0), "waits"],
  ["truncated", "type byte only", hex("30"), "waits"],
  ["truncated", "length continues", hex("30 80"), "waits"],
  ["truncated", "PUBACK body short", hex("40 02 00"), "waits"],
  ["truncated", "PUBACK remaining length 1", frame(0x40, "01")],
  ["truncated", "topic longer than the packet", frame(0x30, "0005 61")],
  ["truncated", "QoS 1 PUBLISH without identifier", frame(0x32, str("a"))],
  ["truncated", "CONNECT without keepalive", frame(0x10, str("MQTT") + "0402")],
  ["truncated", "CONNECT will flag without will", frame(0x10, connectBody(0x06, str("c")))],
  ["truncated", "CONNECT username flag without username", frame(0x10, connectBody(0x82, str("c")))],
  ["truncated", "CONNACK one byte", frame(0x20, "00")],
  ["truncated", "SUBSCRIBE filter without QoS", frame(0x82, "0001" + str("a"))],
  ["trailing-bytes", "PUBACK three bytes", frame(0x40, "000100")],
  ["trailing-bytes", "PINGREQ with a body", frame(0xc0, "00")],
  ["trailing-bytes", "DISCONNECT with a body", frame(0xe0, "00")],
  ["trailing-bytes", "CONNACK three bytes", frame(0x20, "000000")],
  ["trailing-bytes", "CONNECT with extra bytes", frame(0x10, connectBody(0x02, str("c") + "00"))],
  ["bad-utf8", "overlong NUL in a topic", frame(0x30, "0002 c080")],
  ["bad-utf8", "U+0000 in a topic", frame(0x30, "0003 610062")],
  ["bad-utf8", "UTF-16 surrogate in a topic", frame(0x30, "0003 eda080")],
  ["bad-utf8", "bad lead byte in a client ID", frame(0x10, connectBody(0x02, "0001ff"))],
  ["bad-utf8", "cut sequence in a filter", frame(0x82, "0001 0001 e2 00")],
  ["bad-qos", "PUBLISH QoS 3", frame(0x36, str("a") + "0001")],
  ["bad-qos", "SUBSCRIBE QoS 3", frame(0x82, "0001" + str("a") + "03")],
  ["bad-qos", "SUBACK code 3", frame(0x90, "0001 03")],
  ["bad-qos", "SUBACK code 0x81", frame(0x90, "0001 81")],
  ["bad-qos", "CONNECT will QoS 3", frame(0x10, connectBody(0x1e, str("c") + str("w") + "0000"))],
  ["bad-topic", "PUBLISH topic with +", frame(0x30, str("a/+"))],
  ["bad-topic", "PUBLISH topic with #", frame(0x30, str("#"))],
  ["bad-topic", "PUBLISH empty topic", frame(0x30, "0000 41")],
  ["bad-topic", "SUBSCRIBE a/#/b", frame(0x82, "0001" + str("a/#/b") + "00")],
  ["bad-topic", "SUBSCRIBE a+", frame(0x82, "0001" + str("a+") + "00")],
  ["bad-topic", "SUBSCRIBE empty filter", frame(0x82, "0001 0000 00")],
  ["bad-topic", "UNSUBSCRIBE a#", frame(0xa2, "0001" + str("a#"))],
  ["bad-topic", "CONNECT will topic +", frame(0x10, connectBody(0x06, str("c") + str("+") + "0000"))],
  ["bad-message-id", "PUBACK 0", frame(0x40, "0000")],
  ["bad-message-id", "PUBLISH QoS 2 with id 0", frame(0x34, str("a") + "0000")],
  ["bad-message-id", "SUBSCRIBE 0", frame(0x82, "0000" + str("a") + "00")],
  ["bad-message-id", "UNSUBACK 0", frame(0xb0, "0000")],
  ["unsupported-protocol", "MQTT 3.1 (MQIsdp, level 3)", frame(0x10, connectBody(0x02, str("c"), "MQIsdp", 3))],
  ["unsupported-protocol", "MQTT 5", frame(0x10, connectBody(0x02, "00" + str("c"), "MQTT", 5))],
  ["unsupported-protocol", "another protocol name", frame(0x10, connectBody(0x02, str("c"), "HTTP", 4))],
  ["protocol", "PUBLISH DUP at QoS 0", frame(0x38, str("a"))],
  ["protocol", "CONNECT password without username", frame(0x10, connectBody(0x42, str("c") + str("pw")))],
  ["protocol", "CONNECT will retain without will", frame(0x10, connectBody(0x22, str("c")))],
  ["protocol", "CONNECT will QoS without will", frame(0x10, connectBody(0x0a, str("c")))],
  ["protocol", "CONNACK refusal with session present", frame(0x20, "0105")],
  ["protocol", "SUBSCRIBE without filters", frame(0x82, "0001")],
  ["protocol", "UNSUBSCRIBE without filters", frame(0xa2, "0001")],
  ["protocol", "SUBACK without codes", frame(0x90, "0001")],
];

const ALL_DECODE_CODES: readonly MqttDecodeErrorCode[] = [
  "unknown-type", "reserved-flags", "malformed-remaining-length", "oversize", "truncated", "trailing-bytes",
  "bad-utf8", "bad-qos", "bad-topic", "bad-message-id", "unsupported-protocol", "protocol",
];

describe("malformed input", () => {
  for (const [code, what, bytes, waits] of MALFORMED) {
    test(`${code}: ${what}`, () => {
      assert.equal(decodeCode(() => decodePacket(bytes)), code);
      const reader = new PacketReader();
      reader.push(bytes);
      if (waits) {
        assert.equal(reader.next(), undefined, "a reader waits for more");
        return;
      }
      const error = checkReaderFails(reader, code);
      // the stream is no longer framed: the same error, forever, whatever comes next
      reader.push(encodePacket({ type: "pingresp" }));
      assert.equal(decodeCode(() => reader.next()), code);
      assert.throws(() => reader.next(), (e) => e === error);
      assert.equal(reader.bufferedBytes, 0);
    });
  }

  test("every decode error code except 'internal' is reachable", () => {
    const seen = new Set<string>(MALFORMED.map(([code]) => code));
    seen.add("oversize"); // below
    assert.deepStrictEqual([...seen].sort(), [...ALL_DECODE_CODES].sort());
  });

  test("a trailing packet given to decodePacket is trailing-bytes", () => {
    const two = new Uint8Array([...encodePacket({ type: "pingreq" }), ...encodePacket({ type: "pingreq" })]);
    assert.equal(decodeCode(() => decodePacket(two)), "trailing-bytes");
  });

  test("oversize is refused from the fixed header alone, before any body is buffered", () => {
    const reader = new PacketReader({ maxPacketSize: 1024 });
    reader.push(hex("30 fe 07")); // 1022 + 3 header bytes = 1025
    assert.equal(decodeCode(() => reader.next()), "oversize");
    assert.equal(reader.bufferedBytes, 0);
    const exact = new PacketReader({ maxPacketSize: 1024 });
    exact.push(hex("30 fd 07")); // exactly 1024: waits for the body
    assert.equal(exact.next(), undefined);
    const huge = new PacketReader();
    huge.push(hex("30 ff ff ff 7f")); // 256 MiB announced
    assert.equal(decodeCode(() => huge.next()), "oversize");
    assert.equal(DEFAULT_MAX_PACKET_SIZE, 256 * 1024);
  });

  test("the header split byte by byte still fails as soon as it is complete", () => {
    const reader = new PacketReader({ maxPacketSize: 100 });
    reader.push(hex("30"));
    assert.equal(reader.next(), undefined);
    reader.push(hex("e5"));
    assert.equal(reader.next(), undefined);
    reader.push(hex("01"));
    assert.equal(decodeCode(() => reader.next()), "oversize");
  });

  test("every proper prefix of a valid packet is 'truncated' whole, and a reader waits", () => {
    const r = new Rand(3);
    for (const type of TYPES) {
      for (let k = 0; k < 5; k++) {
        const bytes = encodePacket(randPacket(r, type));
        if (bytes.length > 2000) continue;
        const reader = new PacketReader();
        for (let n = 0; n < bytes.length; n++) {
          assert.equal(decodeCode(() => decodePacket(bytes.subarray(0, n))), "truncated", `${type} cut to ${n}`);
          if (n > 0) reader.push(bytes.subarray(n - 1, n));
          assert.equal(reader.next(), undefined);
        }
        reader.push(bytes.subarray(bytes.length - 1));
        assert.equal(reader.next()?.type, type);
      }
    }
  });

  test("random mutations of valid packets decode or throw MqttDecodeError, and agree with mqtt-packet when both accept", (t) => {
    const r = new Rand(0x5eed);
    const stats = { cases: 0, ours: 0, both: 0, onlyTheirs: new Map<string, number>(), onlyOurs: 0 };
    const sample = corpus.filter((c) => c.bytes.length < 400);
    for (let i = 0; i < 20_000; i++) {
      const bytes = mutate(r, r.pick(sample).bytes);
      stats.cases++;
      let ours: MqttPacket | undefined;
      try {
        ours = decodePacket(bytes);
        stats.ours++;
      } catch (e) {
        assert.ok(e instanceof MqttDecodeError, `mutation #${i} threw ${String(e)}`);
        assert.ok(e.code !== "internal", `mutation #${i}: ${e.message}`);
      }
      const theirs = mqttPacketParse(bytes);
      const theirsAccepted = theirs.error === undefined && theirs.packets.length === 1 && theirs.leftover === 0;
      if (ours && theirsAccepted) {
        stats.both++;
        assert.deepStrictEqual(comparable(ours), fromMqttPacket(theirs.packets[0]!), `mutation #${i}: both accept, but differ`);
        assert.deepStrictEqual(encodePacket(ours).length <= bytes.length, true);
      } else if (ours) {
        stats.onlyOurs++;
      } else if (theirsAccepted) {
        const code = decodeCode(() => decodePacket(bytes));
        stats.onlyTheirs.set(code, (stats.onlyTheirs.get(code) ?? 0) + 1);
      }
      // the same bytes through a reader, in pieces: never anything but MqttDecodeError
      const reader = new PacketReader();
      try {
        for (let pos = 0; pos < bytes.length; pos += 3) {
          reader.push(bytes.subarray(pos, pos + 3));
          while (reader.next() !== undefined);
        }
      } catch (e) {
        assert.ok(e instanceof MqttDecodeError, `mutation #${i} (reader) threw ${String(e)}`);
      }
    }
    assert.ok(stats.ours > 1000 && stats.both > 1000, JSON.stringify({ ...stats, onlyTheirs: [...stats.onlyTheirs] }));
    // Where we accept and mqtt-packet does not, it is because mqtt-packet reads past a packet's
    // end or refuses what 3.1.1 allows; those must not happen on what mqtt-packet itself made.
    t.diagnostic(JSON.stringify({ ...stats, onlyTheirs: [...stats.onlyTheirs] }));
  });

  test("garbage streams: the reader only ever throws MqttDecodeError and never loops", () => {
    const r = new Rand(11);
    for (let i = 0; i < 2000; i++) {
      const reader = new PacketReader({ maxPacketSize: 4096 });
      try {
        for (let k = 0; k < 20; k++) {
          reader.push(r.bytes(r.int(0, 64)));
          for (let n = 0; reader.next() !== undefined; n++) assert.ok(n < 1000);
        }
      } catch (e) {
        assert.ok(e instanceof MqttDecodeError, String(e));
        assert.ok(e.code !== "internal", e.message);
      }
    }
  });

  test("non-Uint8Array input is still an MqttDecodeError", () => {
    assert.ok(decodeCode(() => decodePacket(undefined as unknown as Uint8Array)));
    assert.ok(decodeCode(() => decodePacket("0000" as unknown as Uint8Array)));
  });
});

function checkReaderFails(reader: PacketReader, code: MqttDecodeErrorCode): MqttDecodeError {
  try {
    reader.next();
  } catch (e) {
    assert.ok(e instanceof MqttDecodeError);
    assert.equal(e.code, code);
    return e;
  }
  assert.fail("the reader accepted it");
}

function mutate(r: Rand, original: Uint8Array): Uint8Array {
  const bytes = [...original];
  for (let n = r.int(1, 3); n > 0; n--) {
    const at = r.int(0, bytes.length - 1);
    switch (r.int(0, 4)) {
      case 0: bytes[at] = r.int(0, 255); break;
      case 1: bytes[at] = bytes[at]! ^ (1 << r.int(0, 7)); break;
      case 2: bytes.splice(at, 1); break;
      case 3: bytes.splice(at, 0, r.int(0, 255)); break;
      case 4: bytes.length = at; break;
    }
  }
  return Uint8Array.from(bytes);
}

// ---------------------------------------------------------------------------------------------
// Encoder validation

const pub = (extra: object) => ({ type: "publish", topic: "t", payload: new Uint8Array(0), qos: 0, retain: false, dup: false, ...extra });
const conn = (extra: object) => ({ type: "connect", clientId: "c", cleanSession: true, keepalive: 60, ...extra });

const INVALID: [MqttEncodeErrorCode, string, unknown][] = [
  ["unknown-type", "type auth (MQTT 5)", { type: "auth" }],
  ["unknown-type", "no type", {}],
  ["unknown-type", "not an object", null],
  ["bad-field", "keepalive 65536", conn({ keepalive: 65536 })],
  ["bad-field", "keepalive -1", conn({ keepalive: -1 })],
  ["bad-field", "keepalive 1.5", conn({ keepalive: 1.5 })],
  ["bad-field", "cleanSession not boolean", conn({ cleanSession: 1 })],
  ["bad-field", "password as string", conn({ username: "u", password: "pw" })],
  ["bad-field", "will payload 65536 bytes", conn({ will: { topic: "w", payload: new Uint8Array(65536), qos: 0, retain: false } })],
  ["bad-field", "password 65536 bytes", conn({ username: "u", password: Secret.fromBytes(new Uint8Array(65536)) })],
  ["bad-field", "CONNACK return code 256", { type: "connack", sessionPresent: false, returnCode: 256 }],
  ["bad-field", "payload as string", pub({ payload: "text" })],
  ["bad-field", "retain missing", pub({ retain: undefined })],
  ["bad-field", "subscriptions missing", { type: "subscribe", messageId: 1 }],
  ["bad-field", "a null subscription", { type: "subscribe", messageId: 1, subscriptions: [null] }],
  ["bad-field", "will null", conn({ will: null })],
  ["bad-string", "U+0000 in a client ID", conn({ clientId: "a\u0000b" })],
  ["bad-string", "lone high surrogate", conn({ clientId: "a\ud800" })],
  ["bad-string", "lone low surrogate", pub({ topic: "\udc00x" })],
  ["bad-string", "user name of 65536 bytes", conn({ username: "x".repeat(65536) })],
  ["bad-string", "topic not a string", pub({ topic: 5 })],
  ["bad-topic", "PUBLISH to a/#", pub({ topic: "a/#" })],
  ["bad-topic", "PUBLISH to +", pub({ topic: "+" })],
  ["bad-topic", "PUBLISH to empty topic", pub({ topic: "" })],
  ["bad-topic", "will topic with +", conn({ will: { topic: "a/+", payload: new Uint8Array(0), qos: 0, retain: false } })],
  ["bad-topic", "SUBSCRIBE to a#", { type: "subscribe", messageId: 1, subscriptions: [{ topic: "a#", qos: 0 }] }],
  ["bad-topic", "UNSUBSCRIBE from #/a", { type: "unsubscribe", messageId: 1, topics: ["#/a"] }],
  ["bad-qos", "PUBLISH QoS 3", pub({ qos: 3, messageId: 1 })],
  ["bad-qos", "will QoS 3", conn({ will: { topic: "w", payload: new Uint8Array(0), qos: 3, retain: false } })],
  ["bad-qos", "SUBSCRIBE QoS 3", { type: "subscribe", messageId: 1, subscriptions: [{ topic: "a", qos: 3 }] }],
  ["bad-qos", "SUBACK code 3", { type: "suback", messageId: 1, granted: [3] }],
  ["bad-message-id", "PUBACK 0", { type: "puback", messageId: 0 }],
  ["bad-message-id", "PUBREL 65536", { type: "pubrel", messageId: 65536 }],
  ["bad-message-id", "SUBSCRIBE 1.5", { type: "subscribe", messageId: 1.5, subscriptions: [{ topic: "a", qos: 0 }] }],
  ["bad-message-id", "QoS 1 PUBLISH without id", pub({ qos: 1 })],
  ["bad-message-id", "QoS 0 PUBLISH with id", pub({ messageId: 5 })],
  ["protocol", "DUP at QoS 0", pub({ dup: true })],
  ["protocol", "password without username", conn({ password: Secret.fromString("pw") })],
  ["protocol", "empty client ID without clean session", conn({ clientId: "", cleanSession: false })],
  ["protocol", "SUBSCRIBE with no filters", { type: "subscribe", messageId: 1, subscriptions: [] }],
  ["protocol", "UNSUBSCRIBE with no filters", { type: "unsubscribe", messageId: 1, topics: [] }],
  ["protocol", "SUBACK with no codes", { type: "suback", messageId: 1, granted: [] }],
  ["protocol", "CONNACK refusal with session present", { type: "connack", sessionPresent: true, returnCode: 5 }],
];

describe("encoder validation", () => {
  for (const [code, what, packet] of INVALID) {
    test(`${code}: ${what}`, () => assert.equal(encodeCode(packet), code));
  }

  test("remaining length above 268435455 is too-large, found before any copying", () => {
    // calloc'd and never written: cheap to allocate, and the encoder must refuse before copying it
    const payload = new Uint8Array(MAX_REMAINING_LENGTH - 3 + 1);
    assert.equal(encodeCode(pub({ topic: "a", payload })), "too-large");
  });

  test("boundaries that are valid", () => {
    const longest = "é".repeat(32767) + "a"; // 65535 UTF-8 bytes
    const p: MqttPacket = { type: "subscribe", messageId: 65535, subscriptions: [{ topic: longest, qos: 2 }, { topic: "#", qos: 0 }, { topic: "+/+/#", qos: 1 }, { topic: "/", qos: 0 }] };
    assert.deepStrictEqual(decodePacket(encodePacket(p)), p);
    const c: MqttPacket = { type: "connect", clientId: "", cleanSession: true, keepalive: 65535, username: "", password: Secret.fromBytes(new Uint8Array(65535)) };
    const back = decodePacket(encodePacket(c));
    assert.deepStrictEqual(comparable(back), comparable(c));
    const astral: MqttPacket = { type: "publish", topic: "😀/$SYS/ /\u0001", payload: new Uint8Array(0), qos: 0, retain: true, dup: false };
    assert.deepStrictEqual(comparable(decodePacket(encodePacket(astral))), comparable(astral));
  });

  test("every encode error code is reachable", () => {
    const all: MqttEncodeErrorCode[] = ["unknown-type", "bad-field", "bad-string", "bad-topic", "bad-qos", "bad-message-id", "protocol", "too-large"];
    const seen = new Set<string>(INVALID.map(([code]) => code));
    seen.add("too-large");
    assert.deepStrictEqual([...seen].sort(), [...all].sort());
  });
});

// ---------------------------------------------------------------------------------------------
// Secrets stay secret

describe("secrets", () => {
  const password = "hunter2-very-secret";
  const payloadMarker = "PAYLOAD-MARKER";
  const packet: MqttPacket = {
    type: "connect", clientId: "cLiEnTiD", cleanSession: false, keepalive: 30, username: "uSeRnAmE", password: Secret.fromString(password),
    will: { topic: "w", payload: utf8(payloadMarker), qos: 1, retain: true },
  };

  test("a decoded CONNECT shows the password as [redacted] and keeps the bytes", () => {
    const decoded = decodePacket(encodePacket(packet));
    assert.ok(decoded.type === "connect");
    assert.ok(!JSON.stringify(decoded).includes(password));
    assert.ok(!String(decoded.password).includes(password));
    assert.equal(decoded.password?.revealString(), password);
  });

  test("no error message carries a password, payload, topic or string content", () => {
    const bytes = encodePacket(packet);
    const r = new Rand(5);
    const messages = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      try {
        decodePacket(mutate(r, bytes));
      } catch (e) {
        messages.add((e as Error).message);
      }
    }
    for (const [, , b] of MALFORMED) {
      try { decodePacket(b); } catch (e) { messages.add((e as Error).message); }
    }
    for (const [, , p] of INVALID) {
      try { encodePacket(p as MqttPacket); } catch (e) { messages.add((e as Error).message); }
    }
    for (const m of messages) {
      for (const fragment of ["hunter", "secret", "MARKER", "PAYLOAD", "uSeRnAmE", "cLiEnTiD", "a/#", "MQIsdp", "HTTP"]) {
        assert.ok(!m.includes(fragment), `"${m}" leaks "${fragment}"`);
      }
    }
    assert.ok(messages.size > 30);
  });
});
