// Power cuts on every onboarding path. Each path runs once for real (blank or online unit, the
// reference cloud over HTTPS, its broker over TLS, BLE provisioning by the phone stand-in) while
// every storage write and delete the device makes is recorded with its bytes. Then, for every write
// and every byte of it (host-sim's NVS fault model: 0 = key erased, 1..n-1 = torn, n = whole), a
// fresh flash holding what the unit had before the path replays the same writes with power cut
// there, and reboots: the store must hold exactly the record before that write (torn) or after it
// (whole), never a mix and never nothing. A device booted from the cut flash at the first, second,
// middle, last-but-one and last byte of every write must get online again, with the stored
// credentials or by onboarding again when the record it finds has none (or the cloud has retired
// them meanwhile); with no Wi-Fi stored, the unit must open its provisioning window instead.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startCloud, type Cloud } from "../../host-sim/cloud/cloud.js";
import { generateTestPki, type TestPki } from "../../host-sim/certs/pki.js";
import { Flash, isPowerCut } from "../../host-sim/io/flash.js";
import { createNodeIo, type NodeIo } from "../../host-sim/io/node-io.js";
import { SimBleRadio, BleProtocommTransport } from "../../host-sim/ble/link.js";
import { withRadios } from "../../host-sim/provisioning/kit.js";
import { parseFactoryConfig, type FactoryConfig } from "../../src/config/factory-config.js";
import type { Io, KeyValueStorage } from "../../src/io/io.js";
import { Device, type DeviceConfig, type DeviceEvent } from "../../src/lifecycle/device.js";
import { ProvisioningClient } from "../../src/provisioning/client.js";
import { DEFAULT_SERVICE_UUID } from "../../src/provisioning/uuid.js";
import { Secret } from "../../src/secrets/secret.js";
import { encodeRecord } from "../../src/storage/credential-record.js";
import { CredentialStore } from "../../src/storage/credential-store.js";

const ENCRYPT_KEY = "12345678910111213141516171819202";
const POP = "power-cut-pop";
let dir: string;
let pki: TestPki;
let cloud: Cloud;
const totals: { path: string; writes: number; points: number; boots: number; reonboarded: number }[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "onboarding-power-cuts-"));
  pki = generateTestPki(join(dir, "pki"));
  cloud = await startCloud({ tls: { key: pki.serverKeyPem, cert: pki.serverCertPem, ca: pki.caPem }, encryptKey: ENCRYPT_KEY });
});
after(async () => {
  await cloud.close();
  rmSync(dir, { recursive: true, force: true });
  const all = totals.reduce((a, t) => ({ writes: a.writes + t.writes, points: a.points + t.points, boots: a.boots + t.boots }), { writes: 0, points: 0, boots: 0 });
  process.stderr.write(`power cuts: ${totals.map((t) => `${t.path}: ${t.writes} writes, ${t.points} cut points, ${t.boots} reboots (${t.reonboarded} onboarded again)`).join("; ")}; total ${all.writes} writes, ${all.points} cut points, ${all.boots} reboots\n`);
});

let macCounter = 0x100;
const nextMac = () => `02:C0:00:00:${((macCounter >> 8) & 255).toString(16).padStart(2, "0")}:${(macCounter++ & 255).toString(16).padStart(2, "0")}`.toUpperCase();
const FAST = { telemetryIntervalMs: 0, keepaliveSeconds: 30, backoff: { initialMs: 100, maxMs: 400, minMs: 50 } };

function factory(overrides: Record<string, unknown>): FactoryConfig {
  return parseFactoryConfig({ broker: { url: cloud.brokerUrl, ca: pki.caPem }, retry: { attempts: 2, initialMs: 100, maxMs: 400 }, ...overrides });
}

interface Op { readonly key: string; readonly value: Uint8Array | undefined }

/** The storage the device sees, recording every write and delete (with its bytes) while `on`. */
function recording(storage: KeyValueStorage, ops: Op[], on: { value: boolean }): KeyValueStorage {
  return {
    read: (key) => storage.read(key),
    write: (key, value) => { storage.write(key, value); if (on.value) ops.push({ key, value: value.slice() }); },
    delete: (key) => { storage.delete(key); if (on.value) ops.push({ key, value: undefined }); },
  };
}

interface Unit {
  readonly io: NodeIo;
  readonly device: Device;
  readonly events: DeviceEvent[];
  readonly radio: SimBleRadio | undefined;
  stop(): void;
}

interface Profile {
  readonly mac: string;
  readonly factory: FactoryConfig;
  readonly radios: boolean;
}

function bootUnit(flash: Flash, p: Profile, record?: { ops: Op[]; on: { value: boolean } }): Unit {
  const io = createNodeIo({ flash, mac: p.mac, log: "silent", unrefTimers: true });
  const radio = p.radios ? new SimBleRadio() : undefined;
  let deviceIo: Io = radio ? withRadios(io, radio, undefined, { scanMs: 5, connectMs: 10 }).io : io;
  if (record) deviceIo = { ...deviceIo, storage: recording(deviceIo.storage, record.ops, record.on) };
  const config: DeviceConfig = {
    ...FAST, factory: p.factory,
    ...(p.radios ? { provisioning: { security: 1 as const, pop: Secret.fromString(POP), closeAfterSuccessMs: 20, connectAttempts: 1 } } : {}),
  };
  const device = new Device(deviceIo, config);
  const events: DeviceEvent[] = [];
  device.on((e) => events.push(e));
  device.boot();
  return { io, device, events, radio, stop() { device.shutdown(); io.shutdown(); } };
}

async function until(what: string, condition: () => boolean, ms = 30_000): Promise<void> {
  for (const start = Date.now(); !condition(); ) {
    if (Date.now() - start > ms) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The phone's part of provisioning (Security 1), optionally with the secret-key user mapping. */
async function provision(unit: Unit, mapping?: { userId: string; secretKey: string }): Promise<void> {
  const opened = unit.events.find((e) => e.type === "provisioning" && e.event.type === "opened");
  assert.ok(opened && opened.type === "provisioning" && opened.event.type === "opened", "the window opened");
  const gatt = await unit.radio!.connect(opened.event.deviceName, { mtu: 247 });
  const client = new ProvisioningClient(await BleProtocommTransport.open(gatt, DEFAULT_SERVICE_UUID), unit.io.random, (ms) => new Promise((r) => setTimeout(r, ms)));
  await client.establishSession(1, { pop: POP });
  if (mapping) assert.equal((await client.setUserMapping(mapping.userId, mapping.secretKey)).status, 0);
  assert.equal(await client.setConfig("home-net", "correct horse battery"), 0);
  assert.equal(await client.applyConfig(), 0);
  assert.equal((await client.waitForConnection(20, 500)).state, "connected");
}

/** The store as the next boot finds it: the encoded record, or "empty" / "unreadable". */
function storeOf(flash: Flash): string {
  const loaded = new CredentialStore(flash.open()).load();
  return loaded.status === "ok" ? Buffer.from(encodeRecord(loaded.record)).toString("hex") : loaded.status;
}

/** A flash holding `start`, then ops[0..upTo) replayed, with power cut at `cut` if given. */
function replay(start: ReadonlyMap<string, Uint8Array>, ops: readonly Op[], upTo: number, cut?: { write: number; byte: number }): Flash {
  const flash = Flash.inMemory();
  const storage = flash.open();
  for (const [key, value] of start) storage.write(key, value);
  if (cut) flash.cutPowerAt(cut.write, cut.byte);
  for (let i = 0; i < upTo; i++) {
    const op = ops[i]!;
    try {
      if (op.value) storage.write(op.key, op.value);
      else storage.delete(op.key);
    } catch (e) {
      if (cut && isPowerCut(e) && i === cut.write) return flash;
      throw e;
    }
  }
  assert.ok(!cut, `the cut at write ${cut?.write} byte ${cut?.byte} did not happen`);
  return flash;
}

const snapshot = (flash: Flash) => new Map(flash.keys().map((k) => [k, flash.peek(k)!] as const));

/**
 * Every cut point of `ops`: the store after reboot is exactly the state before that write or,
 * when the write was whole, after it. Then reboots at a few points of each write must come online.
 */
async function walk(path: string, start: ReadonlyMap<string, Uint8Array>, ops: readonly Op[], profile: Profile): Promise<void> {
  assert.ok(ops.length > 0, "the path wrote to flash");
  const states = [storeOf(replay(start, ops, 0))];
  for (let i = 1; i <= ops.length; i++) states.push(storeOf(replay(start, ops, i)));
  let points = 0;
  for (let write = 0; write < ops.length; write++) {
    const size = ops[write]!.value?.length ?? 0;
    for (let byte = 0; byte <= size; byte++) {
      const found = storeOf(replay(start, ops, write + 1, { write, byte }));
      const expected = byte === size ? states[write + 1]! : states[write]!;
      if (found !== expected) {
        const name = (s: string) => (s === states[write] ? "the record before the write" : s === states[write + 1] ? "the record after it" : s.length > 20 ? "another record" : s);
        assert.fail(`${path}: cut at write ${write} ("${ops[write]!.key}") byte ${byte} of ${size}: found ${name(found)}, expected ${name(expected)}`);
      }
      points++;
    }
  }
  let boots = 0;
  let reonboarded = 0;
  for (let write = 0; write < ops.length; write++) {
    const size = ops[write]!.value?.length ?? 0;
    for (const byte of new Set([0, 1, size >> 1, size - 1, size].filter((b) => b >= 0 && b <= size))) {
      const flash = replay(start, ops, write + 1, { write, byte });
      const loaded = new CredentialStore(flash.open()).load();
      const unit = bootUnit(flash, profile);
      try {
        const noWifi = profile.radios && (loaded.status !== "ok" || loaded.record.wifi === undefined);
        if (noWifi) await until(`${path} cut ${write}/${byte}: provisioning window`, () => unit.device.state === "provisioning");
        else await until(`${path} cut ${write}/${byte}: online (state ${unit.device.state})`, () => unit.device.state === "online");
        if (unit.events.some((e) => e.type === "onboarding" && e.event.type === "obtained" && e.event.strategy !== "stored")) reonboarded++;
        else if (!noWifi) assert.ok(loaded.status === "ok" && loaded.record.mqtt !== undefined, `${path} cut ${write}/${byte}: online without credentials stored or obtained`);
      } finally {
        unit.stop();
      }
      boots++;
    }
  }
  const expectedPoints = ops.reduce((n, op) => n + (op.value?.length ?? 0) + 1, 0);
  assert.equal(points, expectedPoints);
  totals.push({ path, writes: ops.length, points, boots, reonboarded });
}

/** Runs a path live from a blank unit (recording from power-on) until `done`, then walks it. */
async function blankPath(path: string, profile: Profile, drive: (unit: Unit) => Promise<void>): Promise<Flash> {
  const flash = Flash.inMemory();
  const ops: Op[] = [];
  const unit = bootUnit(flash, profile, { ops, on: { value: true } });
  try {
    await drive(unit);
  } finally {
    unit.stop();
  }
  await walk(path, new Map(), ops, profile);
  return flash;
}

const online = (unit: Unit) => until(`online (state ${unit.device.state})`, () => unit.device.state === "online");

describe("a power cut at every byte of every flash write of every onboarding path", () => {
  test("bootstrap (client generation): first boot identity, then the bootstrapped credentials", async () => {
    const mac = nextMac();
    cloud.addBootstrapConfig({ externalId: mac, externalKey: "pc-boot-key" });
    await blankPath("bootstrap", { mac, radios: false, factory: factory({ chain: ["stored", "bootstrap"], bootstrap: { url: cloud.httpUrl, generation: "client", externalKey: "pc-boot-key", ca: pki.caPem } }) }, online);
  });

  test("secure bootstrap (AES-CFB): identity, then the credentials", async () => {
    const mac = nextMac();
    cloud.addBootstrapConfig({ externalId: mac, externalKey: "pc-secure-key" });
    await blankPath("secure bootstrap", { mac, radios: false, factory: factory({ chain: ["stored", "bootstrap"], bootstrap: { url: cloud.httpUrl, generation: "client", externalKey: "pc-secure-key", ca: pki.caPem, secure: { key: ENCRYPT_KEY } } }) }, online);
  });

  test("shared credentials: identity, then the shared login with its derived client ID", async () => {
    cloud.addSharedAccount("pc-class", "pc-shared-password");
    await blankPath("shared", { mac: nextMac(), radios: false, factory: factory({ chain: ["stored", "shared"], shared: { username: "pc-class", password: "pc-shared-password", clientIdPrefix: "pc" } }) }, online);
  });

  const registerProfile = (mac: string, radios = false): Profile => ({ mac, radios, factory: factory({ chain: ["stored", "register"], register: { url: `${cloud.httpUrl}/register`, ca: pki.caPem } }) });

  test("register, then rotation begin → commit and begin → rollback", async () => {
    const mac = nextMac();
    const serial = mac.replace(/:/g, "");
    cloud.allowSerials([serial]);
    const profile = registerProfile(mac);
    const flash = await blankPath("register", profile, online);
    for (const refusable of [false, true]) {
      const ops: Op[] = [];
      const on = { value: false };
      // Online again first: the reboots of the walk before re-registered this serial, so this boot
      // may register again itself; what is in flash once online is where the rotation starts.
      const unit = bootUnit(flash, profile, { ops, on });
      let start: Map<string, Uint8Array>;
      try {
        await online(unit);
        start = snapshot(flash);
        on.value = true;
        await cloud.rotate(`register:${serial}`, { refusable });
        const done = refusable ? "rotation-rolled-back" : "rotation-committed";
        await until(done, () => unit.events.some((e) => e.type === "state" && e.state === "online") && ops.length >= 2 && unit.device.state === "online");
      } finally {
        unit.stop();
      }
      await walk(refusable ? "rotation begin → rollback" : "rotation begin → commit", start, ops, profile);
    }
  });

  test("BLE provisioning with the secret-key user mapping, then register: identity, mapping pending, Wi-Fi, credentials, mapping delivered", async () => {
    const mac = nextMac();
    cloud.allowSerials([mac.replace(/:/g, "")]);
    await blankPath("provisioning + user mapping + register", registerProfile(mac, true), async (unit) => {
      await until("window open", () => unit.device.state === "provisioning");
      await provision(unit, { userId: "pc-user", secretKey: "pc-secret-key" });
      await until("mapping delivered", () => unit.events.some((e) => e.type === "user-mapping" && e.status === "delivered"));
    });
  });
});
