// M2 (issue 14): secrets leave the flash when they are meant to. The store runs over host-sim's
// simulated NVS chip and, after a factory reset, a delivered user mapping and a committed (or
// rolled back) rotation, every byte the chip holds is scanned for every secret the unit ever held,
// in each form the record could carry it (raw, hex as the record encodes binary secrets, base64).
import assert from "node:assert/strict";
import { test } from "node:test";
import { Flash } from "../../host-sim/io/flash.js";
import { createNodeIo } from "../../host-sim/io/node-io.js";
import { generateIdentity } from "../../src/identity/identity.js";
import { mappingDelivered, mappingRequested } from "../../src/lifecycle/user-mapping-record.js";
import { Secret } from "../../src/secrets/secret.js";
import type { CredentialRecord, MqttCredentials } from "../../src/storage/credential-record.js";
import { CredentialStore } from "../../src/storage/credential-store.js";

function forms(secret: string): Buffer[] {
  const raw = Buffer.from(secret, "utf8");
  return [raw, Buffer.from(raw.toString("hex")), Buffer.from(raw.toString("base64"))];
}

/** The secrets among `held` still somewhere in the chip's bytes. */
function leftIn(flash: Flash, held: readonly string[]): string[] {
  const chip = Buffer.concat(flash.keys().map((k) => Buffer.from(flash.peek(k)!)));
  return held.filter((s) => forms(s).some((f) => chip.includes(f)));
}

function setup() {
  const flash = Flash.inMemory();
  const io = createNodeIo({ flash, log: "silent", unrefTimers: true });
  const store = new CredentialStore(io.storage);
  const mqtt = (n: number): MqttCredentials => ({ brokerUrl: "mqtts://b.example:8883", clientId: "node", username: `user-${n}`, password: Secret.fromString(`mqtt-password-${n}`) });
  const base: CredentialRecord = { version: 1, identity: generateIdentity(io), mqtt: mqtt(1), wifi: { ssid: Buffer.from("home"), passphrase: Secret.fromString("wifi-passphrase-1") } };
  return { flash, io, store, mqtt, base };
}

test("M2: after a factory reset no Wi-Fi passphrase, MQTT password or mapping secret is left in flash (the identity key stays)", () => {
  const { flash, io, store, base } = setup();
  store.save(base);
  store.save(mappingRequested(base, "user-1", Secret.fromString("rainmaker-secret-1")));
  store.factoryReset();
  assert.deepEqual(leftIn(flash, ["wifi-passphrase-1", "mqtt-password-1", "rainmaker-secret-1"]), []);
  const loaded = store.load();
  assert.ok(loaded.status === "ok" && loaded.record.mqtt === undefined);
  io.shutdown();
});

test("M2: a delivered mapping's secret key and a committed rotation's old password leave the flash; a rolled-back one's new password too", () => {
  const { flash, io, store, base, mqtt } = setup();
  store.save(base);
  const pending = mappingRequested(base, "user-1", Secret.fromString("rainmaker-secret-1"));
  store.save(pending);
  store.save(mappingDelivered(pending));
  assert.deepEqual(leftIn(flash, ["rainmaker-secret-1"]), [], "mapping delivered");
  let record = store.load();
  assert.ok(record.status === "ok");
  let r = store.beginRotation(record.record, mqtt(2));
  r = store.commitRotation(r);
  assert.deepEqual(leftIn(flash, ["mqtt-password-1"]), [], "rotation committed: the old password is gone");
  assert.deepEqual(leftIn(flash, ["mqtt-password-2"]), ["mqtt-password-2"], "the new one is kept");
  r = store.beginRotation(r, mqtt(3));
  store.rollbackRotation(r);
  assert.deepEqual(leftIn(flash, ["mqtt-password-3"]), [], "rotation rolled back: the refused password is gone");
  record = store.load();
  assert.ok(record.status === "ok" && record.record.mqtt?.username === "user-2");
  io.shutdown();
});

test("M2: a save that keeps every secret writes once (the stale slot is left for the crash-safe next save)", () => {
  const { flash, io, store, base } = setup();
  store.save(base);
  const before = flash.writeCount;
  store.save({ ...base, strategy: { name: "factory", state: { n: 1 } } });
  assert.equal(flash.writeCount - before, 1);
  io.shutdown();
});
