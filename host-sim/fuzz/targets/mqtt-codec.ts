// MQTT 3.1.1 codec, differential against mqtt-packet (the codec Aedes and MQTT.js use):
// - decodePacket only ever returns a packet or throws MqttDecodeError, never code "internal";
// - what both codecs accept, they read the same way (we may refuse what mqtt-packet lets
//   through: see test/node/mqtt-codec.test.ts for its leniencies);
// - what we accept re-encodes to bytes we decode to the same packet;
// - a PacketReader fed the same bytes in pieces agrees with decodePacket.
import mqttPacket from "mqtt-packet";
import type { Packet as MpPacket } from "mqtt-packet";
import { utf8 } from "../../../src/bytes/bytes.js";
import { decodePacket, encodePacket, MqttDecodeError, PacketReader, type MqttPacket, type QoS } from "../../../src/mqtt/codec.js";
import { Secret } from "../../../src/secrets/secret.js";
import type { Rand } from "../rand.js";
import { expect, type FuzzTarget } from "../target.js";
import { sameValue } from "./compare.js";

type Obj = Record<string, unknown>;

const bytesOf = (b: unknown): Uint8Array => (typeof b === "string" ? utf8(b) : new Uint8Array(b as Uint8Array));

/** Our packet as plain data (secrets revealed) for comparison. */
export function plainPacket(p: MqttPacket): unknown {
  switch (p.type) {
    case "connect": {
      const { password, will, ...rest } = p;
      return {
        ...rest,
        ...(password !== undefined ? { password: password.revealBytes() } : {}),
        ...(will ? { will: { ...will, payload: bytesOf(will.payload) } } : {}),
      };
    }
    case "publish": return { ...p, payload: bytesOf(p.payload) };
    default: return p;
  }
}

/** mqtt-packet's parse result in the same plain shape. */
function theirPlain(mp: MpPacket): unknown {
  const m = mp as unknown as Obj;
  const type = m.cmd as MqttPacket["type"];
  switch (type) {
    case "connect": {
      const will = m.will as Obj | undefined;
      return {
        type, clientId: m.clientId, cleanSession: m.clean, keepalive: m.keepalive,
        ...(m.username !== undefined ? { username: m.username } : {}),
        ...(m.password !== undefined ? { password: bytesOf(m.password) } : {}),
        ...(will ? { will: { topic: will.topic, payload: bytesOf(will.payload), qos: will.qos, retain: will.retain } } : {}),
      };
    }
    case "connack": return { type, sessionPresent: m.sessionPresent, returnCode: m.returnCode };
    case "publish":
      return { type, topic: m.topic, payload: bytesOf(m.payload), qos: m.qos, retain: m.retain, dup: m.dup, ...((m.qos as number) > 0 ? { messageId: m.messageId } : {}) };
    case "subscribe": return { type, messageId: m.messageId, subscriptions: (m.subscriptions as Obj[]).map((s) => ({ topic: s.topic, qos: s.qos })) };
    case "suback": return { type, messageId: m.messageId, granted: m.granted };
    case "unsubscribe": return { type, messageId: m.messageId, topics: m.unsubscriptions };
    case "puback": case "pubrec": case "pubrel": case "pubcomp": case "unsuback": return { type, messageId: m.messageId };
    default: return { type };
  }
}

function theirParse(bytes: Uint8Array): MpPacket | undefined {
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const packets: MpPacket[] = [];
  let failed = false;
  parser.on("packet", (p: MpPacket) => packets.push(p));
  parser.on("error", () => { failed = true; });
  try {
    const leftover = parser.parse(Buffer.from(bytes));
    return !failed && packets.length === 1 && leftover === 0 ? packets[0] : undefined;
  } catch {
    return undefined; // mqtt-packet throwing is its problem, not a property of our codec
  }
}

/** decodePacket, with anything but a non-internal MqttDecodeError counted as a failure. */
export function decodeOrRefuse(bytes: Uint8Array, what: string): MqttPacket | MqttDecodeError {
  try {
    return decodePacket(bytes);
  } catch (e) {
    if (!(e instanceof MqttDecodeError)) throw e;
    expect(e.code !== "internal", `${what}: decoder bug surfaced as "internal": ${e.message}`);
    return e;
  }
}

const text = (r: Rand, max: number) => {
  const chars = ["a", "b", "/", "+", "#", "é", "中", "😀", "\u0001", "$", " "];
  let s = "";
  for (let i = r.int(0, max); i > 0; i--) s += r.pick(chars);
  return s;
};
const topicName = (r: Rand) => text(r, 12).replace(/[+#]/g, "x") || "t";
const qos = (r: Rand): QoS => r.pick([0, 1, 2] as const);
const id = (r: Rand) => r.pick([1, 2, 255, 256, 65535, r.int(1, 65535)]);

/** A random valid packet of any type (encoded by us): the structure-aware generator. */
export function randomPacket(r: Rand): MqttPacket {
  switch (r.int(0, 13)) {
    case 0: {
      const username = r.bool(0.6) ? text(r, 10) : undefined;
      return {
        type: "connect", clientId: text(r, 20), cleanSession: true, keepalive: r.int(0, 65535),
        ...(username !== undefined ? { username } : {}),
        ...(username !== undefined && r.bool() ? { password: Secret.fromBytes(r.bytes(r.int(0, 20))) } : {}),
        ...(r.bool() ? { will: { topic: topicName(r), payload: r.bytes(r.int(0, 30)), qos: qos(r), retain: r.bool() } } : {}),
      };
    }
    case 1: {
      const returnCode = r.int(0, 5);
      return { type: "connack", sessionPresent: returnCode === 0 && r.bool(), returnCode };
    }
    case 2: {
      const q = qos(r);
      const base = { type: "publish", topic: topicName(r), payload: r.bytes(r.int(0, 64)), qos: q, retain: r.bool(), dup: q > 0 && r.bool() } as const;
      return q > 0 ? { ...base, messageId: id(r) } : base;
    }
    case 3: return { type: "subscribe", messageId: id(r), subscriptions: Array.from({ length: r.int(1, 3) }, () => ({ topic: r.pick(["a/+", "#", "a/b/#", topicName(r)]), qos: qos(r) })) };
    case 4: return { type: "suback", messageId: id(r), granted: Array.from({ length: r.int(1, 4) }, () => r.pick([0, 1, 2, 0x80] as const)) };
    case 5: return { type: "unsubscribe", messageId: id(r), topics: [r.pick(["a/+", "#", topicName(r)])] };
    case 6: return { type: "puback", messageId: id(r) };
    case 7: return { type: "pubrec", messageId: id(r) };
    case 8: return { type: "pubrel", messageId: id(r) };
    case 9: return { type: "pubcomp", messageId: id(r) };
    case 10: return { type: "unsuback", messageId: id(r) };
    case 11: return { type: "pingreq" };
    case 12: return { type: "pingresp" };
    default: return { type: "disconnect" };
  }
}

export const mqttCodecTarget: FuzzTarget = {
  name: "mqtt-codec",
  maxLength: 512,
  seeds(r) {
    return Array.from({ length: 200 }, () => encodePacket(randomPacket(r)));
  },
  generators: [
    (r) => encodePacket(randomPacket(r)),
    // a valid header in front of random body bytes: reaches every field decoder
    (r) => {
      const body = r.bytes(r.int(0, 40));
      return Uint8Array.from([r.int(1, 14) << 4 | r.pick([0, 2, 0, r.int(0, 15)]), body.length, ...body]);
    },
  ],
  run(input) {
    const ours = decodeOrRefuse(input, "decodePacket");
    const theirs = theirParse(input);
    if (!(ours instanceof MqttDecodeError)) {
      if (theirs) expect(sameValue(plainPacket(ours), theirPlain(theirs)), "both codecs accept, but read different packets");
      const again = decodeOrRefuse(encodePacket(ours), "re-decode");
      expect(!(again instanceof MqttDecodeError) && sameValue(plainPacket(again), plainPacket(ours)), "accepted packet does not round-trip");
    }
    // the same bytes through a reader, in pieces of a size taken from the input
    const reader = new PacketReader();
    const piece = 1 + ((input[input.length - 1] ?? 0) % 7);
    const got: MqttPacket[] = [];
    let refused: MqttDecodeError | undefined;
    try {
      for (let at = 0; at < input.length && !refused; at += piece) {
        reader.push(input.subarray(at, at + piece));
        for (let p = reader.next(); p; p = reader.next()) got.push(p);
      }
    } catch (e) {
      if (!(e instanceof MqttDecodeError)) throw e;
      expect(e.code !== "internal", `reader: decoder bug surfaced as "internal": ${e.message}`);
      refused = e;
    }
    if (!(ours instanceof MqttDecodeError)) {
      expect(!refused && got.length === 1 && sameValue(plainPacket(got[0]!), plainPacket(ours)) && reader.bufferedBytes === 0, "reader disagrees with decodePacket on an accepted packet");
    }
  },
};
