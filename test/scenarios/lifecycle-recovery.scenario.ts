// The lifecycle recovering by itself, engine-neutral (Node and XS): Wi-Fi lost after the device is
// online (joined from flash or through the provisioning window) and rejoined with the QoS 1 outbox
// resent; Wi-Fi gone for good → the provisioning window as at boot; a failing onboarding chain
// parked after `retry.maxRounds`; the I/O scope that cancels a running chain.
import { ConfigError, parseFactoryConfig, type FactoryConfig } from "../../src/config/factory-config.js";
import type { SocketError } from "../../src/io/io.js";
import { Device, type DeviceConfig, type DeviceEvent } from "../../src/lifecycle/device.js";
import { scopeIo } from "../../src/lifecycle/io-scope.js";
import { ProvisioningClient } from "../../src/provisioning/client.js";
import { DEFAULT_SERVICE_UUID } from "../../src/provisioning/uuid.js";
import { BleProtocommTransport } from "../../host-sim/ble/link.js";
import { check, checkEqual, checkThrows, sleep, waitFor, type Scenario, type ScenarioContext, type SimDevice } from "./harness.js";
import { bootWithRadios, HOME, radioConfig, seeded } from "./radio-rig.js";
import { observe } from "./observer.js";

const POP = "recovery-pop-3";
const home = HOME;
const config = (extra: Partial<NonNullable<DeviceConfig["provisioning"]>> = {}): DeviceConfig =>
  radioConfig(POP, { wifiJoin: { backoff: { initialMs: 40, maxMs: 80, minMs: 10 }, maxFailures: 0 }, ...extra });
const boot = bootWithRadios;

const count = (events: DeviceEvent[], state: string) => events.filter((e) => e.type === "state" && e.state === state).length;
const delivered = (events: DeviceEvent[], messageId: number) => events.some((e) => e.type === "mqtt" && e.event.type === "delivered" && e.event.messageId === messageId);
const failedJoins = (d: SimDevice) => d.logs.filter((r) => r.event === "wifi-join-failed").length;

function unreachableFactory(retry: Record<string, number>): FactoryConfig {
  return parseFactoryConfig({
    chain: ["register"],
    broker: { url: "mqtts://localhost:1" },
    register: { url: "https://localhost:1/register" }, // nothing listens there: every round fails fast
    retry: { attempts: 1, initialMs: 20, maxMs: 40, ...retry },
  });
}

export const scenarios: Scenario[] = [
  {
    name: "recovery: Wi-Fi lost while online → MQTT stopped, rejoin with back-off, a reading queued meanwhile delivered once back; nothing written",
    needs: ["broker"],
    async run(ctx: ScenarioContext) {
      const broker = ctx.broker!;
      const d = ctx.device();
      const { nodeId } = seeded(d, broker, { wifi: home });
      const watcher = ctx.device();
      const obs = await observe(watcher.io, broker, `devices/${nodeId}/telemetry`);
      const unit = d.reboot();
      const { device, events, wifi } = boot(unit, config());
      await waitFor(unit.io, () => device.state === "online", 15_000, "online");
      wifi.setInRange("home-net", false);
      await waitFor(unit.io, () => device.state === "wifi-joining", 10_000, "Wi-Fi loss noticed");
      check(unit.logs.some((r) => r.event === "offline" && r.fields["reason"] === "stopped"), "MQTT stopped by the device");
      checkEqual(device.mqtt?.state, "offline", "no MQTT session without Wi-Fi");
      const id = device.publishTelemetry({ reading: "while-offline" });
      check(id !== undefined && id > 0, "queued at QoS 1 while offline");
      await waitFor(unit.io, () => failedJoins(unit) >= 2, 10_000, "rejoin attempts fail while the network is away");
      check(unit.logs.filter((r) => r.event === "wifi-join-failed").every((r) => r.fields["reason"] === "network-not-found"), "the network is not found");
      wifi.setInRange("home-net", true);
      await waitFor(unit.io, () => count(events, "online") >= 2, 15_000, "online again");
      await waitFor(unit.io, () => delivered(events, id!), 10_000, "the queued reading acknowledged");
      await waitFor(watcher.io, () => obs.messages.some((m) => m.payload.includes("while-offline")), 10_000, "observer got the reading");
      checkEqual(unit.flash.writeCount, 0, "no flash writes");
      device.shutdown();
      obs.client.stop();
    },
  },
  {
    name: "recovery: Wi-Fi gone for maxFailures rejoins → the provisioning window as at boot; its timeout → the stored network again → online, outbox resent",
    needs: ["broker"],
    async run(ctx: ScenarioContext) {
      const broker = ctx.broker!;
      const d = ctx.device();
      seeded(d, broker, { wifi: home });
      const unit = d.reboot();
      const { device, events, wifi } = boot(unit, config({ windowTimeoutMs: 300, wifiJoin: { backoff: { initialMs: 20, maxMs: 40, minMs: 5 }, maxFailures: 2 } }));
      await waitFor(unit.io, () => device.state === "online", 15_000, "online");
      checkEqual(events.filter((e) => e.type === "provisioning" && e.event.type === "opened").length, 0, "no window at boot");
      wifi.setInRange("home-net", false);
      await waitFor(unit.io, () => device.state === "provisioning", 10_000, "window after the failed rejoins");
      checkEqual(failedJoins(unit), 2, "maxFailures rejoins");
      const id = device.publishTelemetry({ reading: "kept" });
      check(id !== undefined, "queued while the window is open");
      wifi.setInRange("home-net", true);
      await waitFor(unit.io, () => events.some((e) => e.type === "provisioning" && e.event.type === "closed" && e.event.reason === "timeout"), 10_000, "window timeout");
      await waitFor(unit.io, () => count(events, "online") >= 2, 15_000, "online again through the stored network");
      await waitFor(unit.io, () => delivered(events, id!), 10_000, "outbox resent and acknowledged");
      checkEqual(unit.flash.writeCount, 0, "no flash writes");
      device.shutdown();
    },
  },
  {
    name: "recovery: provisioned through the window, Wi-Fi lost after it closed → the stored network is rejoined, online again",
    needs: ["broker"],
    async run(ctx: ScenarioContext) {
      const broker = ctx.broker!;
      const d = ctx.device();
      seeded(d, broker);
      const unit = d.reboot();
      const { device, events, wifi, radio } = boot(unit, config());
      const opened = events.find((e) => e.type === "provisioning" && e.event.type === "opened");
      check(opened !== undefined && opened.type === "provisioning" && opened.event.type === "opened", "window open");
      const phone = await radio.connect(opened.event.deviceName, { mtu: 247 });
      const client = new ProvisioningClient(await BleProtocommTransport.open(phone, DEFAULT_SERVICE_UUID), unit.io.random, (ms) => sleep(unit.io, ms));
      await client.establishSession(1, { pop: POP });
      checkEqual(await client.setConfig("home-net", "correct horse battery"), 0, "set config");
      checkEqual(await client.applyConfig(), 0, "apply");
      checkEqual((await client.waitForConnection(20, 500)).state, "connected", "app sees connected");
      await waitFor(unit.io, () => device.state === "online", 15_000, "online");
      await waitFor(unit.io, () => events.some((e) => e.type === "provisioning" && e.event.type === "closed" && e.event.reason === "success"), 10_000, "window closed");
      const writes = unit.flash.writeCount;
      wifi.setInRange("home-net", false);
      await waitFor(unit.io, () => device.state === "wifi-joining", 10_000, "loss noticed after the window closed");
      wifi.setInRange("home-net", true);
      await waitFor(unit.io, () => count(events, "online") >= 2, 15_000, "online again");
      checkEqual(unit.flash.writeCount, writes, "the rejoin wrote nothing");
      device.shutdown();
    },
  },
  {
    name: "recovery: a failing chain parks in onboarding-failed after retry.maxRounds rounds, one round per parkedRetryMs; factory reset starts afresh; no cap = rounds go on",
    async run(ctx: ScenarioContext) {
      const d = ctx.device();
      const device = new Device(d.io, { telemetryIntervalMs: 0, keepaliveSeconds: 30, factory: unreachableFactory({ maxRounds: 2, parkedRetryMs: 200 }) });
      const states: string[] = [];
      let attempts = 0;
      device.on((e) => {
        if (e.type === "state") states.push(e.state);
        if (e.type === "onboarding" && e.event.type === "attempt") attempts++;
      });
      device.boot();
      await waitFor(d.io, () => states.includes("onboarding-failed"), 10_000, "parked");
      checkEqual(attempts, 2, "two rounds before parking");
      checkEqual(states.filter((s) => s.startsWith("onboarding")), ["onboarding", "onboarding-backoff", "onboarding", "onboarding-failed"], "back-off once, then parked");
      check(d.logs.some((r) => r.event === "onboarding-parked" && r.fields["rounds"] === 2), "parking logged");
      await waitFor(d.io, () => states.filter((s) => s === "onboarding-failed").length >= 2, 10_000, "the parked retry ran and parked again");
      checkEqual(attempts, 3, "one round per parked period");
      checkEqual(states.slice(-2), ["onboarding", "onboarding-failed"], "straight back to parked, no back-off rounds");
      const before = attempts;
      device.factoryReset();
      await waitFor(d.io, () => states.filter((s) => s === "onboarding-failed").length >= 3, 10_000, "parked again after the reset");
      checkEqual(attempts - before, 2, "a factory reset gives the full number of rounds again");
      device.shutdown();

      const d2 = ctx.device();
      const uncapped = new Device(d2.io, { telemetryIntervalMs: 0, keepaliveSeconds: 30, factory: unreachableFactory({}) });
      const seen: string[] = [];
      uncapped.on((e) => { if (e.type === "state") seen.push(e.state); });
      uncapped.boot();
      await waitFor(d2.io, () => seen.filter((s) => s === "onboarding-backoff").length >= 4, 10_000, "four failed rounds");
      check(!seen.includes("onboarding-failed"), "without retry.maxRounds the device never parks");
      uncapped.shutdown();
    },
  },
  {
    name: "recovery: retry.maxRounds and retry.parkedRetryMs are validated",
    run() {
      const base = { chain: ["stored"], broker: { url: "mqtts://localhost:8883" } };
      checkEqual(parseFactoryConfig(base).retry.maxRounds, undefined, "absent: no cap");
      const ok = parseFactoryConfig({ ...base, retry: { maxRounds: 5, parkedRetryMs: 600_000 } });
      checkEqual([ok.retry.maxRounds, ok.retry.parkedRetryMs, ok.retry.attempts], [5, 600_000, 3], "given values, other defaults kept");
      for (const [retry, path] of [[{ maxRounds: 0 }, "retry.maxRounds"], [{ maxRounds: 1.5 }, "retry.maxRounds"], [{ parkedRetryMs: "1h" }, "retry.parkedRetryMs"], [{ parkedRetryMs: 0 }, "retry.parkedRetryMs"], [{ maxRound: 3 }, "retry"]] as const) {
        const e = checkThrows(() => parseFactoryConfig({ ...base, retry }), ConfigError, JSON.stringify(retry));
        checkEqual(e.path, path, `${JSON.stringify(retry)}: names the field`);
      }
    },
  },
  {
    name: "recovery: a cancelled I/O scope clears its timers and closes its sockets; nothing of it runs afterwards",
    needs: ["broker"],
    async run(ctx: ScenarioContext) {
      const broker = ctx.broker!;
      const d = ctx.device();
      const scope = scopeIo(d.io);
      let fired = 0;
      let writable = 0;
      const errors: SocketError[] = [];
      scope.io.timers.set(() => fired++, 100);
      const cleared = scope.io.timers.set(() => fired++, 50);
      scope.io.timers.clear(cleared);
      scope.io.network.tls({ host: broker.host, port: broker.port, ca: broker.ca, onWritable: () => { writable++; }, onReadable: () => undefined, onError: (e) => { errors.push(e); } });
      await waitFor(d.io, () => writable > 0, 10_000, "TLS up");
      checkEqual(scope.live, 2, "one timer and one socket alive");
      scope.cancel();
      checkEqual(scope.live, 0, "nothing alive after cancel");
      scope.io.timers.set(() => fired++, 10);
      const late = scope.io.network.tcp({ host: broker.host, port: broker.port, onReadable: () => undefined, onError: (e) => { errors.push(e); } });
      await sleep(d.io, 300);
      checkEqual(fired, 0, "no timer of the scope fired");
      checkEqual(errors, [], "no socket handler ran after cancel");
      checkEqual(late.read(), undefined, "a socket asked for after cancel is inert");
      // the scope leaves the device's own I/O alone
      let outer = false;
      d.io.timers.set(() => { outer = true; }, 5);
      await waitFor(d.io, () => outer, 1_000, "outer timers still work");
    },
  },
];
