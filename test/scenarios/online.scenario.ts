// End to end against a real broker over TLS: a device whose flash holds credentials boots,
// verifies the broker, connects and publishes; and the refusals are typed.
import { fromUtf8, utf8 } from "../../src/bytes/bytes.js";
import { generateIdentity, nodeIdOf } from "../../src/identity/identity.js";
import { Device, type DeviceEvent } from "../../src/lifecycle/device.js";
import type { ClientEvent } from "../../src/mqtt/client.js";
import { Secret } from "../../src/secrets/secret.js";
import { CredentialStore } from "../../src/storage/credential-store.js";
import type { MqttCredentials } from "../../src/storage/credential-record.js";
import { check, checkEqual, waitFor, type BrokerEnv, type Scenario, type SimDevice } from "./harness.js";
import { observe } from "./observer.js";

const FAST = { telemetryIntervalMs: 150, keepaliveSeconds: 30, backoff: { initialMs: 200, maxMs: 1_000, minMs: 50 } };

/** Put factory credentials in a new device's flash, as a fleet's production line would. */
function provisioned(d: SimDevice, broker: BrokerEnv, overrides: Partial<MqttCredentials> = {}): string {
  const identity = generateIdentity(d.io);
  const nodeId = nodeIdOf(d.io.crypto, identity);
  new CredentialStore(d.io.storage).save({
    version: 1,
    identity,
    mqtt: {
      brokerUrl: `mqtts://${broker.host}:${broker.port}`,
      clientId: nodeId,
      username: broker.username,
      password: Secret.fromString(broker.password),
      ca: broker.ca,
      ...overrides,
    },
  });
  return nodeId;
}

function stateLog(device: Device): string[] {
  const states: string[] = [];
  device.on((e: DeviceEvent) => {
    if (e.type === "state") states.push(e.reason ? `${e.state}: ${e.reason}` : e.state);
  });
  return states;
}

export const scenarios: Scenario[] = [
  {
    name: "online: stored credentials → TLS → CONNACK → telemetry and a retained online status; reboot writes nothing",
    needs: ["broker"],
    async run(ctx) {
      const broker = ctx.broker!;
      const d = ctx.device();
      const nodeId = provisioned(d, broker);
      const observer = await observe(d.io, broker, `devices/${nodeId}/#`);
      const device = new Device(d.io, FAST);
      const states = stateLog(device);
      const writesBefore = d.flash.writeCount;
      device.boot();
      await waitFor(d.io, () => observer.messages.filter((m) => m.topic.endsWith("/telemetry")).length >= 3, 15_000, "three telemetry messages");
      checkEqual(states.slice(0, 2), ["connecting", "online"], "went straight online");
      const telemetry = observer.messages.filter((m) => m.topic === `devices/${nodeId}/telemetry`).map((m) => JSON.parse(m.payload) as { seq: number });
      checkEqual(telemetry.slice(0, 3).map((t) => t.seq), [1, 2, 3], "telemetry in order");
      check(observer.messages.some((m) => m.topic === `devices/${nodeId}/status` && m.payload === '{"online":true}'), "online status published");
      checkEqual(d.flash.writeCount, writesBefore, "connecting wrote nothing to flash");

      // Commands reach the device: subscribe on the device's session, publish from the observer.
      const received: string[] = [];
      let subscribed = false;
      device.mqtt!.on((e) => {
        if (e.type === "message") received.push(fromUtf8(e.payload));
        if (e.type === "subscribed") subscribed = true;
      });
      device.mqtt!.subscribe(`devices/${nodeId}/cmd`, 1);
      await waitFor(d.io, () => subscribed, 5_000, "device subscription");
      let delivered = false;
      observer.client.on((e) => { if (e.type === "delivered") delivered = true; });
      observer.client.publish(`devices/${nodeId}/cmd`, utf8("blink"), { qos: 1 });
      await waitFor(d.io, () => delivered && received.includes("blink"), 10_000, "command round trip");

      device.shutdown();
      observer.client.stop();
      const password = broker.password;
      for (const record of d.logs) check(!JSON.stringify(record).includes(password), "the password never appears in a log");

      // Reboot: the same credentials, straight online again, still no flash writes.
      const again = d.reboot();
      const watcher = await observe(again.io, broker, `devices/${nodeId}/status`);
      const rebooted = new Device(again.io, FAST);
      const report = rebooted.boot();
      checkEqual(report.nodeId, nodeId, "same node after reboot");
      await waitFor(again.io, () => rebooted.state === "online", 10_000, "online after reboot");
      checkEqual(again.flash.writeCount, 0, "a normal reboot writes nothing to flash");
      rebooted.shutdown();
      await waitFor(again.io, () => watcher.messages.some((m) => m.payload === '{"online":false}'), 5_000, "offline status on shutdown");
      watcher.client.stop();
    },
  },
  {
    name: "online: a wrong password ends in needs-onboarding, not a retry loop",
    needs: ["broker"],
    async run(ctx) {
      const broker = ctx.broker!;
      const d = ctx.device();
      provisioned(d, broker, { password: Secret.fromString("wrong password") });
      const device = new Device(d.io, FAST);
      const states = stateLog(device);
      device.boot();
      await waitFor(d.io, () => device.state === "needs-onboarding", 10_000, "needs-onboarding");
      const last = states[states.length - 1] ?? "";
      check(/credentials rejected: (bad-credentials|not-authorized)/.test(last), `typed reason (${last})`);
      check(!states.includes("online"), "never online");
      check(!d.logs.some((r) => JSON.stringify(r).includes("wrong password")), "the password is not logged");
    },
  },
  {
    name: "online: a broker certificate from another CA is refused before any credential is sent",
    needs: ["broker"],
    async run(ctx) {
      const broker = ctx.broker!;
      const d = ctx.device();
      provisioned(d, broker, { ca: broker.wrongCa });
      const device = new Device(d.io, FAST);
      const offline: ClientEvent[] = [];
      let tlsUp = false;
      device.on((e) => {
        if (e.type !== "mqtt") return;
        if (e.event.type === "offline") offline.push(e.event);
        if (e.event.type === "transport-up") tlsUp = true;
      });
      device.boot();
      await waitFor(d.io, () => offline.length >= 2, 10_000, "two refused attempts");
      const first = offline[0];
      check(first?.type === "offline" && first.socketError?.kind === "tls", "refused by TLS verification");
      check(!tlsUp, "the TLS session never came up, so CONNECT (with the password) was never sent");
      check(device.state === "backoff" || device.state === "connecting", "keeps retrying with backoff");
      device.shutdown();
    },
  },
  {
    name: "online: a broker name that does not match its certificate is refused",
    needs: ["broker"],
    async run(ctx) {
      const broker = ctx.broker!;
      const d = ctx.device();
      provisioned(d, broker, { serverName: "not-the-broker.example.com" });
      const device = new Device(d.io, FAST);
      let refused: ClientEvent | undefined;
      device.on((e) => { if (e.type === "mqtt" && e.event.type === "offline" && !refused) refused = e.event; });
      device.boot();
      await waitFor(d.io, () => refused !== undefined, 10_000, "refusal");
      check(refused?.type === "offline" && refused.socketError?.kind === "tls", "refused by TLS");
      device.shutdown();
    },
  },
];
