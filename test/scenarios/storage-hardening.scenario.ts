// Issue 14's storage findings, engine-neutral: nothing is stored that the firmware cannot use or
// read back (H2, M1), a damaged or unusable slot never blocks the boot or throws out of it, and a
// malformed URL's password is never echoed. The limits checked are the MQTT encoder's and the
// record decoder's own (our reading of MQTT 3.1.1 and of the Wi-Fi bands: a self-derived oracle).
import { utf8 } from "../../src/bytes/bytes.js";
import { parseFactoryConfig } from "../../src/config/factory-config.js";
import { generateIdentity } from "../../src/identity/identity.js";
import type { KeyValueStorage } from "../../src/io/io.js";
import { Device } from "../../src/lifecycle/device.js";
import { Logger, type LogRecord } from "../../src/log/logger.js";
import { Secret } from "../../src/secrets/secret.js";
import { parseBrokerUrl, type CredentialRecord } from "../../src/storage/credential-record.js";
import { CredentialStore, StoreRefused } from "../../src/storage/credential-store.js";
import { SlotPair } from "../../src/storage/slot-pair.js";
import { check, checkEqual, checkThrows, type Scenario, type SimDevice } from "./harness.js";

const CONFIG = { telemetryIntervalMs: 0, keepaliveSeconds: 60 };

function good(d: SimDevice): CredentialRecord {
  return {
    version: 1,
    identity: generateIdentity(d.io),
    mqtt: { brokerUrl: "mqtts://broker.example.com:8883", clientId: "node-1", username: "dev", password: Secret.fromString("pw-1") },
  };
}

/** A store holding a good record, and the flash write count after saving it. */
function savedGood(d: SimDevice): { d: SimDevice; store: CredentialStore; base: CredentialRecord; writes: number } {
  const store = new CredentialStore(d.io.storage);
  const base = good(d);
  store.save(base);
  return { d, store, base, writes: d.flash.writeCount };
}

export const scenarios: Scenario[] = [
  {
    name: "H2: the store refuses, before writing, credentials the MQTT client could not use (U+0000, empty client ID, wildcard topic, password without user)",
    run(ctx) {
      const { d, store, base, writes } = savedGood(ctx.device());
      const bad: Partial<NonNullable<CredentialRecord["mqtt"]>>[] = [
        { username: "dev\u0000x" }, { clientId: "node\u0000" }, { clientId: "" }, { topics: { command: "devices/+/cmd" } },
        { topics: { telemetry: "t\u0000" } }, { username: undefined },
      ];
      for (const change of bad) {
        const mqtt = { ...base.mqtt!, ...change } as NonNullable<CredentialRecord["mqtt"]>;
        const e = checkThrows(() => store.save({ ...base, mqtt }), StoreRefused, `refused: ${JSON.stringify(Object.keys(change))}`);
        checkEqual(e.code, "unreadable-record", "typed");
        checkThrows(() => store.beginRotation(base, mqtt), StoreRefused, "a rotation to them is refused too");
      }
      checkEqual(d.flash.writeCount, writes, "nothing written");
      const loaded = store.load();
      check(loaded.status === "ok" && loaded.record.mqtt?.username === "dev", "the working record stays");
    },
  },
  {
    name: "M1: a Wi-Fi channel above 196 (or an SSID over 32 bytes) is refused before it is written: the store never writes what it cannot read back",
    run(ctx) {
      const { d, store, base, writes } = savedGood(ctx.device());
      const wifi = { ssid: utf8("home"), passphrase: Secret.fromString("pass phrase") };
      checkEqual(checkThrows(() => store.save({ ...base, wifi: { ...wifi, channel: 197 } }), StoreRefused, "channel 197").code, "unreadable-record", "typed");
      checkThrows(() => store.save({ ...base, wifi: { ...wifi, ssid: new Uint8Array(33) } }), StoreRefused, "SSID of 33 bytes");
      checkEqual(d.flash.writeCount, writes, "nothing written");
      store.save({ ...base, wifi: { ...wifi, channel: 196 } });
      const back = new CredentialStore(d.reboot().io.storage).load();
      check(back.status === "ok" && back.record.wifi?.channel === 196, "196 is written and reads back");
    },
  },
  {
    name: "M1: a newer slot with a good CRC but an undecodable record does not block boot: the older valid slot is used (logged store-fallback) and a factory reset works from it",
    run(ctx) {
      const d = ctx.device();
      const base = good(d);
      new CredentialStore(d.io.storage).save(base);
      new SlotPair(d.io.storage, "cred").save(utf8('{"v":1,"id":{"sk":"zz"}}')); // intact frame, record the decoder refuses
      const unit = d.reboot();
      const writes = unit.flash.writeCount;
      const device = new Device(unit.io, CONFIG);
      const report = device.boot();
      check(report.state !== "store-unreadable", `boots from the older slot (${report.state})`);
      check(!report.firstBoot, "not a first boot: the identity is kept");
      check(unit.logs.some((r) => r.event === "store-fallback" && r.level === "warn"), "the fallback is logged");
      checkEqual(unit.flash.writeCount, writes, "the boot wrote nothing");
      device.factoryReset();
      const after = new CredentialStore(unit.reboot().io.storage).load();
      check(after.status === "ok" && after.record.mqtt === undefined, "factory reset from the older record: identity only");
      device.shutdown();
    },
  },
  {
    name: "M1: a factory reset from store-unreadable (nothing decodes) does not throw: the unit starts over with a new identity",
    run(ctx) {
      const d = ctx.device();
      new SlotPair(d.io.storage, "cred").save(utf8('{"v":2,"future":true}'));
      const unit = d.reboot();
      const device = new Device(unit.io, CONFIG);
      checkEqual(device.boot().state, "store-unreadable", "nothing usable");
      device.factoryReset();
      check(device.nodeId !== undefined, "a new identity");
      check(new CredentialStore(unit.reboot().io.storage).load().status === "ok", "stored");
      device.shutdown();
    },
  },
  {
    name: "Low: both slots corrupt → store-corrupt logged before a new identity",
    run(ctx) {
      const d = ctx.device();
      new CredentialStore(d.io.storage).save(good(d));
      new CredentialStore(d.io.storage).save(good(d));
      for (const key of ["cred.a", "cred.b"]) {
        const bytes = d.io.storage.read(key)!;
        bytes[bytes.length - 1]! ^= 0xff; // CRC broken
        d.io.storage.write(key, bytes);
      }
      const unit = d.reboot();
      const report = new Device(unit.io, CONFIG).boot();
      const corrupt = unit.logs.findIndex((r) => r.event === "store-corrupt" && r.level === "error");
      const boot = unit.logs.findIndex((r) => r.event === "boot");
      check(corrupt >= 0 && corrupt < boot, "store-corrupt logged before the new identity's boot record");
      check(report.firstBoot, "a new identity");
    },
  },
  {
    name: "Low: a storage read that throws (a non-blob NVS value) is an unreadable slot, not an exception out of boot()",
    run(ctx) {
      const d = ctx.device();
      const base = good(d);
      new CredentialStore(d.io.storage).save(base);
      const unit = d.reboot();
      const storage: KeyValueStorage = {
        read: (key) => { if (key === "cred.b") throw new Error("nvs: type mismatch"); return unit.io.storage.read(key); },
        write: (key, value) => unit.io.storage.write(key, value),
        delete: (key) => unit.io.storage.delete(key),
      };
      const nonBlob: KeyValueStorage = { ...storage, read: (key) => (key === "cred.b" ? ("a string" as unknown as Uint8Array) : unit.io.storage.read(key)) };
      for (const s of [storage, nonBlob]) {
        const device = new Device({ ...unit.io, storage: s }, CONFIG);
        const report = device.boot();
        device.shutdown();
        check(!report.firstBoot && report.state === "connecting", `boots from cred.a (${report.state})`);
      }
    },
  },
  {
    name: "Low: a password inside a malformed broker or HTTP URL is never echoed (errors and log fields)",
    run() {
      const url = "mqtts://fleet:hunter2@broker.example.com:88x3";
      const e = checkThrows(() => parseBrokerUrl(url), Error, "malformed broker URL");
      check(!e.message.includes("hunter2") && e.message.includes("[redacted]"), `parse error redacted: ${e.message}`);
      const c = checkThrows(() => parseFactoryConfig({ chain: ["stored"], broker: { url } }), Error, "factory config");
      check(!c.message.includes("hunter2"), "config-invalid message redacted");
      const records: LogRecord[] = [];
      new Logger((r) => records.push(r), () => 0, "t").error("config-invalid", { error: `bad ${url}`, other: "https://u:p@ss w0rd@host/x" });
      const text = JSON.stringify(records);
      check(!text.includes("hunter2") && !text.includes("ss w0rd"), `log fields redacted: ${text}`);
    },
  },
];
