// MQTT 3.1.1 (OASIS Standard, 29 Oct 2014) packets <-> bytes, without any I/O: `encodePacket`
// turns a packet object into bytes, `decodePacket` reads exactly one whole packet, and
// `PacketReader` frames a byte stream that arrives in arbitrary pieces.
//
// Only protocol level 4 ("MQTT") is spoken. A CONNECT naming another protocol (3.1's "MQIsdp"
// level 3, or MQTT 5) decodes to the error code "unsupported-protocol", so that a broker can answer
// CONNACK 0x01 as [MQTT-3.1.2-2] asks instead of treating it as garbage.
//
// Decoding is strict where the standard says the receiver MUST close the connection (reserved
// flag bits, QoS 3, malformed UTF-8, U+0000, zero packet identifiers, wildcards in topic names,
// empty SUBSCRIBE/UNSUBSCRIBE, ...). It is lenient where the standard is silent: a remaining
// length in more bytes than needed is accepted, and CONNACK return codes 6..255 are passed up.
//
// Every decoding failure is an MqttDecodeError with a `code`; every invalid packet handed to
// the encoder is an MqttEncodeError. Messages name packet types, fields and sizes only: never
// payload bytes, topics, user names or passwords. CONNECT passwords travel as `Secret`.
import { fromUtf8, utf8, Utf8Error } from "../bytes/bytes.js";
import { Secret } from "../secrets/secret.js";

// ---------------------------------------------------------------------------------------------
// Packets

export type QoS = 0 | 1 | 2;

/** A SUBACK return code: the granted QoS, or 0x80 for a refused subscription. */
export type SubackCode = 0 | 1 | 2 | 0x80;

export interface WillMessage {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: QoS;
  readonly retain: boolean;
}

export interface ConnectPacket {
  readonly type: "connect";
  /** May be empty only with cleanSession [MQTT-3.1.3-7]. */
  readonly clientId: string;
  readonly cleanSession: boolean;
  /** Seconds, 0..65535; 0 turns keepalive off. */
  readonly keepalive: number;
  readonly username?: string;
  /** Needs a username in MQTT 3.1.1 [MQTT-3.1.2-22]. */
  readonly password?: Secret;
  readonly will?: WillMessage;
}

export interface ConnackPacket {
  readonly type: "connack";
  readonly sessionPresent: boolean;
  /** 0 accepted, 1..5 refusals of §3.2.2.3; 6..255 are reserved but decoded as they are. */
  readonly returnCode: number;
}

export interface PublishPacket {
  readonly type: "publish";
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: QoS;
  readonly retain: boolean;
  /** Must be false at QoS 0 [MQTT-3.3.1-2]. */
  readonly dup: boolean;
  /** Present (1..65535) if and only if qos > 0. */
  readonly messageId?: number;
}

export interface PubackPacket { readonly type: "puback"; readonly messageId: number }
export interface PubrecPacket { readonly type: "pubrec"; readonly messageId: number }
export interface PubrelPacket { readonly type: "pubrel"; readonly messageId: number }
export interface PubcompPacket { readonly type: "pubcomp"; readonly messageId: number }
export interface UnsubackPacket { readonly type: "unsuback"; readonly messageId: number }

export interface Subscription {
  /** A topic filter: may hold the wildcards "+" and "#". */
  readonly topic: string;
  readonly qos: QoS;
}

export interface SubscribePacket {
  readonly type: "subscribe";
  readonly messageId: number;
  /** At least one [MQTT-3.8.3-3]. */
  readonly subscriptions: readonly Subscription[];
}

export interface SubackPacket {
  readonly type: "suback";
  readonly messageId: number;
  readonly granted: readonly SubackCode[];
}

export interface UnsubscribePacket {
  readonly type: "unsubscribe";
  readonly messageId: number;
  /** Topic filters, at least one [MQTT-3.10.3-2]. */
  readonly topics: readonly string[];
}

export interface PingreqPacket { readonly type: "pingreq" }
export interface PingrespPacket { readonly type: "pingresp" }
export interface DisconnectPacket { readonly type: "disconnect" }

export type MqttPacket =
  | ConnectPacket | ConnackPacket | PublishPacket | PubackPacket | PubrecPacket | PubrelPacket | PubcompPacket
  | SubscribePacket | SubackPacket | UnsubscribePacket | UnsubackPacket | PingreqPacket | PingrespPacket | DisconnectPacket;

export type MqttPacketType = MqttPacket["type"];

/** The largest remaining length four bytes can express (§2.2.3). */
export const MAX_REMAINING_LENGTH = 268_435_455;

/** PacketReader's default limit on a whole packet (fixed header included). */
export const DEFAULT_MAX_PACKET_SIZE = 256 * 1024;

// ---------------------------------------------------------------------------------------------
// Errors

export type MqttDecodeErrorCode =
  | "unknown-type" // control packet type 0 or 15
  | "reserved-flags" // a reserved bit in the fixed header, CONNECT flags, CONNACK flags or subscription options
  | "malformed-remaining-length" // continuation bit still set in the 4th length byte
  | "oversize" // the announced packet is larger than maxPacketSize
  | "truncated" // the bytes (or the packet body) end before a field does
  | "trailing-bytes" // bytes left after the last field, or after the packet in decodePacket
  | "bad-utf8" // malformed UTF-8 or U+0000 in a string [MQTT-1.5.3-1/2]
  | "bad-qos" // QoS 3 anywhere, or a SUBACK code outside 0, 1, 2, 0x80
  | "bad-topic" // empty topic, wildcard in a topic name, misplaced wildcard in a filter
  | "bad-message-id" // packet identifier 0 [MQTT-2.3.1-1]
  | "unsupported-protocol" // CONNECT for another protocol name or level
  | "protocol" // any other MUST of the standard broken (DUP at QoS 0, password without username, ...)
  | "internal"; // input that is not a Uint8Array at all, or a codec bug: never a property of the bytes

export class MqttDecodeError extends Error {
  readonly code: MqttDecodeErrorCode;

  constructor(code: MqttDecodeErrorCode, message: string) {
    super(`malformed MQTT packet (${code}): ${message}`);
    this.code = code; // an own property: XS freezes Error.prototype, so `name` is left alone
  }
}

export type MqttEncodeErrorCode =
  | "unknown-type"
  | "bad-field" // a field missing, of the wrong type or out of range (keepalive, return code, payload, ...)
  | "bad-string" // not a string, a lone surrogate, U+0000, or more than 65535 UTF-8 bytes
  | "bad-topic"
  | "bad-qos"
  | "bad-message-id" // not an integer 1..65535, or present at QoS 0
  | "protocol" // a MUST of the standard broken (DUP at QoS 0, password without username, ...)
  | "too-large"; // remaining length above 268435455

export class MqttEncodeError extends Error {
  readonly code: MqttEncodeErrorCode;

  constructor(code: MqttEncodeErrorCode, message: string) {
    super(`invalid MQTT packet (${code}): ${message}`);
    this.code = code;
  }
}

// ---------------------------------------------------------------------------------------------
// Topics (§4.7)

/** A topic name, as PUBLISH and wills carry: non-empty and without wildcards. */
export function isValidTopicName(topic: string): boolean {
  return topic.length > 0 && topic.indexOf("+") < 0 && topic.indexOf("#") < 0;
}

/** A topic filter: "+" fills a whole level, "#" fills a whole level and is the last one. */
export function isValidTopicFilter(filter: string): boolean {
  if (filter.length === 0) return false;
  const levels = filter.split("/");
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.indexOf("#") >= 0 && (level !== "#" || i !== levels.length - 1)) return false;
    if (level.indexOf("+") >= 0 && level !== "+") return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Fixed header (§2.2)

const TYPE_NAMES: readonly (MqttPacketType | undefined)[] = [
  undefined, "connect", "connack", "publish", "puback", "pubrec", "pubrel", "pubcomp",
  "subscribe", "suback", "unsubscribe", "unsuback", "pingreq", "pingresp", "disconnect", undefined,
];

const TYPE_CODES: Readonly<Record<MqttPacketType, number>> = {
  connect: 1, connack: 2, publish: 3, puback: 4, pubrec: 5, pubrel: 6, pubcomp: 7,
  subscribe: 8, suback: 9, unsubscribe: 10, unsuback: 11, pingreq: 12, pingresp: 13, disconnect: 14,
};

/** The fixed-header flags every type but PUBLISH must carry exactly [MQTT-2.2.2-1]. */
function requiredFlags(type: MqttPacketType): number {
  return type === "pubrel" || type === "subscribe" || type === "unsubscribe" ? 0b0010 : 0;
}

interface FixedHeader {
  readonly type: MqttPacketType;
  readonly flags: number;
  /** Bytes taken by the fixed header itself (2..5). */
  readonly size: number;
  readonly remainingLength: number;
}

/** Checks the first byte on its own, so a bad stream fails before any length is trusted. */
function checkFirstByte(first: number): MqttPacketType {
  const type = TYPE_NAMES[first >> 4];
  if (type === undefined) throw new MqttDecodeError("unknown-type", `control packet type ${first >> 4} is reserved`);
  const flags = first & 0x0f;
  if (type === "publish") {
    const qos = (flags >> 1) & 3;
    if (qos === 3) throw new MqttDecodeError("bad-qos", "PUBLISH with QoS 3");
    if (qos === 0 && (flags & 0b1000) !== 0) throw new MqttDecodeError("protocol", "PUBLISH with DUP set at QoS 0");
  } else if (flags !== requiredFlags(type)) {
    throw new MqttDecodeError("reserved-flags", `${type.toUpperCase()} fixed-header flags are ${flags}, must be ${requiredFlags(type)}`);
  }
  return type;
}

/**
 * Reads the fixed header through `byteAt`; undefined while more bytes are needed. The remaining
 * length is at most four bytes [§2.2.3]; more bytes than needed are tolerated (3.1.1 allows it).
 */
function readFixedHeader(byteAt: (index: number) => number | undefined): FixedHeader | undefined {
  const first = byteAt(0);
  if (first === undefined) return undefined;
  const type = checkFirstByte(first);
  let value = 0;
  let multiplier = 1;
  for (let i = 1; i <= 4; i++) {
    const b = byteAt(i);
    if (b === undefined) return undefined;
    value += (b & 0x7f) * multiplier;
    if ((b & 0x80) === 0) return { type, flags: first & 0x0f, size: i + 1, remainingLength: value };
    multiplier *= 128;
  }
  throw new MqttDecodeError("malformed-remaining-length", "remaining length longer than 4 bytes");
}

function remainingLengthBytes(length: number): number[] {
  const out: number[] = [];
  do {
    let b = length % 128;
    length = Math.floor(length / 128);
    if (length > 0) b |= 0x80;
    out.push(b);
  } while (length > 0);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** Reads fields from one packet body; running past its end is "truncated". */
class BodyReader {
  readonly #bytes: Uint8Array;
  readonly #type: string;
  #pos = 0;

  constructor(bytes: Uint8Array, type: MqttPacketType) {
    this.#bytes = bytes;
    this.#type = type.toUpperCase();
  }

  get remaining(): number { return this.#bytes.length - this.#pos; }

  #need(n: number, what: string): void {
    if (this.remaining < n) throw new MqttDecodeError("truncated", `${this.#type} ends inside its ${what}`);
  }

  byte(what: string): number {
    this.#need(1, what);
    return this.#bytes[this.#pos++]!;
  }

  u16(what: string): number {
    this.#need(2, what);
    const value = (this.#bytes[this.#pos]! << 8) | this.#bytes[this.#pos + 1]!;
    this.#pos += 2;
    return value;
  }

  /** A non-zero packet identifier [MQTT-2.3.1-1]. */
  messageId(): number {
    const id = this.u16("packet identifier");
    if (id === 0) throw new MqttDecodeError("bad-message-id", `${this.#type} with packet identifier 0`);
    return id;
  }

  /** Length-prefixed bytes, as a view: callers that keep them copy them. */
  binary(what: string): Uint8Array {
    const length = this.u16(what);
    this.#need(length, what);
    const start = this.#pos;
    this.#pos += length;
    return this.#bytes.subarray(start, this.#pos);
  }

  /** A length-prefixed UTF-8 string: well-formed and without U+0000 [MQTT-1.5.3-1/2]. */
  string(what: string): string {
    const bytes = this.binary(what);
    let text: string;
    try {
      text = fromUtf8(bytes);
    } catch (e) {
      if (e instanceof Utf8Error) throw new MqttDecodeError("bad-utf8", `${this.#type} ${what} is not well-formed UTF-8`);
      throw e;
    }
    if (text.indexOf("\u0000") >= 0) throw new MqttDecodeError("bad-utf8", `${this.#type} ${what} contains U+0000`);
    return text;
  }

  /** Everything left, copied so the packet does not pin the receive buffer. */
  rest(): Uint8Array {
    const out = this.#bytes.slice(this.#pos);
    this.#pos = this.#bytes.length;
    return out;
  }

  end(): void {
    if (this.remaining !== 0) throw new MqttDecodeError("trailing-bytes", `${this.remaining} bytes after the end of ${this.#type}`);
  }
}

function decodeConnect(r: BodyReader): ConnectPacket {
  const name = r.string("protocol name");
  const level = r.byte("protocol level");
  if (name !== "MQTT" || level !== 4) {
    throw new MqttDecodeError("unsupported-protocol", `CONNECT for protocol level ${level}${name === "MQTT" ? "" : " under another protocol name"}; only MQTT 3.1.1 (level 4) is spoken`);
  }
  const flags = r.byte("connect flags");
  if (flags & 0x01) throw new MqttDecodeError("reserved-flags", "CONNECT flags bit 0 is reserved [MQTT-3.1.2-3]");
  const hasWill = (flags & 0x04) !== 0;
  const willQos = (flags >> 3) & 3;
  const willRetain = (flags & 0x20) !== 0;
  const hasPassword = (flags & 0x40) !== 0;
  const hasUsername = (flags & 0x80) !== 0;
  if (willQos === 3) throw new MqttDecodeError("bad-qos", "CONNECT will QoS 3");
  if (!hasWill && (willQos !== 0 || willRetain)) throw new MqttDecodeError("protocol", "CONNECT will QoS/retain set without the will flag [MQTT-3.1.2-13/15]");
  if (hasPassword && !hasUsername) throw new MqttDecodeError("protocol", "CONNECT password flag without user name flag [MQTT-3.1.2-22]");
  const keepalive = r.u16("keepalive");
  const clientId = r.string("client identifier");
  let will: WillMessage | undefined;
  if (hasWill) {
    const topic = r.string("will topic");
    if (!isValidTopicName(topic)) throw new MqttDecodeError("bad-topic", "CONNECT will topic is empty or has a wildcard");
    const payload = r.binary("will message").slice();
    will = { topic, payload, qos: willQos as QoS, retain: willRetain };
  }
  const username = hasUsername ? r.string("user name") : undefined;
  const password = hasPassword ? Secret.fromBytes(r.binary("password")) : undefined;
  r.end();
  return {
    type: "connect", clientId, cleanSession: (flags & 0x02) !== 0, keepalive,
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(will !== undefined ? { will } : {}),
  };
}

function decodeConnack(r: BodyReader): ConnackPacket {
  const flags = r.byte("acknowledge flags");
  const returnCode = r.byte("return code");
  r.end();
  if (flags & 0xfe) throw new MqttDecodeError("reserved-flags", "CONNACK acknowledge flags bits 7-1 are reserved");
  const sessionPresent = flags === 1;
  if (sessionPresent && returnCode !== 0) throw new MqttDecodeError("protocol", "CONNACK refusal with session present [MQTT-3.2.2-4]");
  return { type: "connack", sessionPresent, returnCode };
}

function decodePublish(r: BodyReader, flags: number): PublishPacket {
  const qos = ((flags >> 1) & 3) as QoS; // 3 and DUP at QoS 0 were refused with the first byte
  const topic = r.string("topic name");
  if (!isValidTopicName(topic)) throw new MqttDecodeError("bad-topic", "PUBLISH topic name is empty or has a wildcard [MQTT-3.3.2-2]");
  const messageId = qos > 0 ? r.messageId() : undefined;
  const payload = r.rest();
  const base = { type: "publish", topic, payload, qos, retain: (flags & 1) !== 0, dup: (flags & 8) !== 0 } as const;
  return messageId === undefined ? base : { ...base, messageId };
}

function decodeSubscribe(r: BodyReader): SubscribePacket {
  const messageId = r.messageId();
  const subscriptions: Subscription[] = [];
  while (r.remaining > 0) {
    const topic = r.string("topic filter");
    if (!isValidTopicFilter(topic)) throw new MqttDecodeError("bad-topic", "SUBSCRIBE topic filter is empty or misplaces a wildcard");
    const options = r.byte("requested QoS");
    if (options & 0xfc) throw new MqttDecodeError("reserved-flags", "SUBSCRIBE requested-QoS bits 7-2 are reserved [MQTT-3.8.3-4]");
    if (options === 3) throw new MqttDecodeError("bad-qos", "SUBSCRIBE requests QoS 3");
    subscriptions.push({ topic, qos: options as QoS });
  }
  if (subscriptions.length === 0) throw new MqttDecodeError("protocol", "SUBSCRIBE without topic filters [MQTT-3.8.3-3]");
  return { type: "subscribe", messageId, subscriptions };
}

function decodeSuback(r: BodyReader): SubackPacket {
  const messageId = r.messageId();
  const granted: SubackCode[] = [];
  while (r.remaining > 0) {
    const code = r.byte("return code");
    if (code > 2 && code !== 0x80) throw new MqttDecodeError("bad-qos", `SUBACK return code ${code} is reserved [MQTT-3.9.3-2]`);
    granted.push(code as SubackCode);
  }
  if (granted.length === 0) throw new MqttDecodeError("protocol", "SUBACK without return codes");
  return { type: "suback", messageId, granted };
}

function decodeUnsubscribe(r: BodyReader): UnsubscribePacket {
  const messageId = r.messageId();
  const topics: string[] = [];
  while (r.remaining > 0) {
    const topic = r.string("topic filter");
    if (!isValidTopicFilter(topic)) throw new MqttDecodeError("bad-topic", "UNSUBSCRIBE topic filter is empty or misplaces a wildcard");
    topics.push(topic);
  }
  if (topics.length === 0) throw new MqttDecodeError("protocol", "UNSUBSCRIBE without topic filters [MQTT-3.10.3-2]");
  return { type: "unsubscribe", messageId, topics };
}

/** Packets that are a packet identifier and nothing else. */
function decodeAck<T extends "puback" | "pubrec" | "pubrel" | "pubcomp" | "unsuback">(r: BodyReader, type: T): { type: T; messageId: number } {
  const messageId = r.messageId();
  r.end();
  return { type, messageId };
}

function decodeBody(header: FixedHeader, body: Uint8Array): MqttPacket {
  const r = new BodyReader(body, header.type);
  switch (header.type) {
    case "connect": return decodeConnect(r);
    case "connack": return decodeConnack(r);
    case "publish": return decodePublish(r, header.flags);
    case "subscribe": return decodeSubscribe(r);
    case "suback": return decodeSuback(r);
    case "unsubscribe": return decodeUnsubscribe(r);
    case "puback": case "pubrec": case "pubrel": case "pubcomp": case "unsuback":
      return decodeAck(r, header.type);
    case "pingreq": case "pingresp": case "disconnect":
      r.end();
      return { type: header.type };
  }
}

/** Runs `fn` so that nothing but an MqttDecodeError can leave the decoder. */
function guarded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof MqttDecodeError) throw e;
    throw new MqttDecodeError("internal", "unexpected failure while decoding");
  }
}

/**
 * The same bytes as a plain Uint8Array view. A subclass (Node's Buffer on the simulator) may
 * redefine slice() as a view, which would let decoded payloads alias the caller's memory.
 */
function plainView(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
}

/** Decodes exactly one whole packet: fewer bytes are "truncated", more are "trailing-bytes". */
export function decodePacket(input: Uint8Array): MqttPacket {
  return guarded(() => {
    const bytes = plainView(input);
    const header = readFixedHeader((i) => bytes[i]);
    if (header === undefined) throw new MqttDecodeError("truncated", "input ends inside the fixed header");
    const total = header.size + header.remainingLength;
    if (bytes.length < total) throw new MqttDecodeError("truncated", `input ends ${total - bytes.length} bytes before the end of the packet`);
    if (bytes.length > total) throw new MqttDecodeError("trailing-bytes", `${bytes.length - total} bytes after the packet`);
    return decodeBody(header, bytes.subarray(header.size, total));
  });
}

export interface PacketReaderOptions {
  /** Largest whole packet (fixed header included) accepted; default DEFAULT_MAX_PACKET_SIZE. */
  readonly maxPacketSize?: number;
}

/**
 * Frames a byte stream into packets. `push` the bytes as they arrive, then call `next` until it
 * returns undefined (more bytes needed). A packet announcing more than maxPacketSize fails as
 * soon as its fixed header is complete, before its body is buffered. After any decode error the
 * stream has lost its framing: the reader drops what it holds and every later `next` throws the
 * same error.
 */
export class PacketReader {
  readonly #maxPacketSize: number;
  #chunks: Uint8Array[] = [];
  #offset = 0; // read position inside #chunks[0]
  #buffered = 0; // unread bytes over all chunks
  #failure: MqttDecodeError | undefined;

  constructor(options: PacketReaderOptions = {}) {
    this.#maxPacketSize = options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE;
  }

  /** Bytes received but not yet returned as packets. */
  get bufferedBytes(): number { return this.#buffered; }

  /** Queues a copy of `bytes` (the caller may reuse its buffer). Ignored once the reader failed. */
  push(bytes: Uint8Array): void {
    if (this.#failure !== undefined || bytes.length === 0) return;
    this.#chunks.push(new Uint8Array(bytes)); // a plain copy, whatever subclass came in
    this.#buffered += bytes.length;
  }

  /** The next whole packet, or undefined until more bytes are pushed. Throws MqttDecodeError. */
  next(): MqttPacket | undefined {
    if (this.#failure !== undefined) throw this.#failure;
    try {
      return guarded(() => this.#nextPacket());
    } catch (e) {
      this.#failure = e as MqttDecodeError; // guarded() lets nothing else through
      this.#chunks = [];
      this.#offset = 0;
      this.#buffered = 0;
      throw this.#failure;
    }
  }

  #nextPacket(): MqttPacket | undefined {
    const header = readFixedHeader((i) => this.#peek(i));
    if (header === undefined) return undefined;
    const total = header.size + header.remainingLength;
    if (total > this.#maxPacketSize) {
      throw new MqttDecodeError("oversize", `${header.type.toUpperCase()} of ${total} bytes exceeds the ${this.#maxPacketSize}-byte limit`);
    }
    if (this.#buffered < total) return undefined;
    const frame = this.#take(total);
    return decodeBody(header, frame.subarray(header.size));
  }

  /** The unread byte at `index`, looking across chunk boundaries (used for ≤ 5 header bytes). */
  #peek(index: number): number | undefined {
    let i = index + this.#offset;
    for (const chunk of this.#chunks) {
      if (i < chunk.length) return chunk[i];
      i -= chunk.length;
    }
    return undefined;
  }

  /** Removes `n` unread bytes; a view when they lie in one chunk, a copy otherwise. */
  #take(n: number): Uint8Array {
    this.#buffered -= n;
    const first = this.#chunks[0]!;
    if (this.#offset + n <= first.length) {
      const view = first.subarray(this.#offset, (this.#offset += n));
      if (this.#offset === first.length) {
        this.#chunks.shift();
        this.#offset = 0;
      }
      return view;
    }
    // Spread over several chunks: copy them out, then drop the used ones in one splice (a
    // shift per chunk would be quadratic when a large packet trickles in small pieces).
    const out = new Uint8Array(n);
    let filled = 0;
    let used = 0;
    let offset = this.#offset;
    while (filled < n) {
      const chunk = this.#chunks[used]!;
      const count = Math.min(chunk.length - offset, n - filled);
      out.set(chunk.subarray(offset, offset + count), filled);
      filled += count;
      offset += count;
      if (offset === chunk.length) {
        used++;
        offset = 0;
      }
    }
    this.#chunks.splice(0, used);
    this.#offset = offset;
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Collects the variable header and payload; the fixed header is prefixed at the end. */
class BodyWriter {
  readonly parts: Uint8Array[] = [];
  length = 0;

  bytes(b: Uint8Array): void {
    this.parts.push(b);
    this.length += b.length;
  }

  byte(value: number): void { this.bytes(Uint8Array.of(value)); }
  u16(value: number): void { this.bytes(Uint8Array.of(value >> 8, value & 0xff)); }

  /** Length-prefixed bytes (will message, password): at most 65535. */
  binary(what: string, b: Uint8Array): void {
    if (b.length > 0xffff) throw new MqttEncodeError("bad-field", `${what} is ${b.length} bytes, at most 65535 fit`);
    this.u16(b.length);
    this.bytes(b);
  }

  string(what: string, text: unknown): void {
    this.binary(what, encodeString(what, text));
  }
}

/**
 * Why `text` cannot travel as an MQTT UTF-8 string (§1.5.3), or undefined if it can. The reason
 * names the rule only, never the text: callers validating user names or topics can report it.
 */
export function mqttStringProblem(text: unknown): string | undefined {
  if (typeof text !== "string") return "is not a string";
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0) return "contains U+0000 [MQTT-1.5.3-2]";
    if (c >= 0xdc00 && c <= 0xdfff) return "has a lone surrogate";
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = text.charCodeAt(i + 1); // NaN past the end
      if (!(d >= 0xdc00 && d <= 0xdfff)) return "has a lone surrogate";
      i++;
      bytes += 4;
    } else bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
  }
  if (bytes > 0xffff) return `is ${bytes} UTF-8 bytes, at most 65535 fit`;
  return undefined;
}

function encodeString(what: string, text: unknown): Uint8Array {
  const problem = mqttStringProblem(text);
  if (problem !== undefined) throw new MqttEncodeError("bad-string", `${what} ${problem}`);
  return utf8(text as string);
}

function checkFlag(what: string, value: unknown): boolean {
  if (typeof value !== "boolean") throw new MqttEncodeError("bad-field", `${what} is not a boolean`);
  return value;
}

function checkQos(what: string, value: unknown): QoS {
  if (value !== 0 && value !== 1 && value !== 2) throw new MqttEncodeError("bad-qos", `${what} must be 0, 1 or 2`);
  return value;
}

function checkMessageId(type: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 0xffff) {
    throw new MqttEncodeError("bad-message-id", `${type} packet identifier must be an integer 1..65535`);
  }
  return value;
}

function checkPayload(what: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new MqttEncodeError("bad-field", `${what} is not a Uint8Array`);
  return value;
}

function checkTopicName(what: string, topic: unknown): string {
  if (typeof topic === "string" && !isValidTopicName(topic)) throw new MqttEncodeError("bad-topic", `${what} is empty or has a wildcard [MQTT-3.3.2-2]`);
  return topic as string; // encodeString() refuses non-strings
}

function checkTopicFilter(what: string, filter: unknown): string {
  if (typeof filter === "string" && !isValidTopicFilter(filter)) throw new MqttEncodeError("bad-topic", `${what} is empty or misplaces a wildcard`);
  return filter as string;
}

function checkList<T>(what: string, list: readonly T[] | undefined): readonly T[] {
  if (!Array.isArray(list)) throw new MqttEncodeError("bad-field", `${what} is not an array`);
  if (list.length === 0) throw new MqttEncodeError("protocol", `${what} is empty`);
  return list;
}

function encodeConnect(p: ConnectPacket, w: BodyWriter): void {
  const cleanSession = checkFlag("CONNECT cleanSession", p.cleanSession);
  if (typeof p.keepalive !== "number" || !Number.isInteger(p.keepalive) || p.keepalive < 0 || p.keepalive > 0xffff) {
    throw new MqttEncodeError("bad-field", "CONNECT keepalive must be an integer 0..65535");
  }
  if (p.clientId === "" && !cleanSession) throw new MqttEncodeError("protocol", "an empty client identifier needs cleanSession [MQTT-3.1.3-7]");
  if (p.password !== undefined && p.username === undefined) throw new MqttEncodeError("protocol", "CONNECT password without user name [MQTT-3.1.2-22]");
  if (p.password !== undefined && !(p.password instanceof Secret)) throw new MqttEncodeError("bad-field", "CONNECT password is not a Secret");
  const will = p.will;
  let flags = cleanSession ? 0x02 : 0;
  if (will !== undefined) flags |= 0x04 | (checkQos("will QoS", will.qos) << 3) | (checkFlag("will retain", will.retain) ? 0x20 : 0);
  if (p.password !== undefined) flags |= 0x40;
  if (p.username !== undefined) flags |= 0x80;
  w.string("protocol name", "MQTT");
  w.byte(4);
  w.byte(flags);
  w.u16(p.keepalive);
  w.string("client identifier", p.clientId);
  if (will !== undefined) {
    w.string("will topic", checkTopicName("will topic", will.topic));
    w.binary("will message", checkPayload("will message", will.payload));
  }
  if (p.username !== undefined) w.string("user name", p.username);
  if (p.password !== undefined) w.binary("password", p.password.revealBytes());
}

function encodeConnack(p: ConnackPacket, w: BodyWriter): void {
  const sessionPresent = checkFlag("CONNACK sessionPresent", p.sessionPresent);
  const code = p.returnCode;
  if (typeof code !== "number" || !Number.isInteger(code) || code < 0 || code > 255) {
    throw new MqttEncodeError("bad-field", "CONNACK return code must be an integer 0..255");
  }
  if (sessionPresent && code !== 0) throw new MqttEncodeError("protocol", "CONNACK refusal with session present [MQTT-3.2.2-4]");
  w.byte(sessionPresent ? 1 : 0);
  w.byte(code);
}

/** Returns the fixed-header flags: DUP, QoS, RETAIN. */
function encodePublish(p: PublishPacket, w: BodyWriter): number {
  const qos = checkQos("PUBLISH QoS", p.qos);
  const dup = checkFlag("PUBLISH dup", p.dup);
  const retain = checkFlag("PUBLISH retain", p.retain);
  if (dup && qos === 0) throw new MqttEncodeError("protocol", "PUBLISH with DUP at QoS 0 [MQTT-3.3.1-2]");
  if (qos === 0 && p.messageId !== undefined) throw new MqttEncodeError("bad-message-id", "PUBLISH at QoS 0 has no packet identifier");
  w.string("topic name", checkTopicName("PUBLISH topic name", p.topic));
  if (qos > 0) w.u16(checkMessageId("PUBLISH", p.messageId));
  w.bytes(checkPayload("PUBLISH payload", p.payload));
  return (dup ? 8 : 0) | (qos << 1) | (retain ? 1 : 0);
}

function encodeSubscribe(p: SubscribePacket, w: BodyWriter): void {
  w.u16(checkMessageId("SUBSCRIBE", p.messageId));
  for (const s of checkList("SUBSCRIBE subscriptions", p.subscriptions)) {
    w.string("topic filter", checkTopicFilter("SUBSCRIBE topic filter", s.topic));
    w.byte(checkQos("SUBSCRIBE requested QoS", s.qos));
  }
}

function encodeSuback(p: SubackPacket, w: BodyWriter): void {
  w.u16(checkMessageId("SUBACK", p.messageId));
  for (const code of checkList("SUBACK return codes", p.granted)) {
    if (code !== 0 && code !== 1 && code !== 2 && code !== 0x80) throw new MqttEncodeError("bad-qos", "SUBACK return code must be 0, 1, 2 or 0x80");
    w.byte(code);
  }
}

function encodeUnsubscribe(p: UnsubscribePacket, w: BodyWriter): void {
  w.u16(checkMessageId("UNSUBSCRIBE", p.messageId));
  for (const topic of checkList("UNSUBSCRIBE topics", p.topics)) {
    w.string("topic filter", checkTopicFilter("UNSUBSCRIBE topic filter", topic));
  }
}

/** Writes the body and returns the fixed-header flags. */
function encodeBody(packet: MqttPacket, w: BodyWriter): number {
  switch (packet.type) {
    case "connect": encodeConnect(packet, w); break;
    case "connack": encodeConnack(packet, w); break;
    case "publish": return encodePublish(packet, w);
    case "subscribe": encodeSubscribe(packet, w); break;
    case "suback": encodeSuback(packet, w); break;
    case "unsubscribe": encodeUnsubscribe(packet, w); break;
    case "puback": case "pubrec": case "pubrel": case "pubcomp": case "unsuback":
      w.u16(checkMessageId(packet.type.toUpperCase(), packet.messageId));
      break;
    case "pingreq": case "pingresp": case "disconnect":
      break;
    default:
      throw new MqttEncodeError("unknown-type", "not an MQTT 3.1.1 packet type");
  }
  return requiredFlags(packet.type);
}

/** Encodes one packet; throws MqttEncodeError if it breaks MQTT 3.1.1. */
export function encodePacket(packet: MqttPacket): Uint8Array {
  const type = (packet as { type?: unknown } | null)?.type;
  if (typeof type !== "string" || !Object.prototype.hasOwnProperty.call(TYPE_CODES, type)) {
    throw new MqttEncodeError("unknown-type", "not an MQTT 3.1.1 packet type");
  }
  const w = new BodyWriter();
  let flags: number;
  try {
    flags = encodeBody(packet, w);
  } catch (e) {
    // a packet object built outside the type system (null where an object belongs, ...)
    if (e instanceof MqttEncodeError) throw e;
    throw new MqttEncodeError("bad-field", `${type.toUpperCase()} has a field of the wrong shape`);
  }
  if (w.length > MAX_REMAINING_LENGTH) throw new MqttEncodeError("too-large", `remaining length ${w.length} exceeds ${MAX_REMAINING_LENGTH}`);
  const header = [(TYPE_CODES[packet.type] << 4) | flags, ...remainingLengthBytes(w.length)];
  const out = new Uint8Array(header.length + w.length);
  out.set(header, 0);
  let offset = header.length;
  for (const part of w.parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
