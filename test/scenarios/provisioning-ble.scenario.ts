// Provisioning end to end over the simulated BLE link (GATT write-then-read, long writes/reads),
// engine-neutral: the same device and app code runs on Node and inside XS.
import { fromUtf8, utf8 } from "../../src/bytes/bytes.js";
import { generateIdentity } from "../../src/identity/identity.js";
import { verifyFor } from "../../src/identity/signing.js";
import { encode } from "../../src/protobuf/codec.js";
import { SessionData } from "../../src/protobuf/messages.js";
import { ProvisioningClient } from "../../src/provisioning/client.js";
import type { SecurityVersion } from "../../src/provisioning/security.js";
import { characteristicUuid, DEFAULT_SERVICE_UUID } from "../../src/provisioning/uuid.js";
import { openProvisioningWindow, type WindowEvent } from "../../src/provisioning/window.js";
import { Secret } from "../../src/secrets/secret.js";
import { AttError, BleProtocommTransport, SimBleRadio } from "../../host-sim/ble/link.js";
import { withRadios } from "../../host-sim/provisioning/kit.js";
import { check, checkEqual, waitFor, type Scenario, type ScenarioContext } from "./harness.js";

const sleeper = (io: { timers: { set(cb: () => void, ms: number): number } }) => (ms: number) => new Promise<void>((r) => io.timers.set(r, ms));

function setup(ctx: ScenarioContext, security: SecurityVersion, extra: { pop?: string; connectAttempts?: number; lockout?: { freeAttempts: number; baseDelayMs: number } } = {}) {
  const d = ctx.device();
  const radio = new SimBleRadio();
  const dev = withRadios(d.io, radio, undefined, { scanMs: 5, connectMs: 10 });
  const identity = generateIdentity(d.io);
  const events: WindowEvent[] = [];
  const window = openProvisioningWindow(dev.io, identity, {
    security,
    pop: Secret.fromString(extra.pop ?? "abcd1234"),
    closeAfterSuccessMs: 50,
    retryDelayMs: 10,
    connectAttempts: extra.connectAttempts ?? 1,
    lockout: extra.lockout ?? { freeAttempts: 1, baseDelayMs: 20, maxDelayMs: 1000 },
    challengeResponse: true, // as with a factory config naming a mapping cloud that verifies our signatures
    onEvent: (e) => events.push(e),
  });
  return { d, radio, dev, identity, events, window };
}

async function connect(radio: SimBleRadio, name: string, mtu: number) {
  const gatt = await radio.connect(name, { mtu });
  const transport = await BleProtocommTransport.open(gatt, DEFAULT_SERVICE_UUID);
  return { gatt, transport };
}

async function rejects(p: Promise<unknown>, what: string): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error(`${what}: expected a failure`);
}

async function fullRun(ctx: ScenarioContext, security: SecurityVersion, mtu: number): Promise<void> {
  const { d, radio, identity, events, window } = setup(ctx, security);
  const adverts = radio.scan();
  checkEqual(adverts.length, 1, "one advertiser");
  checkEqual(adverts[0]!.serviceUuids, [DEFAULT_SERVICE_UUID], "exactly one 128-bit service UUID advertised");
  check(/^PROV_[0-9a-f]{6}$/.test(adverts[0]!.name), `PROV_xxxxxx name, got ${adverts[0]!.name}`);
  const { gatt, transport } = await connect(radio, window.deviceName, mtu);
  checkEqual(transport.endpoints.get("prov-session"), characteristicUuid(DEFAULT_SERVICE_UUID, 0xff51), "prov-session UUID derived from the service UUID");
  checkEqual(transport.endpoints.get("prov-session"), "1775ff51-6b43-439b-877c-060f2d9bed07", "reference example UUID");
  const client = new ProvisioningClient(transport, d.io.random, sleeper(d.io));
  const info = await client.version();
  checkEqual(info.secVer, security, "proto-ver advertises the security scheme");
  check(info.cap.includes("wifi_scan"), "wifi_scan capability");
  checkEqual((info.raw.rmaker_extra as { cap: string[] }).cap, ["ch_resp"], "ch_resp advertised");
  await client.establishSession(security, { pop: "abcd1234", secPatchVer: info.secPatchVer });
  const networks = await client.scan();
  checkEqual(networks.length, 5, "five simulated networks, paged 4 at a time");
  checkEqual(fromUtf8(networks[0]!.ssid), "home-net", "first SSID");
  // both mapping methods
  const challenge = "cloud-challenge-1234";
  const cr = await client.challengeResponse(challenge);
  checkEqual(cr.status, 0, "challenge signed");
  check(verifyFor(ctx.crypto, identity.publicKey, "rmaker-challenge", utf8(challenge), cr.signature), "signature verifies with the identity key (mapping purpose)");
  checkEqual(cr.nodeId, window.nodeId, "node ID returned");
  const um = await client.setUserMapping("user-1234", "a1b2c3d4-secret");
  checkEqual(um, { status: 0, nodeId: window.nodeId }, "cloud_user_assoc reply");
  checkEqual(await client.setConfig("home-net", "correct horse battery"), 0, "set config");
  checkEqual(await client.applyConfig(), 0, "apply");
  let status = await client.getStatus();
  await waitFor(d.io, () => events.some((e) => e.type === "wifi-connected"), 2000, "wifi connected");
  status = await client.getStatus();
  checkEqual(status.state, "connected", "status connected");
  check(status.ip !== undefined && status.ip.length > 0, "IP reported");
  await waitFor(d.io, () => !window.isOpen, 2000, "window closes after success");
  checkEqual(events.at(-1)?.type, "closed", "closed event last");
  check(!gatt.connected, "BLE connection dropped at close");
  const types = events.map((e) => e.type);
  for (const t of ["opened", "session-established", "challenge-signed", "user-mapping-requested", "credentials-received", "wifi-connecting", "wifi-connected", "closed"]) check(types.includes(t as WindowEvent["type"]), `event ${t}`);
}

export const scenarios: Scenario[] = [
  { name: "provisioning/ble: Security 0 full run (MTU 512)", run: (ctx) => fullRun(ctx, 0, 512) },
  { name: "provisioning/ble: Security 1 full run (MTU 23, long reads/writes)", run: (ctx) => fullRun(ctx, 1, 23) },
  { name: "provisioning/ble: Security 2 full run (MTU 185: Sec2 handshake needs long writes)", run: (ctx) => fullRun(ctx, 2, 185) },
  {
    name: "provisioning/ble: wrong PoP refused, then the right PoP works; a spent allowance refuses even the right PoP until one refill",
    async run(ctx) {
      for (const security of [1, 2] as const) {
        const { d, radio, events, window } = setup(ctx, security);
        const { gatt, transport } = await connect(radio, window.deviceName, 512);
        const bad = new ProvisioningClient(transport, d.io.random, sleeper(d.io));
        const err = await rejects(bad.establishSession(security, { pop: "wrong-pop" }), "wrong PoP");
        check(String(err).includes("session refused"), `refused: ${String(err)}`);
        const wrong = events.filter((e) => e.type === "wrong-pop");
        checkEqual(wrong.length, 1, "one wrong-pop event");
        // the session can restart at Command0 on the same connection with the right PoP
        const good = new ProvisioningClient(transport, d.io.random, sleeper(d.io));
        await good.establishSession(security, { pop: "abcd1234" });
        checkEqual(await good.setConfig("home-net", "x"), 0, "works after the right PoP");
        await gatt.disconnect();
        window.close();
      }
      // repeated failures spend the boot's allowance (here 1 free + 1, refilled every 400 ms): then
      // even the right PoP waits for the refill, and no longer (issue 14 M3: the lockout is bounded)
      const { d, radio, events, window } = setup(ctx, 1, { lockout: { freeAttempts: 1, baseDelayMs: 400 } });
      const { transport } = await connect(radio, window.deviceName, 512);
      for (let i = 0; i < 2; i++) await rejects(new ProvisioningClient(transport, d.io.random).establishSession(1, { pop: "nope" }), "wrong PoP");
      const waits = events.flatMap((e) => (e.type === "wrong-pop" ? [e.lockedForMs] : []));
      checkEqual(waits.length, 2, "two wrong-pop events");
      checkEqual(waits[0], 0, "the first failure is free");
      check(waits[1]! > 0 && waits[1]! <= 400, `then one refill period at most, got ${waits[1]} ms`);
      const locked = await rejects(new ProvisioningClient(transport, d.io.random).establishSession(1, { pop: "abcd1234" }), "locked out");
      check(locked instanceof AttError, "even the right PoP is refused while the allowance is spent");
      await new Promise<void>((r) => d.io.timers.set(r, 450));
      await new ProvisioningClient(transport, d.io.random).establishSession(1, { pop: "abcd1234" });
      window.close();
    },
  },
  {
    name: "provisioning/ble: a failed request desynchronises Security 1; reconnecting resets cleanly",
    async run(ctx) {
      const { d, radio, window } = setup(ctx, 1);
      const first = await connect(radio, window.deviceName, 512);
      const client = new ProvisioningClient(first.transport, d.io.random, sleeper(d.io));
      await client.establishSession(1, { pop: "abcd1234" });
      // a request the device handles but rejects (unknown msg): both sides consumed the same
      // keystream (device decrypted, client encrypted), no response (the read fails); the streams stay in step
      const err = await rejects(client.request("prov-config", Uint8Array.of(0x08, 0x09)), "unknown msg");
      check(err instanceof AttError && err.code === 0x07, `the read after the rejected request fails with ATT Invalid Offset: ${String(err)}`);
      checkEqual(await client.setConfig("home-net", "pw"), 0, "still in step after a handler error");
      // a request the link rejects before the device decrypts it (over the 512-byte ATT maximum):
      // the client's keystream advanced by 600 bytes, the device's did not → desynchronised
      const lost = await rejects(client.request("prov-config", new Uint8Array(600)), "oversize request");
      check(lost instanceof AttError && lost.code === 0x0d, "rejected by the ATT prepare queue");
      await rejects(client.setConfig("home-net", "pw"), "desynchronised request");
      // reconnect: new transport session, fresh handshake, works again
      await first.gatt.disconnect();
      const second = await connect(radio, window.deviceName, 512);
      const fresh = new ProvisioningClient(second.transport, d.io.random, sleeper(d.io));
      check((await rejects(second.transport.send("prov-config", Uint8Array.of(0x08, 0x00)), "no session")) instanceof AttError, "the old cipher state died with the connection");
      await fresh.establishSession(1, { pop: "abcd1234" });
      checkEqual(await fresh.setConfig("home-net", "pw"), 0, "works after reconnect");
      window.close();
    },
  },
  {
    name: "provisioning/ble: malformed protobuf on every endpoint gets no response; oversize writes fail",
    async run(ctx) {
      const { d, radio, window } = setup(ctx, 0);
      const { gatt, transport } = await connect(radio, window.deviceName, 512);
      const client = new ProvisioningClient(transport, d.io.random, sleeper(d.io));
      const garbage = [Uint8Array.of(0x0a, 0x05, 0x01), Uint8Array.of(0x08), Uint8Array.of(0x0b, 0x00), Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)];
      for (const g of garbage) {
        const e = await rejects(transport.send("prov-session", g), "prov-session garbage");
        check(e instanceof AttError && e.code === 0x07, "prov-session: the read fails (ATT Invalid Offset)");
      }
      await client.establishSession(0);
      for (const endpoint of ["prov-config", "prov-scan", "prov-ctrl", "cloud_user_assoc", "ch_resp"]) {
        for (const g of garbage) {
          const e = await rejects(transport.send(endpoint, g), `${endpoint} garbage`);
          check(e instanceof AttError && e.code === 0x07, `${endpoint}: the read fails (ATT Invalid Offset) for malformed protobuf`);
        }
      }
      // a wire-type mismatch on a known field is malformed too
      await rejects(transport.send("prov-config", Uint8Array.of(0x0a, 0x00)), "wire type mismatch");
      // oversize: more than the 512-byte ATT attribute maximum fails in the prepare queue
      const big = encode(SessionData, { sec_ver: 0, sec0: { msg: 0, sc: {} }, pad: new Uint8Array(0) });
      const oversize = new Uint8Array(600);
      oversize.set(big);
      const e = await rejects(gatt.write(transport.endpoints.get("prov-config")!, oversize), "oversize write");
      check(e instanceof AttError && e.code === 0x0d, `INVALID_ATTR_LEN: ${String(e)}`);
      // the link still works afterwards
      checkEqual(await client.setConfig("home-net", "pw"), 0, "still usable");
      window.close();
    },
  },
  {
    name: "provisioning/ble: wrong passphrase → ConnectionFailed(AuthError) with retries; unknown SSID → NetworkNotFound; ctrl reset",
    async run(ctx) {
      const { d, radio, events, window } = setup(ctx, 1, { connectAttempts: 2 });
      const { transport } = await connect(radio, window.deviceName, 512);
      const client = new ProvisioningClient(transport, d.io.random, sleeper(d.io));
      await client.establishSession(1, { pop: "abcd1234" });
      await client.setConfig("home-net", "wrong-passphrase");
      await client.applyConfig();
      const seen = new Set<string>();
      for (let i = 0; i < 200; i++) {
        const s = await client.getStatus();
        seen.add(s.attemptsRemaining !== undefined ? "retrying" : s.state);
        if (s.state === "failed") {
          checkEqual(s.failReason, "auth-error", "auth error reason");
          break;
        }
        await new Promise<void>((r) => d.io.timers.set(r, 5));
      }
      check(seen.has("failed"), "reached ConnectionFailed");
      check(seen.has("retrying"), "attempt_failed reported while retrying");
      check(events.some((e) => e.type === "wifi-failed"), "wifi-failed event");
      checkEqual(await client.ctrl("reset"), 0, "ctrl reset after failure");
      await client.setConfig("no-such-ssid", "whatever");
      await client.applyConfig();
      await waitFor(d.io, () => events.filter((e) => e.type === "wifi-failed").length === 2, 2000, "second failure");
      const s = await client.getStatus();
      checkEqual(s, { state: "failed", failReason: "network-not-found" }, "network not found");
      checkEqual(await client.ctrl("reprov"), 0, "reprov");
      check(events.some((e) => e.type === "reprovision-requested"), "reprovision event");
      // SetConfig validation: 33-byte SSID → InvalidArgument (a response is still sent)
      checkEqual(await client.setConfig("x".repeat(33), "pw"), 4, "ssid > 32 refused");
      window.close();
    },
  },
  {
    name: "provisioning/ble: window times out and stops advertising; disconnect drops the session",
    async run(ctx) {
      const d = ctx.device();
      const radio = new SimBleRadio();
      const dev = withRadios(d.io, radio);
      const events: WindowEvent[] = [];
      const window = openProvisioningWindow(dev.io, generateIdentity(d.io), { security: 1, timeoutMs: 50, onEvent: (e) => events.push(e) });
      checkEqual(radio.scan().length, 1, "advertising");
      check(/^[0-9a-f]{8}$/.test(window.pop.revealString()), "random 8-hex PoP by default");
      const qr = JSON.parse(window.qr) as Record<string, unknown>;
      checkEqual(qr, { ver: "v1", name: window.deviceName, pop: window.pop.revealString(), transport: "ble", security: 1 }, "QR payload");
      await waitFor(d.io, () => !window.isOpen, 1000, "timeout");
      checkEqual(events.at(-1), { type: "closed", reason: "timeout" }, "closed by timeout");
      checkEqual(radio.scan().length, 0, "no longer advertising");
    },
  },
];
