// The MQTT session state machine driven with byte arrays and numbers for time: every edge of
// the protocol without a socket (sans-I/O), on every engine.
import { utf8 } from "../../src/bytes/bytes.js";
import { backoffDelay } from "../../src/mqtt/backoff.js";
import { decodePacket, encodePacket, type MqttPacket } from "../../src/mqtt/codec.js";
import { MqttSession, OutboxFull, refusalNeedsOnboarding, type SessionAction, type SessionOptions } from "../../src/mqtt/session.js";
import { Secret } from "../../src/secrets/secret.js";
import { check, checkEqual, checkThrows, type Scenario } from "./harness.js";

const OPTIONS: SessionOptions = {
  clientId: "node0001",
  username: "device",
  password: Secret.fromString("s3cret"),
  keepaliveSeconds: 30,
  will: { topic: "devices/node0001/status", payload: utf8('{"online":false}'), qos: 1, retain: true },
  connackTimeoutMs: 5_000,
  dialTimeoutMs: 7_000,
  pingTimeoutMs: 4_000,
  maxOutbox: 4,
};

const sent = (actions: readonly SessionAction[]): MqttPacket[] =>
  actions.flatMap((a) => (a.type === "send" ? [decodePacket(a.bytes)] : []));
const kinds = (actions: readonly SessionAction[]) => actions.map((a) => (a.type === "send" ? `send:${decodePacket(a.bytes).type}` : a.type));
const bytesOf = (p: MqttPacket) => encodePacket(p);

/** A session brought online at time `t`. */
function online(options: SessionOptions = OPTIONS, t = 0, sessionPresent = false): MqttSession {
  const s = new MqttSession(options);
  s.dial(t);
  s.transportUp(t);
  const actions = s.receive(bytesOf({ type: "connack", sessionPresent, returnCode: 0 }), t);
  check(actions[0]?.type === "online", "session goes online on CONNACK 0");
  return s;
}

export const scenarios: Scenario[] = [
  {
    name: "mqtt session: CONNECT carries identity, credentials, keepalive, clean-session off and a retained will",
    run() {
      const s = new MqttSession(OPTIONS);
      s.dial(0);
      const [connect] = sent(s.transportUp(0));
      check(connect?.type === "connect", "CONNECT sent");
      checkEqual(connect.clientId, "node0001", "client ID");
      checkEqual(connect.cleanSession, false, "clean session off");
      checkEqual(connect.keepalive, 30, "keepalive");
      checkEqual(connect.username, "device", "username");
      check(connect.password?.equals(Secret.fromString("s3cret")) === true, "password");
      checkEqual(connect.will?.retain, true, "will retained");
      checkEqual(connect.will?.qos, 1, "will QoS 1");
    },
  },
  {
    name: "mqtt session: CONNACK refusals become typed reasons",
    run() {
      const expected = ["unacceptable-protocol", "identifier-rejected", "server-unavailable", "bad-credentials", "not-authorized", "unknown-return-code"];
      for (let code = 1; code <= 6; code++) {
        const s = new MqttSession(OPTIONS);
        s.dial(0);
        s.transportUp(0);
        const actions = s.receive(bytesOf({ type: "connack", sessionPresent: false, returnCode: code }), 1);
        const refused = actions.find((a) => a.type === "refused");
        check(refused?.type === "refused", `code ${code} refused`);
        checkEqual(refused.reason, expected[code - 1], `code ${code} reason`);
        checkEqual(kinds(actions), ["refused", "close", "offline"], "then the transport is closed");
        checkEqual(s.state, "offline", "session offline");
      }
      check(refusalNeedsOnboarding("bad-credentials") && refusalNeedsOnboarding("not-authorized"), "credential refusals need onboarding");
      check(!refusalNeedsOnboarding("server-unavailable"), "server unavailable does not");
    },
  },
  {
    name: "mqtt session: keepalive sends PINGREQ when idle and declares a silent broker dead",
    run() {
      const s = online();
      checkEqual(s.nextDeadline(), 30_000, "first ping due one keepalive after the last send");
      checkEqual(kinds(s.tick(29_999)), [], "nothing before the deadline");
      checkEqual(kinds(s.tick(30_000)), ["send:pingreq"], "PINGREQ at the deadline");
      checkEqual(s.nextDeadline(), 34_000, "ping timeout armed");
      s.receive(bytesOf({ type: "pingresp" }), 31_000);
      checkEqual(s.state, "online", "PINGRESP keeps it online");
      checkEqual(kinds(s.tick(60_000)), ["send:pingreq"], "next ping");
      const dead = s.tick(64_000);
      checkEqual(kinds(dead), ["close", "offline"], "no answer: dead peer");
      const offline = dead[1];
      check(offline?.type === "offline" && offline.reason === "keepalive-timeout", "reason keepalive-timeout");
    },
  },
  {
    name: "mqtt session: QoS 1 survives reconnects, resent with DUP in order, delivered once acknowledged",
    run() {
      const s = online();
      const first = s.publish("t/a", utf8("1"), 1, false, 10);
      checkEqual(sent(first.actions)[0], { type: "publish", topic: "t/a", payload: utf8("1"), qos: 1, retain: false, dup: false, messageId: first.messageId }, "sent at once");
      checkEqual(kinds(s.transportDown("reset: peer reset")), ["offline"], "connection lost");
      const second = s.publish("t/a", utf8("2"), 1, false, 20);
      checkEqual(second.actions, [], "queued while offline");
      checkEqual(s.publish("t/a", utf8("q0"), 0, false, 21).actions, [], "QoS 0 is not queued offline");
      s.dial(30);
      s.transportUp(31);
      const back = s.receive(bytesOf({ type: "connack", sessionPresent: true, returnCode: 0 }), 32);
      checkEqual(kinds(back), ["send:publish", "send:publish", "online"], "both go out after CONNACK, before the online notice");
      const [p1, p2] = sent(back);
      check(p1?.type === "publish" && p1.dup && p1.messageId === first.messageId, "first resent with DUP");
      check(p2?.type === "publish" && !p2.dup && p2.messageId === second.messageId, "second sent fresh");
      const acks = s.receive(new Uint8Array([...bytesOf({ type: "puback", messageId: second.messageId }), ...bytesOf({ type: "puback", messageId: first.messageId })]), 40);
      checkEqual(acks.map((a) => (a.type === "delivered" ? a.messageId : -1)), [second.messageId, first.messageId], "delivered on PUBACK");
      checkEqual(s.outboxSize, 0, "outbox empty");
      checkEqual(s.receive(bytesOf({ type: "puback", messageId: first.messageId }), 41), [], "a duplicate PUBACK is harmless");
    },
  },
  {
    name: "mqtt session: subscriptions are restored when the broker lost the session",
    run() {
      const s = online();
      const [sub] = sent(s.subscribe("cmd/#", 1, 5));
      check(sub?.type === "subscribe", "SUBSCRIBE sent");
      const granted = s.receive(bytesOf({ type: "suback", messageId: sub.messageId, granted: [1] }), 6);
      check(granted[0]?.type === "subscribed", "SUBACK reported");
      s.transportDown("closed: broker restarted");
      s.dial(10);
      s.transportUp(10);
      const back = s.receive(bytesOf({ type: "connack", sessionPresent: false, returnCode: 0 }), 11);
      const resub = sent(back).find((p) => p.type === "subscribe");
      check(resub?.type === "subscribe" && resub.subscriptions[0]?.topic === "cmd/#", "resubscribed");
      s.transportDown("closed");
      s.dial(20);
      s.transportUp(20);
      const kept = s.receive(bytesOf({ type: "connack", sessionPresent: true, returnCode: 0 }), 21);
      check(!sent(kept).some((p) => p.type === "subscribe"), "not when the broker kept the session");
    },
  },
  {
    name: "mqtt session: inbound QoS 1 acknowledged, QoS 2 delivered once",
    run() {
      const s = online();
      const q1 = s.receive(bytesOf({ type: "publish", topic: "cmd/x", payload: utf8("go"), qos: 1, retain: false, dup: false, messageId: 7 }), 1);
      checkEqual(kinds(q1), ["message", "send:puback"], "QoS 1 message then PUBACK");
      const q2 = { type: "publish", topic: "cmd/y", payload: utf8("once"), qos: 2, retain: false, dup: false, messageId: 9 } as const;
      checkEqual(kinds(s.receive(bytesOf(q2), 2)), ["message", "send:pubrec"], "QoS 2 first copy delivered");
      checkEqual(kinds(s.receive(bytesOf({ ...q2, dup: true }), 3)), ["send:pubrec"], "duplicate not delivered again");
      checkEqual(kinds(s.receive(bytesOf({ type: "pubrel", messageId: 9 }), 4)), ["send:pubcomp"], "PUBREL completes");
    },
  },
  {
    name: "mqtt session: timeouts, garbage and unexpected packets end the connection cleanly",
    run() {
      const dial = new MqttSession(OPTIONS);
      dial.dial(0);
      checkEqual(kinds(dial.tick(7_000)), ["close", "offline"], "dial timeout");
      const connack = new MqttSession(OPTIONS);
      connack.dial(0);
      connack.transportUp(1);
      const timedOut = connack.tick(5_001);
      check(timedOut[1]?.type === "offline" && timedOut[1].reason === "connack-timeout", "CONNACK timeout");
      const garbage = online();
      const g = garbage.receive(new Uint8Array([0xf0, 0xff, 0xff, 0xff, 0xff, 0x7f]), 1);
      check(g[1]?.type === "offline" && g[1].reason === "protocol-error", "malformed bytes: protocol error");
      const early = new MqttSession(OPTIONS);
      early.dial(0);
      early.transportUp(0);
      const e = early.receive(bytesOf({ type: "pingresp" }), 1);
      check(e[1]?.type === "offline" && e[1].reason === "protocol-error", "anything but CONNACK first is a protocol error");
      const sub = online();
      const s = sub.receive(bytesOf({ type: "subscribe", messageId: 3, subscriptions: [{ topic: "a", qos: 0 }] }), 1);
      check(s[1]?.type === "offline" && s[1].reason === "protocol-error", "a client-only packet from the broker is a protocol error");
    },
  },
  {
    name: "mqtt session: the outbox is bounded",
    run() {
      const s = new MqttSession(OPTIONS);
      for (let i = 0; i < 4; i++) s.publish("t", utf8(String(i)), 1, false, i);
      checkThrows(() => s.publish("t", utf8("5"), 1, false, 5), OutboxFull, "fifth message refused");
    },
  },
  {
    name: "mqtt backoff: full jitter between a floor and an exponential, capped ceiling",
    run() {
      const policy = { initialMs: 1_000, maxMs: 60_000, minMs: 500 };
      checkEqual(backoffDelay(policy, 0, 0), 500, "floor");
      checkEqual(backoffDelay(policy, 0, 0.999999), 999, "first ceiling");
      checkEqual(backoffDelay(policy, 3, 0.999999), 7_999, "doubles per attempt");
      checkEqual(backoffDelay(policy, 40, 0.999999), 59_999, "capped");
      const seen = new Set<number>();
      for (let i = 0; i < 100; i++) seen.add(Math.floor(backoffDelay(policy, 10, i / 100) / 6_000));
      check(seen.size >= 9, "spread over the whole range (full jitter)");
    },
  },
];
