// The credential store's promise: whatever byte the power dies on, the next boot finds exactly
// the old record or the new one, never a mix and never nothing; and a normal boot writes nothing.
import { Device } from "../../src/lifecycle/device.js";
import { Secret } from "../../src/secrets/secret.js";
import { CredentialStore } from "../../src/storage/credential-store.js";
import { SlotPair } from "../../src/storage/slot-pair.js";
import { decodeRecord, encodeRecord, RecordError, type CredentialRecord } from "../../src/storage/credential-record.js";
import { generateIdentity } from "../../src/identity/identity.js";
import { utf8 } from "../../src/bytes/bytes.js";
import type { KeyValueStorage } from "../../src/io/io.js";
import { check, checkEqual, checkThrows, type Scenario, type ScenarioContext, type SimDevice } from "./harness.js";
import { SAMPLE_CA_PEM } from "./vectors.js";

function recordWith(identity: CredentialRecord["identity"], n: number): CredentialRecord {
  return {
    version: 1,
    identity,
    mqtt: {
      brokerUrl: `mqtts://broker-${n}.example.com:8883`,
      clientId: `node${n}`,
      username: `user-${n}`,
      password: Secret.fromString(`password-${n}-${"x".repeat(n % 7)}`),
      ca: SAMPLE_CA_PEM,
    },
    strategy: { name: "factory", state: { generation: n } },
  };
}

/** What the store holds after a reboot, as bytes of the encoded record ("empty"/"unreadable" otherwise). */
function storedAfterReboot(device: SimDevice): string {
  const loaded = new CredentialStore(device.reboot().io.storage).load();
  return loaded.status === "ok" ? JSON.stringify(Array.from(encodeRecord(loaded.record))) : loaded.status;
}

const encoded = (record: CredentialRecord) => JSON.stringify(Array.from(encodeRecord(record)));

/** Sizes of the storage writes an operation makes, learned on a scratch device. */
function writeSizes(ctx: ScenarioContext, prepare: (s: CredentialStore) => void, operation: (s: CredentialStore) => void): number[] {
  const scratch = ctx.device();
  prepare(new CredentialStore(scratch.io.storage));
  const sizes: number[] = [];
  const storage = scratch.io.storage;
  const spy: KeyValueStorage = {
    read: (key) => storage.read(key),
    write: (key, value) => { sizes.push(value.length); storage.write(key, value); },
    delete: (key) => { sizes.push(0); storage.delete(key); },
  };
  operation(new CredentialStore(spy));
  return sizes;
}

/**
 * Cut power at every write and every byte of `operation`, starting from the state `prepare`
 * leaves; after each cut, reboot and compare with the acceptable outcomes.
 */
function everyCutPoint(
  ctx: ScenarioContext,
  prepare: (s: CredentialStore) => void,
  operation: (s: CredentialStore) => void,
  /** `commit`: the write whose completion makes the new state current (default: the last one). A save that drops a secret writes the new slot, then overwrites the stale one: it commits at its first write. */
  expectations: { before: string; after: string; commit?: number },
): number {
  const sizes = writeSizes(ctx, prepare, operation);
  check(sizes.length > 0, "the operation writes to flash");
  let points = 0;
  const commit = expectations.commit ?? sizes.length - 1;
  for (let write = 0; write < sizes.length; write++) {
    // Every byte up to and including the committing write; after it (the stale slot's overwrite)
    // the ends, the middle and their neighbours: the whole walk of those is in test/node/power-cuts.test.ts.
    const size = sizes[write]!;
    const bytes = write <= commit ? Array.from({ length: size + 1 }, (_, i) => i) : [...new Set([0, 1, size >> 1, size - 1, size])].filter((b) => b >= 0 && b <= size);
    for (const byte of bytes) {
      const device = ctx.device();
      prepare(new CredentialStore(device.io.storage));
      device.flash.cutPowerAt(write, byte);
      let cut = false;
      try {
        operation(new CredentialStore(device.io.storage));
      } catch (e) {
        if (!ctx.isPowerCut(e)) throw e;
        cut = true;
      }
      check(cut, `power cut at write ${write} byte ${byte} happened`);
      const found = storedAfterReboot(device);
      const committed = write > commit || (write === commit && byte === sizes[write]);
      // Until the committing write is whole, the old state must be intact; once it is, the new one.
      const expected = committed ? expectations.after : expectations.before;
      if (found !== expected) {
        throw new Error(`cut at write ${write} byte ${byte}: found ${found === expectations.before ? "old" : found === expectations.after ? "new" : found}, expected ${expected === expectations.before ? "old" : "new"}`);
      }
      points++;
    }
  }
  return points;
}

export const scenarios: Scenario[] = [
  {
    name: "store: a record round-trips and secrets stay wrapped",
    run(ctx) {
      const device = ctx.device();
      const identity = generateIdentity(device.io);
      const record = recordWith(identity, 3);
      const store = new CredentialStore(device.io.storage);
      checkEqual(store.load().status, "empty", "new flash is empty");
      store.save(record);
      const loaded = new CredentialStore(device.reboot().io.storage).load();
      check(loaded.status === "ok", "record loads after reboot");
      checkEqual(encodeRecord(loaded.record), encodeRecord(record), "same record");
      check(loaded.record.mqtt?.password instanceof Secret, "password is a Secret");
      checkEqual(String(loaded.record.mqtt?.password), "[redacted]", "a Secret prints redacted");
      checkEqual(JSON.stringify({ p: loaded.record.identity.secretKey }), '{"p":"[redacted]"}', "JSON shows no key");
    },
  },
  {
    name: "store: malformed records are rejected whole with a typed error",
    run() {
      const bad = [
        "not json", "{}", '{"v":2,"id":{}}', '{"v":1}', '{"v":1,"id":{"sk":"00","pk":"00"}}',
        `{"v":1,"id":{"sk":"${"ab".repeat(32)}","pk":"${"cd".repeat(32)}"},"mqtt":{"url":"mqtt://plain:1883","cid":"x"}}`,
        `{"v":1,"id":{"sk":"${"ab".repeat(32)}","pk":"${"cd".repeat(32)}"},"mqtt":{"url":"mqtts://h:8883","cid":"x","cert":"c"}}`,
        `{"v":1,"id":{"sk":"${"ab".repeat(32)}","pk":"${"cd".repeat(32)}"},"strategy":{"name":"x","state":{"a":{}}}}`,
      ];
      for (const text of bad) checkThrows(() => decodeRecord(utf8(text)), RecordError, `rejects ${text.slice(0, 40)}`);
      checkThrows(() => decodeRecord(new Uint8Array([0xff, 0xfe])), RecordError, "rejects invalid UTF-8");
    },
  },
  {
    name: "store: power cut at every byte of a credential update leaves exactly the old or the new record",
    run(ctx) {
      const identity = generateIdentity(ctx.device().io);
      const old1 = recordWith(identity, 1);
      const new2 = recordWith(identity, 2);
      const old2 = recordWith(identity, 22);
      const new3 = recordWith(identity, 3);
      // Both slot parities: the update goes to slot b (one save before), then to slot a (two saves before).
      // The password changes: the stale slot is overwritten too (M2), the new record commits at the first write.
      const pointsB = everyCutPoint(ctx, (s) => s.save(old1), (s) => s.save(new2), { before: encoded(old1), after: encoded(new2), commit: 0 });
      const pointsA = everyCutPoint(ctx, (s) => { s.save(old1); s.save(old2); }, (s) => s.save(new3), { before: encoded(old2), after: encoded(new3), commit: 0 });
      check(pointsA > 1000 && pointsB > 1000, `walked every byte of realistic records (${pointsA} + ${pointsB} cut points)`);
    },
  },
  {
    name: "store: power cut at every byte of first boot, factory reset and decommissioning",
    run(ctx) {
      const identity = generateIdentity(ctx.device().io);
      const withCreds = recordWith(identity, 5);
      const identityOnly: CredentialRecord = { version: 1, identity };
      everyCutPoint(ctx, () => {}, (s) => s.save(identityOnly), { before: "empty", after: encoded(identityOnly) });
      everyCutPoint(ctx, (s) => s.save(withCreds), (s) => s.factoryReset(), { before: encoded(withCreds), after: encoded(identityOnly), commit: 0 });
      everyCutPoint(ctx, (s) => { s.save(identityOnly); s.save(withCreds); }, (s) => s.factoryReset({ identity: true }), { before: encoded(withCreds), after: "empty" });
    },
  },
  {
    name: "boot: first boot makes and keeps the identity; a normal reboot writes nothing",
    run(ctx) {
      const first = ctx.device();
      const device = new Device(first.io, { telemetryIntervalMs: 0, keepaliveSeconds: 60 });
      const report = device.boot();
      check(report.firstBoot, "first boot is recognised");
      checkEqual(report.state, "needs-onboarding", "no credentials yet");
      checkEqual(first.flash.writeCount, 1, "first boot writes the identity once");
      check(/^[0-9a-f]{20}$/.test(report.nodeId ?? ""), "node ID is 20 hex characters");

      let current = first;
      for (let i = 0; i < 3; i++) {
        current = current.reboot();
        const again = new Device(current.io, { telemetryIntervalMs: 0, keepaliveSeconds: 60 }).boot();
        check(!again.firstBoot, "reboot is not a first boot");
        checkEqual(again.nodeId, report.nodeId, "node ID is stable across reboots");
        checkEqual(current.flash.writeCount, 0, "a normal reboot writes nothing");
      }
      const secretHex = (() => {
        const loaded = new CredentialStore(current.io.storage).load();
        check(loaded.status === "ok", "record present");
        return Array.from(loaded.record.identity.secretKey.revealBytes()).map((b) => b.toString(16).padStart(2, "0")).join("");
      })();
      for (const record of first.logs) check(!JSON.stringify(record).includes(secretHex), "the identity key never appears in a log record");
    },
  },
  {
    name: "boot: factory reset keeps the identity and forgets the credentials",
    run(ctx) {
      const d = ctx.device();
      const identity = generateIdentity(d.io);
      new CredentialStore(d.io.storage).save({ version: 1, identity });
      const device = new Device(d.io, { telemetryIntervalMs: 0, keepaliveSeconds: 60 });
      const before = device.boot();
      device.factoryReset();
      checkEqual(device.state, "needs-onboarding", "back to onboarding");
      const after = new Device(d.reboot().io, { telemetryIntervalMs: 0, keepaliveSeconds: 60 }).boot();
      checkEqual(after.nodeId, before.nodeId, "identity survives a factory reset");
    },
  },
  {
    name: "boot: a record from newer firmware alone is kept, not overwritten",
    run(ctx) {
      const d = ctx.device();
      // Simulate a newer firmware's record by writing a valid frame with version 2 through the store's framing.
      new SlotPair(d.io.storage, "cred").save(utf8('{"v":2,"future":true}'));
      const rebooted = d.reboot();
      const writes = rebooted.flash.writeCount;
      const report = new Device(rebooted.io, { telemetryIntervalMs: 0, keepaliveSeconds: 60 }).boot();
      checkEqual(report.state, "store-unreadable", "device refuses to guess");
      checkEqual(rebooted.flash.writeCount, writes, "and writes nothing");
    },
  },
];
