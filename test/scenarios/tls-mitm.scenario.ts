// Men in the middle, on both engines (issue #13): the device's MQTT client, holding its password,
// dials each attacker of host-sim/net-faults/mitm.ts (forged leaf + real CA, the real chain with
// an unsigned ECDHE key, wrong host, expired, not yet valid, another CA, garbled records). The
// firmware's own verifier — inside XS on the XS run, with our JavaScript signature primitives —
// must refuse each with its typed reason before CONNECT, and the attackers' own report must show
// that no application byte and no password reached them. The real broker still verifies.
import { fromUtf8 } from "../../src/bytes/bytes.js";
import type { Io } from "../../src/io/io.js";
import { MqttClient, type ClientEvent } from "../../src/mqtt/client.js";
import { Secret } from "../../src/secrets/secret.js";
import { check, checkEqual, waitFor, type BrokerEnv, type Scenario } from "./harness.js";

async function dial(io: Io, broker: BrokerEnv, host: string, port: number): Promise<ClientEvent[]> {
  const events: ClientEvent[] = [];
  const client = new MqttClient(io, {
    endpoint: { host, port, ca: broker.ca, serverName: "localhost" },
    clientId: "mitm-victim", username: broker.username, password: Secret.fromString(broker.password), keepaliveSeconds: 30,
  });
  client.on((e) => events.push(e));
  client.start();
  await waitFor(io, () => events.some((e) => e.type === "offline" || e.type === "online"), 15_000, "the client settles");
  client.stop();
  return events;
}

interface Report { connections: number; applicationBytes: number; plaintextBytes: number; passwordSeen: boolean }

async function attackReport(io: Io, port: number): Promise<Record<string, Report>> {
  const parts: Uint8Array[] = [];
  let done = false;
  const socket = io.network.tcp({
    host: "127.0.0.1", port,
    onReadable: () => { const b = socket.read(); if (b) parts.push(b); },
    onError: () => { done = true; },
  });
  await waitFor(io, () => done, 10_000, "the attack report");
  let length = 0;
  for (const p of parts) length += p.length;
  const all = new Uint8Array(length);
  let at = 0;
  for (const p of parts) { all.set(p, at); at += p.length; }
  return JSON.parse(fromUtf8(all)) as Record<string, Report>;
}

export const scenarios: Scenario[] = [
  {
    name: "tls: every man in the middle is refused with its typed reason before a byte of application data",
    needs: ["broker"],
    async run(ctx) {
      const broker = ctx.broker!;
      check(broker.attackers !== undefined && broker.attackers.length >= 7, "the harness runs the attackers");
      const d = ctx.device();
      for (const attacker of broker.attackers!) {
        const events = await dial(d.io, broker, attacker.host, attacker.port);
        const offline = events.find((e) => e.type === "offline");
        check(offline?.type === "offline", `${attacker.kind}: offline`);
        checkEqual(offline.socketError?.reason, attacker.reason, `${attacker.kind}: typed reason (${offline.socketError?.message ?? ""})`);
        check(!events.some((e) => e.type === "transport-up" || e.type === "online"), `${attacker.kind}: CONNECT never sent`);
      }
      const report = await attackReport(d.io, broker.attackReportPort!);
      for (const attacker of broker.attackers!) {
        const r = report[attacker.kind];
        check(r !== undefined && r.connections >= 1, `${attacker.kind}: reached`);
        checkEqual(r.applicationBytes, 0, `${attacker.kind}: application bytes received`);
        checkEqual(r.plaintextBytes, 0, `${attacker.kind}: plaintext decrypted`);
        checkEqual(r.passwordSeen, false, `${attacker.kind}: password seen`);
      }
      check(!d.logs.some((l) => JSON.stringify(l).includes(broker.password)), "no password in the logs");
      const refusals = d.logs.filter((l) => l.scope === "tls" && l.event === "refused");
      check(refusals.length >= broker.attackers!.length, "every refusal logged");
    },
  },
  {
    name: "tls: the real broker is verified by the firmware (chain, name, dates, signed key exchange)",
    needs: ["broker"],
    async run(ctx) {
      const broker = ctx.broker!;
      const d = ctx.device();
      const events = await dial(d.io, broker, broker.host, broker.port);
      check(events.some((e) => e.type === "online"), `online (${JSON.stringify(events.find((e) => e.type === "offline") ?? null)})`);
      check(d.logs.some((l) => l.scope === "tls" && l.event === "verified" && l.fields.chain === true), "verified by the core");
    },
  },
];
