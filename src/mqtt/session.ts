// The MQTT 3.1.1 client session as a pure state machine (sans-I/O): the driver feeds it
// transport events, received bytes and the current time, and carries out the actions it returns
// (send bytes, close the transport) and reports the notices (online, message, delivered, …).
// Nothing here touches a socket or a timer, so every edge can be tested with byte arrays alone.
//
//   offline --dial--> dialing --transportUp/CONNECT--> connecting --CONNACK 0--> online
//      ^                 |                                 |                       |
//      +-----------------+---- transport down / timeout ---+-----------------------+
//
// QoS 1 messages stay in the outbox until PUBACKed and are sent again, with DUP, after every
// reconnect (clean session is off, as MQTT 3.1.1 §4.4 requires for redelivery). They are resent
// before the "online" notice, so whatever its listeners publish goes out after older messages
// (a retained topic ends with the newest value). A clean-session CONNECT starts a new session:
// messages the old session sent and never saw acknowledged are dropped, not resent.
//
// Everything a caller hands in (client ID, credentials, will, topics, payloads) is checked with the
// encoder's rules when it is handed in (input.ts), so no encoder error can surface later.
import type { Secret } from "../secrets/secret.js";
import { DEFAULT_MAX_PACKET_SIZE, encodePacket, MqttDecodeError, PacketReader, type MqttPacket } from "./codec.js";
import { checkClientId, checkCredentials, checkPayload, checkTopicFilter, checkTopicName, MqttInputError } from "./input.js";
import { utf8 } from "../bytes/bytes.js";

export type ConnackReason =
  | "unacceptable-protocol"
  | "identifier-rejected"
  | "server-unavailable"
  | "bad-credentials"
  | "not-authorized"
  | "unknown-return-code";

const CONNACK_REASONS: readonly ConnackReason[] = [
  "unacceptable-protocol", // 1
  "identifier-rejected", // 2
  "server-unavailable", // 3
  "bad-credentials", // 4
  "not-authorized", // 5
];

export function connackReason(returnCode: number): ConnackReason {
  return CONNACK_REASONS[returnCode - 1] ?? "unknown-return-code";
}

/** Refusals that mean "these credentials are no good": the device must re-onboard, not retry. */
export function refusalNeedsOnboarding(reason: ConnackReason): boolean {
  return reason === "bad-credentials" || reason === "not-authorized";
}

/** Refusals worth retrying later with the same credentials. */
export function refusalIsTransient(reason: ConnackReason): boolean {
  return reason === "server-unavailable";
}

export type OfflineReason =
  | "transport" // socket closed, reset, refused, TLS failure: see the driver's detail
  | "dial-timeout"
  | "connack-timeout"
  | "keepalive-timeout"
  | "protocol-error"
  | "refused"
  | "stopped"
  /** The driver's own code threw inside a callback: the connection is dropped and dialled again. */
  | "fault";

export interface Will {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly qos: 0 | 1;
  readonly retain: boolean;
}

export interface SessionOptions {
  readonly clientId: string;
  readonly username?: string;
  readonly password?: Secret;
  readonly keepaliveSeconds: number;
  readonly will?: Will;
  readonly cleanSession?: boolean;
  /** Time allowed for TCP + TLS to come up. */
  readonly dialTimeoutMs?: number;
  /** Time allowed between CONNECT and CONNACK. */
  readonly connackTimeoutMs?: number;
  /** Time allowed for any packet after a PINGREQ before the peer is declared dead. */
  readonly pingTimeoutMs?: number;
  /** QoS 1 messages kept while unacknowledged or offline; beyond this publish() refuses. */
  readonly maxOutbox?: number;
  /** Largest packet accepted from the broker, and largest PUBLISH accepted from the caller (bytes). */
  readonly maxPacketSize?: number;
}

export type SessionAction =
  | { readonly type: "send"; readonly bytes: Uint8Array }
  | { readonly type: "close" }
  /** `discarded`: messages of the previous session a clean-session connect dropped instead of resending. */
  | { readonly type: "online"; readonly sessionPresent: boolean; readonly resent: number; readonly discarded?: number }
  | { readonly type: "offline"; readonly reason: OfflineReason; readonly detail?: string }
  | { readonly type: "refused"; readonly reason: ConnackReason }
  | { readonly type: "message"; readonly topic: string; readonly payload: Uint8Array; readonly qos: number; readonly retain: boolean }
  | { readonly type: "delivered"; readonly messageId: number; readonly topic: string }
  | { readonly type: "subscribed"; readonly messageId: number; readonly granted: readonly number[] };

export type SessionState = "offline" | "dialing" | "connecting" | "online";

interface OutboxEntry {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly retain: boolean;
  sent: boolean;
}

export class OutboxFull extends Error {
  readonly code = "outbox-full";
}

export class MqttSession {
  readonly #options: SessionOptions;
  #state: SessionState = "offline";
  #reader: PacketReader;
  #deadline: number | undefined; // dial / CONNACK / ping deadline, whichever applies
  #lastSent = 0;
  #pingOutstanding = false;
  #nextId = 1;
  #discarded = 0; // dropped by the clean-session CONNECT now under way
  readonly #outbox = new Map<number, OutboxEntry>(); // insertion order = publish order
  readonly #subscriptions = new Map<string, 0 | 1>();
  readonly #pendingSubscribes = new Map<number, readonly string[]>(); // SUBSCRIBE sent, SUBACK awaited
  /** Filters the broker has not acknowledged yet: sent at the next CONNACK even if it kept the session. */
  readonly #unacknowledgedFilters = new Set<string>();
  readonly #inboundQos2 = new Set<number>();

  /** Throws MqttInputError for a client ID, user name, password or will the CONNECT encoder would refuse. */
  constructor(options: SessionOptions) {
    checkClientId(options.clientId, options.cleanSession ?? false);
    checkCredentials(options.username, options.password);
    if (options.will) {
      checkTopicName(options.will.topic, "will topic");
      const payload: unknown = options.will.payload;
      if (!(payload instanceof Uint8Array) || payload.length > 0xffff) throw new MqttInputError("bad-payload", "will message must be at most 65535 bytes");
    }
    this.#options = options;
    this.#reader = this.#newReader();
  }

  get state(): SessionState { return this.#state; }
  get outboxSize(): number { return this.#outbox.size; }

  /** The driver is opening the transport. */
  dial(now: number): void {
    this.#state = "dialing";
    this.#deadline = now + (this.#options.dialTimeoutMs ?? 15_000);
  }

  /** TCP and TLS are up: send CONNECT. */
  transportUp(now: number): SessionAction[] {
    if (this.#state !== "dialing") return [];
    this.#state = "connecting";
    this.#deadline = now + (this.#options.connackTimeoutMs ?? 10_000);
    const o = this.#options;
    if (o.cleanSession) {
      // The broker will forget the old session: what it sent us and what we sent it is void.
      for (const [id, entry] of this.#outbox) {
        if (!entry.sent) continue;
        this.#outbox.delete(id);
        this.#discarded++;
      }
      this.#inboundQos2.clear();
    }
    return [this.#send({
      type: "connect",
      clientId: o.clientId,
      cleanSession: o.cleanSession ?? false,
      keepalive: o.keepaliveSeconds,
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      ...(o.will ? { will: { topic: o.will.topic, payload: o.will.payload, qos: o.will.qos, retain: o.will.retain } } : {}),
    }, now)];
  }

  /** The transport is gone (closed, reset, refused, TLS failure). */
  transportDown(detail: string): SessionAction[] {
    if (this.#state === "offline") return [];
    return this.#goOffline("transport", detail, false);
  }

  receive(bytes: Uint8Array, now: number): SessionAction[] {
    if (this.#state !== "connecting" && this.#state !== "online") return [];
    const actions: SessionAction[] = [];
    try {
      this.#reader.push(bytes);
      for (let packet = this.#reader.next(); packet; packet = this.#reader.next()) {
        this.#pingOutstanding = false; // any packet proves the peer alive
        if (this.#state === "online") this.#deadline = undefined;
        actions.push(...this.#handle(packet, now));
        if ((this.#state as SessionState) === "offline") break;
      }
    } catch (e) {
      if (!(e instanceof MqttDecodeError)) throw e;
      actions.push(...this.#goOffline("protocol-error", `malformed packet from broker (${e.code})`, true));
    }
    return actions;
  }

  /** Deadlines: call at (or after) `nextDeadline()`. */
  tick(now: number): SessionAction[] {
    if (this.#state === "offline") return [];
    if (this.#deadline !== undefined && now >= this.#deadline) {
      const reason = this.#state === "dialing" ? "dial-timeout" : this.#state === "connecting" ? "connack-timeout" : "keepalive-timeout";
      return this.#goOffline(reason, undefined, true);
    }
    const keepaliveMs = this.#options.keepaliveSeconds * 1000;
    if (this.#state === "online" && keepaliveMs > 0 && !this.#pingOutstanding && now - this.#lastSent >= keepaliveMs) {
      this.#pingOutstanding = true;
      this.#deadline = now + (this.#options.pingTimeoutMs ?? Math.min(keepaliveMs, 30_000));
      return [this.#send({ type: "pingreq" }, now)];
    }
    return [];
  }

  nextDeadline(): number | undefined {
    if (this.#state === "offline") return undefined;
    const keepaliveMs = this.#options.keepaliveSeconds * 1000;
    const ping = this.#state === "online" && keepaliveMs > 0 && !this.#pingOutstanding ? this.#lastSent + keepaliveMs : undefined;
    if (this.#deadline === undefined) return ping;
    return ping === undefined ? this.#deadline : Math.min(ping, this.#deadline);
  }

  /**
   * Queue a message. QoS 1 returns its message ID and is kept until PUBACKed, across reconnects;
   * QoS 0 is sent only while online (at most once) and returns 0.
   */
  publish(topic: string, payload: Uint8Array, qos: 0 | 1, retain: boolean, now: number): { messageId: number; actions: SessionAction[] } {
    checkTopicName(topic);
    checkPayload(payload, utf8(topic).length, this.#maxPacketSize() - 5); // 5: fixed header
    if (qos === 0) {
      const actions = this.#state === "online" ? [this.#send({ type: "publish", topic, payload, qos: 0, retain, dup: false }, now)] : [];
      return { messageId: 0, actions };
    }
    if (this.#outbox.size >= (this.#options.maxOutbox ?? 256)) throw new OutboxFull(`MQTT outbox full (${this.#outbox.size} messages awaiting acknowledgement)`);
    const messageId = this.#allocateId();
    const entry: OutboxEntry = { topic, payload: payload.slice(), retain, sent: false };
    this.#outbox.set(messageId, entry);
    const actions = this.#state === "online" ? [this.#sendEntry(messageId, entry, now)] : [];
    return { messageId, actions };
  }

  /** Give up on a QoS 1 message: it leaves the outbox and is not sent again. False if unknown. */
  discard(messageId: number): boolean {
    return this.#outbox.delete(messageId);
  }

  subscribe(topic: string, qos: 0 | 1, now: number): SessionAction[] {
    checkTopicFilter(topic);
    this.#subscriptions.set(topic, qos);
    this.#unacknowledgedFilters.add(topic);
    return this.#state === "online" ? [this.#sendSubscribe([[topic, qos]], now)] : [];
  }

  /** The driver failed inside one of its callbacks: drop this connection (it dials again). */
  fault(detail: string): SessionAction[] {
    if (this.#state === "offline") return [];
    return this.#goOffline("fault", detail, true);
  }

  /** Orderly goodbye: DISCONNECT (the broker then discards the will), then close. */
  disconnect(now: number): SessionAction[] {
    const actions: SessionAction[] = [];
    if (this.#state === "online") actions.push(this.#send({ type: "disconnect" }, now));
    if (this.#state !== "offline") actions.push(...this.#goOffline("stopped", undefined, true));
    return actions;
  }

  #handle(packet: MqttPacket, now: number): SessionAction[] {
    if (this.#state === "connecting") {
      if (packet.type !== "connack") return this.#goOffline("protocol-error", `expected CONNACK, got ${packet.type}`, true);
      if (packet.returnCode !== 0) {
        const reason = connackReason(packet.returnCode);
        return [{ type: "refused", reason }, ...this.#goOffline("refused", reason, true)];
      }
      return this.#becomeOnline(packet.sessionPresent, now);
    }
    switch (packet.type) {
      case "publish":
        return this.#inboundPublish(packet, now);
      case "puback": {
        const entry = this.#outbox.get(packet.messageId);
        if (!entry) return []; // a late duplicate acknowledgement: harmless
        this.#outbox.delete(packet.messageId);
        return [{ type: "delivered", messageId: packet.messageId, topic: entry.topic }];
      }
      case "pubrel":
        this.#inboundQos2.delete(packet.messageId);
        return [this.#send({ type: "pubcomp", messageId: packet.messageId }, now)];
      case "suback":
        const filters = this.#pendingSubscribes.get(packet.messageId);
        if (!filters) return [];
        this.#pendingSubscribes.delete(packet.messageId);
        for (const f of filters) this.#unacknowledgedFilters.delete(f);
        return [{ type: "subscribed", messageId: packet.messageId, granted: packet.granted }];
      case "unsuback":
      case "pingresp":
        return [];
      default:
        return this.#goOffline("protocol-error", `unexpected ${packet.type} from broker`, true);
    }
  }

  #inboundPublish(packet: Extract<MqttPacket, { type: "publish" }>, now: number): SessionAction[] {
    const message: SessionAction = { type: "message", topic: packet.topic, payload: packet.payload, qos: packet.qos, retain: packet.retain };
    if (packet.qos === 0) return [message];
    const id = packet.messageId!;
    if (packet.qos === 1) return [message, this.#send({ type: "puback", messageId: id }, now)];
    // QoS 2, "method B": deliver on first PUBLISH, remember the ID until PUBREL to drop duplicates.
    const first = !this.#inboundQos2.has(id);
    this.#inboundQos2.add(id);
    const ack = this.#send({ type: "pubrec", messageId: id }, now);
    return first ? [message, ack] : [ack];
  }

  #becomeOnline(sessionPresent: boolean, now: number): SessionAction[] {
    this.#state = "online";
    this.#deadline = undefined;
    this.#pingOutstanding = false;
    const actions: SessionAction[] = [];
    let resent = 0;
    const filters = sessionPresent ? [...this.#subscriptions].filter(([f]) => this.#unacknowledgedFilters.has(f)) : [...this.#subscriptions];
    if (filters.length > 0) {
      actions.push(this.#sendSubscribe(filters, now));
    }
    for (const [id, entry] of this.#outbox) {
      if (entry.sent) resent++;
      actions.push(this.#sendEntry(id, entry, now));
    }
    // Last: what the listeners of "online" publish must follow the resends, not overtake them.
    const discarded = this.#discarded;
    this.#discarded = 0;
    actions.push(discarded > 0 ? { type: "online", sessionPresent, resent, discarded } : { type: "online", sessionPresent, resent });
    return actions;
  }

  #goOffline(reason: OfflineReason, detail: string | undefined, close: boolean): SessionAction[] {
    this.#state = "offline";
    this.#deadline = undefined;
    this.#pingOutstanding = false;
    this.#pendingSubscribes.clear();
    this.#reader = this.#newReader(); // the byte stream of the old connection is meaningless now
    const offline: SessionAction = detail === undefined ? { type: "offline", reason } : { type: "offline", reason, detail };
    return close ? [{ type: "close" }, offline] : [offline];
  }

  #sendEntry(messageId: number, entry: OutboxEntry, now: number): SessionAction {
    const dup = entry.sent;
    entry.sent = true;
    return this.#send({ type: "publish", topic: entry.topic, payload: entry.payload, qos: 1, retain: entry.retain, dup, messageId }, now);
  }

  #sendSubscribe(filters: readonly (readonly [string, 0 | 1])[], now: number): SessionAction {
    const messageId = this.#allocateId();
    this.#pendingSubscribes.set(messageId, filters.map(([f]) => f));
    return this.#send({ type: "subscribe", messageId, subscriptions: filters.map(([topic, qos]) => ({ topic, qos })) }, now);
  }

  #send(packet: MqttPacket, now: number): SessionAction {
    this.#lastSent = now;
    return { type: "send", bytes: encodePacket(packet) };
  }

  #allocateId(): number {
    for (let i = 0; i < 65535; i++) {
      const id = this.#nextId;
      this.#nextId = id === 65535 ? 1 : id + 1;
      if (!this.#outbox.has(id) && !this.#pendingSubscribes.has(id)) return id;
    }
    throw new OutboxFull("no free MQTT message identifier");
  }

  #maxPacketSize(): number {
    return this.#options.maxPacketSize ?? DEFAULT_MAX_PACKET_SIZE;
  }

  #newReader(): PacketReader {
    return new PacketReader({ maxPacketSize: this.#maxPacketSize() });
  }
}
