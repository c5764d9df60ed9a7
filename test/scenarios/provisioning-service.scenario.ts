// The protocomm service behind every transport (issues 11, 14, 15), engine-neutral: a window over
// the simulated radios, driven by our phone-side client through a direct transport (the
// dispatcher itself, no BLE or HTTP framing), so what is checked is the service's own rule.
import { generateIdentity } from "../../src/identity/identity.js";
import { ProvisioningClient, type ProtocommTransport } from "../../src/provisioning/client.js";
import { ProtocommError } from "../../src/provisioning/errors.js";
import { PopAttemptLimiter } from "../../src/provisioning/pop-limiter.js";
import { checkPopStrength, PopTooWeakError } from "../../src/provisioning/pop-strength.js";
import type { SecurityVersion } from "../../src/provisioning/security.js";
import { ProvisioningService } from "../../src/provisioning/service.js";
import { openProvisioningWindow, type ProvisioningWindowOptions, type WindowEvent } from "../../src/provisioning/window.js";
import { Secret } from "../../src/secrets/secret.js";
import { SimBleRadio } from "../../host-sim/ble/link.js";
import { withRadios } from "../../host-sim/provisioning/kit.js";
import { bootWithRadios, radioConfig } from "./radio-rig.js";
import { check, checkEqual, checkThrows, waitFor, type Scenario, type ScenarioContext } from "./harness.js";

const POP = "k7Qp-2mXv";

function setup(ctx: ScenarioContext, options: Partial<ProvisioningWindowOptions> = {}, timing: { scanMs?: number; connectMs?: number } = {}) {
  const d = ctx.device();
  const dev = withRadios(d.io, new SimBleRadio(), undefined, { scanMs: 5, connectMs: 10, ...timing });
  const events: WindowEvent[] = [];
  const window = openProvisioningWindow(dev.io, generateIdentity(d.io), {
    security: 1,
    pop: Secret.fromString(POP),
    ble: false,
    closeAfterSuccessMs: 50,
    retryDelayMs: 10,
    connectAttempts: 1,
    onEvent: (e) => events.push(e),
    ...options,
  });
  return { d, dev, events, window };
}

let nextSession = 1;

/** A transport session straight into the dispatcher (what the GATT glue and HTTP server do). */
function direct(service: ProvisioningService): ProtocommTransport & { readonly id: number } {
  const id = nextSession++;
  service.openSession(id);
  return { id, send: (endpoint, data) => Promise.resolve().then(() => service.handle(id, endpoint, data)) };
}

async function failure(p: Promise<unknown>, what: string): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error(`${what}: expected a failure`);
}

async function session(ctx: ScenarioContext, service: ProvisioningService, security: SecurityVersion = 1, pop = POP): Promise<ProvisioningClient> {
  const io = ctx.device().io;
  const client = new ProvisioningClient(direct(service), io.random, (ms) => new Promise<void>((r) => io.timers.set(r, ms)));
  await client.establishSession(security, { pop });
  return client;
}

export const scenarios: Scenario[] = [
  {
    name: "issue 14 low: ProvisioningService has a closed state — after the window closes every request, new session or not, is refused with ProtocommError 'closed'",
    async run(ctx) {
      const { window } = setup(ctx);
      const client = await session(ctx, window.service);
      checkEqual(await client.setConfig("home-net", "correct horse battery"), 0, "set config while open");
      window.close();
      check(window.service.closed, "service reports closed");
      const e1 = await failure(client.setConfig("evil-net", "password1"), "config after close");
      check(e1 instanceof ProtocommError && e1.code === "closed", `old session: ${String(e1)}`);
      const fresh = new ProvisioningClient(direct(window.service), ctx.device().io.random);
      const e2 = await failure(fresh.version(), "proto-ver after close");
      check(e2 instanceof ProtocommError && e2.code === "closed", `proto-ver: ${String(e2)}`);
      const e3 = await failure(fresh.establishSession(1, { pop: POP }), "handshake after close");
      check(e3 instanceof ProtocommError && e3.code === "closed", `new session: ${String(e3)}`);
    },
  },
  {
    name: "issue 11: after provisioning succeeded the service closes; new sessions and Wi-Fi credentials are refused",
    async run(ctx) {
      const { d, window, events } = setup(ctx);
      const client = await session(ctx, window.service);
      checkEqual(await client.setConfig("home-net", "correct horse battery"), 0, "set config");
      checkEqual(await client.applyConfig(), 0, "apply");
      await waitFor(d.io, () => events.some((e) => e.type === "wifi-connected"), 5000, "connected");
      checkEqual((await client.getStatus()).state, "connected", "status read by the app");
      await waitFor(d.io, () => window.service.closed, 5000, "service closed after success");
      const e = await failure(session(ctx, window.service), "a new session after success");
      check(e instanceof ProtocommError && e.code === "closed", String(e));
      checkEqual(events.filter((x) => x.type === "credentials-received").length, 1, "credentials received once");
    },
  },
  {
    name: "issue 11 + 15.7: a blocking scan start is answered from the scan the window made at open — one status read (as esp_prov and the apps do) lists every network",
    async run(ctx) {
      const { d, window, events } = setup(ctx);
      await waitFor(d.io, () => events.some((e) => e.type === "scan-finished"), 5000, "the scan made at open");
      const client = await session(ctx, window.service);
      const networks = await client.scan(4, { statusReads: 1 });
      window.close();
      checkEqual(networks.length, 5, "networks after one status read");
    },
  },
  {
    name: "issue 15.7: the scan is refreshed while the window stays open and a blocking start never serves one older than scanMaxAgeMs",
    async run(ctx) {
      const { d, dev, window, events } = setup(ctx, { scanRefreshMs: 40, scanMaxAgeMs: 1_000_000 });
      const scans = (): number => events.filter((e) => e.type === "scan-finished").length;
      await waitFor(d.io, () => scans() >= 1, 5000, "the scan made at open");
      dev.wifi.setInRange("office", false);
      await waitFor(d.io, () => scans() >= 2, 5000, "a refresh");
      const client = await session(ctx, window.service);
      checkEqual((await client.scan(4, { statusReads: 1 })).length, 4, "the refreshed scan is served at once");
      window.close();
      const closedAt = scans();
      const pause = new Promise<void>((r) => d.io.timers.set(r, 150));
      await pause;
      checkEqual(scans(), closedAt, "no scan after the window closed");

      // too old: served neither at once nor ever again; a new scan runs and is served when done
      const stale = setup(ctx, { scanRefreshMs: 1_000_000, scanMaxAgeMs: 30 });
      await waitFor(stale.d.io, () => stale.events.some((e) => e.type === "scan-finished"), 5000, "the scan made at open");
      stale.dev.wifi.setInRange("office", false);
      await new Promise<void>((r) => stale.d.io.timers.set(r, 80));
      const c2 = await session(ctx, stale.window.service);
      checkEqual((await c2.scan(4, { statusReads: 1 })).length, 0, "an over-age scan is not served (a GATT read cannot wait)");
      const fresh = await c2.scan(4);
      checkEqual(fresh.length, 4, "the new scan, once finished");
      stale.window.close();
    },
  },
  {
    name: "issue 11: a non-blocking scan start is answered at once and its status is pending until a new scan finishes",
    async run(ctx) {
      const { d, window, events } = setup(ctx, {}, { scanMs: 60 });
      await waitFor(d.io, () => events.some((e) => e.type === "scan-finished"), 5000, "the scan made at open");
      const client = await session(ctx, window.service);
      const pending = (await client.scan(4, { blocking: false, statusReads: 1 })).length;
      const later = (await client.scan(4, { blocking: false })).length;
      window.close();
      checkEqual(pending, 0, "pending right after a non-blocking start");
      checkEqual(later, 5, "finished later");
    },
  },
  {
    name: "issue 15.6: a refused SetConfig (33-byte SSID, 64-char non-hex PSK, bad channel) or Apply shows in GetStatus as ConnectionFailed with the reason the apps display",
    async run(ctx) {
      const { window, events } = setup(ctx);
      const client = await session(ctx, window.service);
      checkEqual((await client.getStatus()).state, "connecting", "nothing applied yet");
      checkEqual(await client.setConfig("x".repeat(33), "correct horse battery"), 4, "33-byte SSID refused (InvalidArgument)");
      checkEqual(await client.getStatus(), { state: "failed", failReason: "network-not-found" }, "status after a refused SSID");
      checkEqual(await client.applyConfig(), 4, "nothing to apply after a refusal");
      checkEqual(await client.getStatus(), { state: "failed", failReason: "network-not-found" }, "status after the refused apply");
      checkEqual(await client.setConfig("home-net", "z".repeat(64)), 4, "64 characters that are not a hex PSK");
      checkEqual(await client.getStatus(), { state: "failed", failReason: "auth-error" }, "status after a refused PSK");
      checkEqual(await client.setConfig("home-net", "correct horse battery", { channel: 15 }), 4, "channel 15");
      checkEqual(await client.setConfig("home-net", "correct horse battery", { channel: 200 }), 4, "channel 200 (M1)");
      checkEqual(await client.getStatus(), { state: "failed", failReason: "network-not-found" }, "status after a refused channel");
      checkEqual(await client.ctrl("reset"), 0, "prov-ctrl reset clears the failure");
      checkEqual((await client.getStatus()).state, "connecting", "waiting again after reset");
      checkEqual(await client.setConfig("home-net", "ab12".repeat(16)), 0, "a 64-hex-digit raw PSK is accepted");
      checkEqual((await client.getStatus()).state, "connecting", "a valid SetConfig clears the failure");
      checkEqual(events.filter((e) => e.type === "credentials-received").length, 1, "only the valid config reached the window");
      window.close();
    },
  },
  {
    name: "M3: wrong PoPs are limited per connection — after 3 on one session it is refused until it reconnects",
    async run(ctx) {
      const d = ctx.device();
      const limiter = new PopAttemptLimiter(() => d.io.clock.monotonic(), { perSession: 3, burst: 100, refillMs: 60_000 });
      const { window } = setup(ctx, { popLimiter: limiter });
      const t = direct(window.service);
      const client = new ProvisioningClient(t, d.io.random);
      for (let i = 0; i < 3; i++) await failure(client.establishSession(1, { pop: "wrong-pop-" + i }), "wrong PoP");
      const e = await failure(client.establishSession(1, { pop: POP }), "a fourth attempt on the same connection");
      check(e instanceof ProtocommError && e.code === "locked-out", `refused as locked-out: ${String(e)}`);
      window.service.closeSession(t.id); // the phone disconnects and comes back
      const again = new ProvisioningClient(direct(window.service), d.io.random);
      await again.establishSession(1, { pop: POP });
      window.close();
    },
  },
  {
    name: "M3: the wrong-PoP allowance is shared by transports and windows — reopening the window gives nothing back",
    async run(ctx) {
      const d = ctx.device();
      const limiter = new PopAttemptLimiter(() => d.io.clock.monotonic(), { perSession: 3, burst: 4, refillMs: 600_000 });
      const first = setup(ctx, { popLimiter: limiter });
      // two transports (a BLE connection and an HTTP cookie are two sessions of the same service)
      for (let n = 0; n < 2; n++) {
        const c = new ProvisioningClient(direct(first.window.service), d.io.random);
        for (let i = 0; i < 2; i++) await failure(c.establishSession(1, { pop: "guess-" + i }), "wrong PoP");
      }
      first.window.close();
      const second = setup(ctx, { popLimiter: limiter });
      const e = await failure(new ProvisioningClient(direct(second.window.service), d.io.random).establishSession(1, { pop: POP }), "right PoP in a reopened window");
      check(e instanceof ProtocommError && e.code === "locked-out", `refused as locked-out: ${String(e)}`);
      checkEqual(limiter.failures, 4, "failures counted across both sessions");
      second.window.close();
    },
  },
  {
    name: "M3: the global limit is bounded — one refill after the last wrong PoP lets the owner in, and a guesser slower than the refill never locks anyone out",
    run() {
      let now = 0;
      const limiter = new PopAttemptLimiter(() => now, { perSession: 3, burst: 5, refillMs: 10_000 });
      for (let i = 0; i < 5; i++) limiter.failed(100 + i);
      const gate = limiter.check(999);
      check(!gate.allowed && gate.reason === "rate" && gate.retryInMs <= 10_000, `spent: ${JSON.stringify(gate)}`);
      now += 10_000;
      check(limiter.check(999).allowed, "allowed again one refill period after the last failure");
      limiter.succeeded(999);
      // one wrong guess a minute, for a day: the owner is never refused
      for (let minute = 0; minute < 24 * 60; minute++) {
        now += 60_000;
        check(limiter.check(200 + minute).allowed, `guess at minute ${minute}`);
        limiter.failed(200 + minute);
        check(limiter.check(1).allowed, `the owner was locked out at minute ${minute}`);
      }
    },
  },
  {
    name: "M3: a PoP below the minimum strength is a typed error that never contains the PoP",
    run() {
      for (const [pop, rule] of [["1234", "too-short"], ["", "too-short"], ["aaaaaaaa", "too-few-distinct"], ["abababab", "too-few-distinct"]] as const) {
        const e = checkThrows(() => checkPopStrength(Secret.fromString(pop)), PopTooWeakError, `PoP of ${pop.length}`);
        checkEqual([e.code, e.rule], ["pop-too-weak", rule], "code and rule");
        check(pop === "" || !e.message.includes(pop), "the PoP is in the message");
      }
      checkPopStrength(Secret.fromString("abcd1234"));
      checkPopStrength(Secret.fromString(POP));
    },
  },
  {
    name: "M3: a unit whose PoP is below the minimum logs pop-too-weak at boot (rule and length, not the PoP) and opens no provisioning window",
    run(ctx) {
      const d = ctx.device();
      const { device, radio } = bootWithRadios(d, radioConfig("Zq7"));
      checkEqual(device.state, "stopped", "state");
      check(device.provisioningWindow === undefined, "a window was opened");
      checkEqual(radio.scan().length, 0, "advertising");
      const record = d.logs.find((r) => r.event === "pop-too-weak");
      check(record !== undefined && record.level === "error", "pop-too-weak logged as an error");
      checkEqual([record!.fields.code, record!.fields.rule, record!.fields.length], ["pop-too-weak", "too-short", 3], "logged fields");
      check(!JSON.stringify(d.logs).includes("Zq7"), "the PoP reached the log");
      device.shutdown();
    },
  },
  {
    name: "issue 11: proto-ver announces what the device does — capabilities per version and scheme, sec_patch_ver matching the nonce counter, ctrl reset only after a failure",
    async run(ctx) {
      const d = ctx.device();
      const wifi = { setConfig() {}, apply: () => false, status: () => ({ state: "idle" as const }), scanStart() {}, latestScan: () => undefined, reset: () => false, reprovision: () => true };
      const json = (options: Partial<ConstructorParameters<typeof ProvisioningService>[0]>): unknown =>
        JSON.parse(new ProvisioningService({ security: { version: 0 }, random: d.io.random, crypto: d.io.crypto, now: () => 0, wifi, ...options }).versionJson());
      checkEqual(json({}), { prov: { ver: "v1.1", sec_ver: 0, cap: ["wifi_scan", "no_sec"] } }, "IDF wifi_provisioning, Security 0");
      checkEqual(json({ security: { version: 1, pop: new Uint8Array(0) } }), { prov: { ver: "v1.1", sec_ver: 1, cap: ["wifi_scan", "no_pop"] } }, "Security 1 without PoP");
      checkEqual(json({ security: { version: 1, pop: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) } }), { prov: { ver: "v1.1", sec_ver: 1, cap: ["wifi_scan"] } }, "Security 1 with PoP");
      checkEqual(json({ version: "netprov-v1.2" }), { prov: { ver: "netprov-v1.2", sec_ver: 0, cap: ["wifi_prov", "wifi_scan", "no_sec"] } }, "network_provisioning");
      // Security 2: the client follows sec_patch_ver; a session works only if the device counts nonces the same way
      const { window } = setup(ctx, { security: 2 });
      const client = new ProvisioningClient(direct(window.service), d.io.random);
      const info = await client.version();
      checkEqual([info.secVer, info.secPatchVer], [2, 1], "Security 2 with the per-message nonce counter");
      await client.establishSession(2, { pop: POP, secPatchVer: info.secPatchVer });
      checkEqual((await client.getStatus()).state, "connecting", "first request");
      checkEqual((await client.getStatus()).state, "connecting", "second request (counter advanced on both sides)");
      checkEqual(await client.ctrl("reset"), 5, "reset before any failure: InternalError, as Espressif's reset_wifi_sm_state_on_failure");
      window.close();
    },
  },
];
