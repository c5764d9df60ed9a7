// Credential rotation is crash-safe: each step (begin: pending stored; commit; roll back) is one
// record save, and a power cut at any sampled byte of it leaves the step's "before" or "after"
// record, both of which hold a working identity. A boot that finds a pending set finishes the
// dance against a real broker: commit when it is accepted, roll back when it is refused.
import { fromUtf8, utf8 } from "../../src/bytes/bytes.js";
import { generateIdentity } from "../../src/identity/identity.js";
import { Device } from "../../src/lifecycle/device.js";
import { Secret } from "../../src/secrets/secret.js";
import { decodeRecord, encodeRecord, type CredentialRecord, type MqttCredentials } from "../../src/storage/credential-record.js";
import { CredentialStore } from "../../src/storage/credential-store.js";
import { check, checkEqual, waitFor, type Scenario, type ScenarioContext } from "./harness.js";

const creds = (user: string, password: string, broker = { host: "broker.example", port: 8883 }, ca?: string): MqttCredentials => ({
  brokerUrl: `mqtts://${broker.host}:${broker.port}`, clientId: "rot1", username: user, password: Secret.fromString(password), ...(ca ? { ca } : {}),
});

const text = (r: CredentialRecord | undefined) => (r ? fromUtf8(encodeRecord(r)) : "none");

function stored(_ctx: ScenarioContext, flash: ReturnType<ScenarioContext["device"]>): string {
  const loaded = new CredentialStore(flash.reboot().io.storage).load();
  return loaded.status === "ok" ? text(loaded.record) : loaded.status;
}

export const scenarios: Scenario[] = [
  {
    name: "onboarding rotation: a power cut in begin, commit or roll back leaves the before or after record",
    run(ctx) {
      const identity = generateIdentity(ctx.device().io);
      const old = creds("old-user", "old-password");
      const next = creds("new-user", "new-password");
      const base: CredentialRecord = { version: 1, identity, mqtt: old, strategy: { name: "register", state: { serial: "X" } } };
      const withPending: CredentialRecord = { ...base, pending: next };
      const steps: { name: string; start: CredentialRecord; run: (s: CredentialStore, r: CredentialRecord) => CredentialRecord; after: CredentialRecord }[] = [
        { name: "begin", start: base, run: (s, r) => s.beginRotation(r, next), after: withPending },
        { name: "commit", start: withPending, run: (s, r) => s.commitRotation(r), after: { ...base, mqtt: next } },
        { name: "rollback", start: withPending, run: (s, r) => s.rollbackRotation(r), after: base },
      ];
      let points = 0;
      for (const step of steps) {
        const size = encodeRecord(step.after).length + 17; // slot frame: 13-byte header + CRC
        const bytes = new Set([0, 1, 12, 13, Math.floor(size / 2), size - 5, size - 1, size]);
        for (let b = 0; b < size; b += 211) bytes.add(b);
        for (const byte of bytes) {
          const d = ctx.device();
          const store = new CredentialStore(d.io.storage);
          store.save(step.start);
          d.flash.cutPowerAt(0, byte);
          let cut = false;
          try {
            step.run(new CredentialStore(d.io.storage), step.start);
          } catch (e) {
            if (!ctx.isPowerCut(e)) throw e;
            cut = true;
          }
          check(cut, `${step.name}: the cut at byte ${byte} happened`);
          const found = stored(ctx, d);
          const expected = byte === size ? text(step.after) : text(step.start);
          if (found !== expected) throw new Error(`${step.name}, cut at byte ${byte} of ${size}: found ${found === text(step.after) ? "after" : found === text(step.start) ? "before" : found}`);
          points++;
        }
      }
      check(points >= 24, "enough cut points");
    },
  },
  {
    name: "onboarding rotation: a version-1 record written before rotation existed still loads (no pending)",
    run(ctx) {
      const identity = generateIdentity(ctx.device().io);
      const legacy = { v: 1, id: { sk: "11".repeat(32), pk: "22".repeat(32) }, mqtt: { url: "mqtts://b:8883", cid: "c", user: "u", pass: "7061" } };
      const record = decodeRecord(utf8(JSON.stringify(legacy)));
      checkEqual([record.mqtt?.username, record.mqtt?.password?.revealString(), record.pending], ["u", "pa", undefined], "legacy record");
      // A record without pending encodes exactly as before the field existed.
      const plain: CredentialRecord = { version: 1, identity, mqtt: creds("u", "p") };
      check(!fromUtf8(encodeRecord(plain)).includes("pending"), "no pending key written");
    },
  },
  {
    name: "onboarding rotation: booting with a pending set commits it when the broker accepts, rolls back when it refuses",
    needs: ["broker"],
    async run(ctx) {
      const broker = ctx.broker!;
      const good = () => creds(broker.username, broker.password, broker, broker.ca);
      const bad = () => creds(broker.username, "a password the broker refuses", broker, broker.ca);
      for (const [label, known, pending, expectUser, expectPassword] of [
        ["refused pending → roll back", good(), bad(), broker.username, broker.password],
        ["accepted pending → commit (the old set was already revoked)", bad(), good(), broker.username, broker.password],
      ] as const) {
        const d = ctx.device();
        new CredentialStore(d.io.storage).save({ version: 1, identity: generateIdentity(d.io), mqtt: known, pending });
        const device = new Device(d.io, { telemetryIntervalMs: 0, keepaliveSeconds: 30, backoff: { initialMs: 100, maxMs: 400, minMs: 50 } });
        const states: string[] = [];
        device.on((e) => { if (e.type === "state") states.push(e.state); });
        device.boot();
        await waitFor(d.io, () => device.state === "online", 15_000, `${label}: online`);
        checkEqual(states[0], "rotating", `${label}: tried the pending set first`);
        device.shutdown();
        const after = new CredentialStore(d.reboot().io.storage).load();
        check(after.status === "ok" && after.record.pending === undefined, `${label}: pending resolved`);
        check(after.status === "ok" && after.record.mqtt?.username === expectUser && after.record.mqtt.password?.revealString() === expectPassword, `${label}: the working set is kept`);
      }
    },
  },
];
