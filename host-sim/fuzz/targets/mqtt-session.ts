// The MQTT session fed arbitrary broker bytes in every state. Input layout: byte 0 picks the
// state to reach first (offline, dialing, connecting, online) and byte 1 the piece size; the rest
// arrives from the "broker" in pieces, with time moving on between them.
// Properties: nothing escapes receive()/tick(); the state is the one the actions announce; the
// outbox shrinks only by delivered messages (rejected bytes change nothing else); every byte the
// session sends decodes; and after whatever happened it can still reconnect and resend its outbox.
import { encodePacket, MqttDecodeError, type MqttPacket } from "../../../src/mqtt/codec.js";
import { MqttSession, type SessionAction, type SessionState } from "../../../src/mqtt/session.js";
import { Secret } from "../../../src/secrets/secret.js";
import { expect, type FuzzTarget } from "../target.js";
import { decodeOrRefuse, randomPacket } from "./mqtt-codec.js";

const STATES: readonly SessionState[] = ["offline", "dialing", "connecting", "online"];
const QUEUED = 3;

function newSession(): MqttSession {
  return new MqttSession({
    clientId: "fuzz", username: "u", password: Secret.fromString("p"), keepaliveSeconds: 30, maxOutbox: 16,
    will: { topic: "s", payload: new Uint8Array([1]), qos: 1, retain: true },
  });
}

/** Every `send` action carries one valid packet. */
function sentPackets(actions: readonly SessionAction[]): MqttPacket[] {
  const out: MqttPacket[] = [];
  for (const a of actions) {
    if (a.type !== "send") continue;
    const p = decodeOrRefuse(a.bytes, "session sent");
    expect(!(p instanceof MqttDecodeError), `the session sent bytes that do not decode: ${String(p)}`);
    out.push(p);
  }
  return out;
}

/** Checks a step's actions against the state change it made. */
function checkStep(received: boolean, before: SessionState, after: SessionState, outboxBefore: number, session: MqttSession, actions: readonly SessionAction[]): void {
  sentPackets(actions);
  let expected = before;
  for (const a of actions) {
    if (a.type === "online") expected = "online";
    if (a.type === "offline") expected = "offline";
  }
  expect(after === expected, `state ${before} → ${after}, but the actions announce ${expected}`);
  const delivered = actions.filter((a) => a.type === "delivered").length;
  expect(session.outboxSize === outboxBefore - delivered, `outbox ${outboxBefore} → ${session.outboxSize} with ${delivered} delivered`);
  expect((session.nextDeadline() === undefined) === (after === "offline"), `deadline ${String(session.nextDeadline())} in state ${after}`);
  if (received && (before === "offline" || before === "dialing")) expect(actions.length === 0 && after === before, `bytes received while ${before} had an effect`);
}

const connack0 = encodePacket({ type: "connack", sessionPresent: false, returnCode: 0 });

export const mqttSessionTarget: FuzzTarget = {
  name: "mqtt-session",
  maxLength: 1024,
  seeds(r) {
    return Array.from({ length: 100 }, () => {
      const stream = [r.int(0, 3), r.int(0, 255), ...connack0];
      for (let i = r.int(0, 6); i > 0; i--) stream.push(...encodePacket(r.bool(0.3) ? { type: "puback", messageId: r.int(1, QUEUED + 1) } : randomPacket(r)));
      return Uint8Array.from(stream);
    });
  },
  generators: [
    // a broker's reply stream: CONNACK (any code) then any valid packets
    (r) => {
      const code = r.pick([0, 0, 0, r.int(1, 5), r.int(6, 255)]);
      const stream = [3, r.int(0, 255), ...encodePacket({ type: "connack", sessionPresent: code === 0 && r.bool(), returnCode: code })];
      for (let i = r.int(0, 8); i > 0; i--) stream.push(...encodePacket(randomPacket(r)));
      return Uint8Array.from(stream);
    },
  ],
  run(input) {
    const session = newSession();
    let now = 1_000;
    session.subscribe("cmd/#", 1, now);
    for (let i = 0; i < QUEUED; i++) session.publish(`t/${i}`, new Uint8Array([i]), 1, false, now);
    const target = STATES[(input[0] ?? 0) % 4]!;
    if (target !== "offline") session.dial(now);
    if (target === "connecting" || target === "online") sentPackets(session.transportUp(now));
    if (target === "online") {
      const actions = session.receive(connack0, now);
      expect(session.state === "online" && sentPackets(actions).filter((p) => p.type === "publish").length === QUEUED, "did not come online with its outbox");
    }
    expect(session.state === target, `could not reach ${target}`);
    const piece = 1 + ((input[1] ?? 0) % 64);
    for (let at = 2; at < input.length; at += piece) {
      const before = session.state;
      const outbox = session.outboxSize;
      const received = session.receive(input.subarray(at, at + piece), now);
      checkStep(true, before, session.state, outbox, session, received);
      now += 1 + (input[at]! * 40); // up to ~10 s per piece: deadlines and keepalives fire
      const tickBefore = session.state;
      const tickOutbox = session.outboxSize;
      const ticked = session.tick(now);
      checkStep(false, tickBefore, session.state, tickOutbox, session, ticked);
    }
    // Whatever happened, the session can come back and resend what it still owes.
    const owed = session.outboxSize;
    if (session.state !== "offline") session.transportDown("fuzz: cut");
    session.dial(now);
    const connect = sentPackets(session.transportUp(now));
    expect(connect.length === 1 && connect[0]!.type === "connect", "no CONNECT after reconnecting");
    const back = session.receive(connack0, now);
    expect(session.state === "online", "did not come back online");
    expect(sentPackets(back).filter((p) => p.type === "publish").length === owed, "outbox not resent in full after reconnecting");
  },
};
