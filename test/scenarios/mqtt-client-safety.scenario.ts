// The MQTT client as a strict broker and a hostile cloud meet it (issue 11, Deliver 5; issue 14,
// H2): what the encoder would refuse is refused to the caller before it is queued; nothing thrown
// inside a socket or timer callback leaves it; resends precede what the "online" listeners
// publish; a clean-session connect does not resend the old session's messages.
// The rules checked here are MQTT 3.1.1's (U+0000 [MQTT-1.5.3-2], wildcards in topic names
// [MQTT-3.3.2-2], empty client ID [MQTT-3.1.3-7], password without user name [MQTT-3.1.2-22]):
// the expected refusals are our reading of the standard (self-derived oracle).
import { fromUtf8, utf8 } from "../../src/bytes/bytes.js";
import type { Io, Socket, TlsOptions } from "../../src/io/io.js";
import { MqttClient, type ClientEvent } from "../../src/mqtt/client.js";
import { decodePacket, encodePacket, type MqttPacket } from "../../src/mqtt/codec.js";
import { MqttInputError } from "../../src/mqtt/input.js";
import { MqttSession, type SessionAction, type SessionOptions } from "../../src/mqtt/session.js";
import { Secret } from "../../src/secrets/secret.js";
import { generateIdentity, nodeIdOf } from "../../src/identity/identity.js";
import { Device } from "../../src/lifecycle/device.js";
import { CredentialStore } from "../../src/storage/credential-store.js";
import { check, checkEqual, checkThrows, waitFor, type BrokerEnv, type Scenario } from "./harness.js";

const OPTIONS: SessionOptions = { clientId: "node-x", username: "u", password: Secret.fromString("p"), keepaliveSeconds: 30 };
const kinds = (actions: readonly SessionAction[]) => actions.map((a) => (a.type === "send" ? `send:${decodePacket(a.bytes).type}` : a.type));
const sent = (actions: readonly SessionAction[]): MqttPacket[] => actions.flatMap((a) => (a.type === "send" ? [decodePacket(a.bytes)] : []));

function onlineSession(options: SessionOptions = OPTIONS): MqttSession {
  const s = new MqttSession(options);
  s.dial(0);
  s.transportUp(0);
  s.receive(encodePacket({ type: "connack", sessionPresent: false, returnCode: 0 }), 0);
  return s;
}

function reconnect(s: MqttSession, sessionPresent: boolean): SessionAction[] {
  s.transportDown("reset");
  s.dial(1);
  s.transportUp(1);
  return s.receive(encodePacket({ type: "connack", sessionPresent, returnCode: 0 }), 2);
}

const BAD_TOPICS: readonly [string, string][] = [
  ["a/\u0000/b", "U+0000"], ["", "empty"], ["a/+/b", "single-level wildcard"], ["a/#", "multi-level wildcard"], ["a\ud800", "lone surrogate"],
];

type Fault = "write" | "read" | "clock" | "timer-set";

/**
 * The device's I/O with a trap around every callback it hands out (so an exception that escapes
 * the client is recorded, not lost, on Node and XS alike) and with faults that can be armed.
 */
function trappedIo(io: Io) {
  const escaped: string[] = [];
  let armed: Fault | undefined;
  const trip = (fault: Fault) => {
    if (armed !== fault) return;
    armed = undefined;
    throw new Error(`injected ${fault} failure`);
  };
  const trap = <A extends unknown[]>(where: string, fn: ((...args: A) => void) | undefined) => fn && ((...args: A) => {
    try {
      fn(...args);
    } catch (e) {
      escaped.push(`${where}: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
  const wrapSocket = (socket: Socket): Socket => ({
    read: () => { trip("read"); return socket.read(); },
    write: (data) => { trip("write"); socket.write(data); },
    close: () => socket.close(),
  });
  const trapped: Io = {
    ...io,
    network: {
      ...io.network,
      tls: (o: TlsOptions) => wrapSocket(io.network.tls({ ...o, onWritable: trap("onWritable", o.onWritable), onReadable: trap("onReadable", o.onReadable)!, onError: trap("onError", o.onError)! })),
    },
    timers: {
      set: (callback, ms) => { trip("timer-set"); return io.timers.set(trap("timer", callback)!, ms); },
      clear: (id) => io.timers.clear(id),
    },
    clock: { now: () => { trip("clock"); return io.clock.now(); }, monotonic: () => { trip("clock"); return io.clock.monotonic(); } },
  };
  return { io: trapped, escaped, arm: (fault: Fault) => { armed = fault; }, get armed() { return armed; } };
}

function newClient(io: Io, broker: BrokerEnv, clientId: string): MqttClient {
  return new MqttClient(io, {
    endpoint: { host: broker.host, port: broker.port, ca: broker.ca },
    clientId,
    username: broker.username,
    password: Secret.fromString(broker.password),
    keepaliveSeconds: 30,
    backoff: { initialMs: 60, maxMs: 120, minMs: 20 },
  });
}

function uniqueId(io: Io, prefix: string): string {
  const r = new Uint8Array(4);
  io.random(r);
  return `${prefix}${Array.from(r).join("")}`;
}

export const scenarios: Scenario[] = [
  {
    name: "H2: a client ID, user name, password or will the encoder refuses is refused when the client is made (typed), not inside a socket callback",
    run() {
      const cases: [Partial<SessionOptions>, string][] = [
        [{ clientId: "node\u0000x" }, "bad-client-id"],
        [{ clientId: "" }, "bad-client-id"], // persistent session needs an ID [MQTT-3.1.3-7]
        [{ clientId: "a\udc00" }, "bad-client-id"],
        [{ username: "dev\u0000ice" }, "bad-username"],
        [{ username: "x".repeat(65_536) }, "bad-username"],
        [{ username: undefined }, "bad-password"], // password without user name
        [{ will: { topic: "status/#", payload: utf8("x"), qos: 1, retain: true } }, "bad-topic"],
        [{ will: { topic: "status\u0000", payload: utf8("x"), qos: 1, retain: true } }, "bad-topic"],
      ];
      for (const [change, code] of cases) {
        const options = { ...OPTIONS, ...change } as SessionOptions;
        const e = checkThrows(() => new MqttSession(options), MqttInputError, `${code} for ${JSON.stringify(Object.keys(change))}`);
        checkEqual(e.code, code, "typed");
        check(!e.message.includes("\u0000") && !e.message.includes("dev"), "the message names the rule, not the value");
      }
      // the valid neighbours are accepted: an empty ID with a clean session, no credentials at all
      new MqttSession({ ...OPTIONS, clientId: "", cleanSession: true });
      new MqttSession({ clientId: "n", keepaliveSeconds: 0 });
    },
  },
  {
    name: "mqtt session: an invalid publish is refused to its caller with a typed error and never enters the outbox (nothing is sent, now or after a reconnect)",
    run() {
      const s = onlineSession();
      for (const [topic, why] of BAD_TOPICS) {
        const e = checkThrows(() => s.publish(topic, utf8("v"), 1, false, 1), MqttInputError, `QoS 1 to a topic with ${why}`);
        checkEqual(e.code, "bad-topic", why);
        checkThrows(() => s.publish(topic, utf8("v"), 0, false, 1), MqttInputError, `QoS 0 to a topic with ${why}`);
      }
      checkEqual(s.outboxSize, 0, "nothing queued");
      const big = new MqttSession({ ...OPTIONS, maxPacketSize: 1024 });
      checkEqual(checkThrows(() => big.publish("t", new Uint8Array(1024), 1, false, 0), MqttInputError, "larger than a packet may be").code, "bad-payload", "payload");
      big.publish("t", new Uint8Array(1000), 1, false, 0); // fits
      for (const filter of ["a/#/b", "a+/b", "", "x\u0000"]) {
        checkEqual(checkThrows(() => s.subscribe(filter, 1, 1), MqttInputError, `filter ${JSON.stringify(filter)}`).code, "bad-filter", "typed");
      }
      const good = s.publish("t/ok", utf8("v"), 1, false, 2);
      checkEqual(kinds(reconnect(s, true)), ["send:publish", "online"], "after a reconnect only the valid message goes out");
      check(good.messageId > 0, "the valid one was queued");
    },
  },
  {
    name: "mqtt session: resends go out before the online notice, so what its listeners publish follows them",
    run() {
      const s = onlineSession();
      s.publish("t/retained", utf8("old"), 1, true, 1); // sent, never acknowledged
      s.transportDown("reset");
      s.publish("t/retained", utf8("queued"), 1, true, 2); // queued offline
      s.dial(3);
      s.transportUp(3);
      const back = s.receive(encodePacket({ type: "connack", sessionPresent: true, returnCode: 0 }), 4);
      checkEqual(kinds(back), ["send:publish", "send:publish", "online"], "resend, queued, then the notice");
      checkEqual(sent(back).map((p) => (p.type === "publish" ? fromUtf8(p.payload) : "")), ["old", "queued"], "in publish order");
    },
  },
  {
    name: "mqtt session: a clean-session connect discards the old session's unacknowledged messages (no DUP resend); unsent ones go out fresh",
    run() {
      const s = onlineSession({ ...OPTIONS, cleanSession: true });
      const old = s.publish("t/a", utf8("old"), 1, false, 1);
      s.transportDown("reset");
      const fresh = s.publish("t/a", utf8("new"), 1, false, 2);
      const back = reconnect(s, false);
      const publishes = sent(back).filter((p) => p.type === "publish");
      checkEqual(publishes.length, 1, "one publish");
      const [p] = publishes;
      check(p?.type === "publish" && p.messageId === fresh.messageId && !p.dup && fromUtf8(p.payload) === "new", "the unsent message, fresh");
      const online = back.find((a) => a.type === "online");
      check(online?.type === "online" && online.discarded === 1, "the discard is reported");
      checkEqual(s.discard(old.messageId), false, "the old message is gone");
      // a persistent session still resends with DUP
      const p2 = onlineSession();
      p2.publish("t/a", utf8("keep"), 1, false, 1);
      const again = sent(reconnect(p2, true));
      check(again[0]?.type === "publish" && again[0].dup, "persistent: resent with DUP");
    },
  },
  {
    name: "mqtt session: a subscription made while offline (or whose SUBACK never came) is sent at the next CONNACK even when the broker kept the session",
    run() {
      const s = onlineSession();
      s.transportDown("reset");
      s.subscribe("cmd/a", 1, 1);
      const first = sent(reconnect(s, true));
      check(first[0]?.type === "subscribe" && first[0].subscriptions.length === 1 && first[0].subscriptions[0]?.topic === "cmd/a", "the new filter is sent");
      const again = sent(reconnect(s, true)); // no SUBACK came for it
      check(again[0]?.type === "subscribe" && again[0].subscriptions[0]?.topic === "cmd/a", "sent again until acknowledged");
      s.receive(encodePacket({ type: "suback", messageId: again[0].messageId, granted: [1] }), 3);
      checkEqual(sent(reconnect(s, true)).length, 0, "acknowledged: not sent again while the broker keeps the session");
      check(sent(reconnect(s, false))[0]?.type === "subscribe", "sent again when the broker lost the session");
    },
  },
  {
    name: "mqtt client: the retained value a listener publishes on `online` is the last one the broker keeps (resends first)",
    needs: ["broker"],
    async run(ctx) {
      const broker = ctx.broker!;
      const d = ctx.device();
      const topic = `order/${uniqueId(d.io, "t")}`;
      const client = newClient(d.io, broker, uniqueId(d.io, "ord"));
      client.publish(topic, utf8("older"), { qos: 1, retain: true }); // queued before the first connect
      let delivered = 0;
      client.on((e) => {
        if (e.type === "online") client.publish(topic, utf8("newer"), { qos: 1, retain: true });
        if (e.type === "delivered") delivered++;
      });
      client.start();
      await waitFor(d.io, () => delivered >= 2, 10_000, "both delivered");
      client.stop();
      const reader = newClient(d.io, broker, uniqueId(d.io, "rd"));
      const seen: string[] = [];
      reader.on((e) => { if (e.type === "message" && e.retain) seen.push(fromUtf8(e.payload)); });
      reader.subscribe(topic, 1);
      reader.start();
      await waitFor(d.io, () => seen.length > 0, 10_000, "retained value");
      checkEqual(seen, ["newer"], "the broker kept the newer value");
      reader.publish(topic, new Uint8Array(0), { qos: 1, retain: true }); // clear the retained message
      await waitFor(d.io, () => reader.outboxSize === 0, 10_000, "cleared");
      reader.stop();
    },
  },
  {
    name: "mqtt client: every socket and timer callback path made to throw (I/O, listeners) → nothing escapes, the client reconnects and delivers",
    needs: ["broker"],
    async run(ctx) {
      const broker = ctx.broker!;
      const d = ctx.device();
      const trap = trappedIo(d.io);
      const clientId = uniqueId(d.io, "flt");
      const topic = `flt/${clientId}`;
      const client = newClient(trap.io, broker, clientId);
      const events: ClientEvent[] = [];
      let throwOn: ClientEvent["type"] | undefined;
      client.on((e) => {
        events.push(e);
        if (e.type === throwOn) {
          throwOn = undefined;
          throw new Error(`listener fails on ${e.type}`);
        }
      });
      const onlineCount = () => events.filter((e) => e.type === "online").length;
      client.subscribe(topic, 1);
      client.start();
      await waitFor(d.io, () => onlineCount() >= 1 && events.some((e) => e.type === "subscribed"), 10_000, "online");
      // The broker drops our connection when another one takes the client ID over (MQTT-3.1.4-2):
      // every step that follows (error, back-off, dial, TLS up, CONNACK, SUBACK) runs in a callback.
      const kick = async () => {
        const taker = newClient(d.io, broker, clientId);
        let up = false;
        taker.on((e) => { if (e.type === "online") { up = true; taker.stop(); } });
        taker.start();
        await waitFor(d.io, () => up, 10_000, "take-over connection");
      };
      try {
      for (const type of ["offline", "backoff", "dialing", "transport-up", "online"] as const) {
        const before = onlineCount();
        throwOn = type;
        await kick();
        await waitFor(d.io, () => throwOn === undefined, 10_000, `the listener threw on ${type}`);
        await waitFor(d.io, () => onlineCount() > before, 15_000, `online again after a listener failed on ${type}`);
      }
      for (const type of ["message", "delivered", "subscribed"] as const) {
        const before = onlineCount();
        throwOn = type;
        await waitFor(d.io, () => client.state === "online", 10_000, "online");
        if (type === "subscribed") client.subscribe(`${topic}/more`, 1);
        else client.publish(topic, utf8(type), { qos: 1 }); // our own subscription brings it back
        await waitFor(d.io, () => throwOn === undefined, 10_000, `the listener threw on ${type}`);
        await waitFor(d.io, () => onlineCount() > before, 15_000, `online again after a listener failed on ${type}`);
      }
      // The I/O failing inside callbacks: a socket write (CONNECT), a read (CONNACK), the clock, arming a timer.
      for (const fault of ["write", "read", "clock", "timer-set"] as const) {
        const before = onlineCount();
        trap.arm(fault);
        await kick();
        await waitFor(d.io, () => trap.armed === undefined, 10_000, `${fault} failure injected`);
        await waitFor(d.io, () => onlineCount() > before, 15_000, `online again after a ${fault} failure`);
      }
      await waitFor(d.io, () => client.outboxSize === 0, 10_000, "everything delivered in the end");
      } finally {
        client.stop();
      }
      checkEqual(trap.escaped, [], "no exception left a callback");
      check(events.filter((e) => e.type === "fault").length >= 12, "each failure was reported as a fault event");
    },
  },
  {
    name: "H2: a rotation command whose user name holds U+0000 is refused before the save; the device stays online with its working credentials, nothing thrown",
    needs: ["broker"],
    async run(ctx) {
      const broker = ctx.broker!;
      const d = ctx.device();
      const identity = generateIdentity(d.io);
      const nodeId = nodeIdOf(d.io.crypto, identity);
      new CredentialStore(d.io.storage).save({
        version: 1, identity,
        mqtt: { brokerUrl: `mqtts://${broker.host}:${broker.port}`, clientId: nodeId, username: broker.username, password: Secret.fromString(broker.password), ca: broker.ca },
      });
      const unit = d.reboot();
      const device = new Device(unit.io, { telemetryIntervalMs: 0, keepaliveSeconds: 30, backoff: { initialMs: 100, maxMs: 300, minMs: 50 } });
      device.boot();
      try {
        await waitFor(unit.io, () => device.state === "online", 15_000, "online");
        const writes = unit.flash.writeCount;
        const cloud = newClient(unit.io, broker, uniqueId(unit.io, "cmd"));
        cloud.start();
        cloud.publish(`devices/${nodeId}/cmd`, utf8(JSON.stringify({ rotate: { username: "evil\u0000user", password: "x" } })), { qos: 1 });
        await waitFor(unit.io, () => unit.logs.some((r) => r.event === "command-ignored"), 10_000, "the command refused");
        await waitFor(unit.io, () => cloud.outboxSize === 0, 10_000, "sent");
        cloud.stop();
        checkEqual(device.state, "online", "still online");
        checkEqual(unit.flash.writeCount, writes, "nothing written");
        check(!unit.logs.some((r) => r.event === "mqtt-fault" || r.event === "rotation-pending"), "no fault, no pending rotation");
        const loaded = new CredentialStore(unit.io.storage).load();
        check(loaded.status === "ok" && loaded.record.mqtt?.username === broker.username && loaded.record.pending === undefined, "the working credentials stay");
      } finally {
        device.shutdown();
      }
    },
  },
];
