// The lifecycle with radios, engine-neutral (Node and XS): the provisioning window opened by the
// Device itself, provisioned over the simulated BLE link, stored Wi-Fi joined with back-off, and
// the pending user-mapping publish kept crash-safe in the credential record.
import { fromUtf8, utf8 } from "../../src/bytes/bytes.js";
import { generateIdentity } from "../../src/identity/identity.js";
import type { Io } from "../../src/io/io.js";
import { mappingDelivered, mappingRequested } from "../../src/lifecycle/user-mapping-record.js";
import type { DeviceConfig } from "../../src/lifecycle/device.js";
import { ProvisioningClient } from "../../src/provisioning/client.js";
import { userMappingPayload, userMappingTopic } from "../../src/provisioning/user-mapping.js";
import { DEFAULT_SERVICE_UUID } from "../../src/provisioning/uuid.js";
import { Secret } from "../../src/secrets/secret.js";
import { decodeRecord, encodeRecord, type CredentialRecord } from "../../src/storage/credential-record.js";
import { CredentialStore } from "../../src/storage/credential-store.js";
import { BleProtocommTransport } from "../../host-sim/ble/link.js";
import { check, checkEqual, waitFor, type Scenario, type ScenarioContext } from "./harness.js";
import { observe } from "./observer.js";
import { bootWithRadios, HOME, radioConfig, seeded } from "./radio-rig.js";

const POP = "scenario-pop-7";
const sleeper = (io: Io) => (ms: number) => new Promise<void>((r) => io.timers.set(r, ms));

const config = (extra: Partial<NonNullable<DeviceConfig["provisioning"]>> = {}): DeviceConfig => radioConfig(POP, extra);
const boot = bootWithRadios;
const home = HOME;

export const scenarios: Scenario[] = [
  {
    name: "lifecycle: record with Wi-Fi and user mapping round-trips; a version-1 record without them still loads; malformed fields are refused",
    run(ctx: ScenarioContext) {
      const d = ctx.device();
      const identity = generateIdentity(d.io);
      const old = encodeRecord({ version: 1, identity });
      const decodedOld = decodeRecord(old);
      check(decodedOld.wifi === undefined && decodedOld.user === undefined, "old record: no Wi-Fi, no user");
      const full = mappingRequested({ version: 1, identity, wifi: { ...home, bssid: Uint8Array.of(2, 0, 0, 0, 0, 1), channel: 6 } }, "user-a", Secret.fromString("k-1"));
      const back = decodeRecord(encodeRecord(full));
      checkEqual(fromUtf8(back.wifi!.ssid), "home-net", "ssid");
      checkEqual(back.wifi!.passphrase.revealString(), "correct horse battery", "passphrase");
      checkEqual(Array.from(back.wifi!.bssid!), [2, 0, 0, 0, 0, 1], "bssid");
      checkEqual(back.wifi!.channel, 6, "channel");
      checkEqual([back.user!.pending!.userId, back.user!.pending!.secretKey.revealString(), back.user!.pending!.reset], ["user-a", "k-1", false], "pending pair");
      const confirmed = mappingDelivered(back);
      checkEqual({ ...confirmed.user }, { userId: "user-a" }, "delivered: confirmed user, no pending pair");
      checkEqual(mappingRequested(confirmed, "user-b", Secret.fromString("k-2")).user!.pending!.reset, true, "another user: reset");
      checkEqual(mappingRequested(confirmed, "user-a", Secret.fromString("k-3")).user!.pending!.reset, false, "same user: no reset");
      const json = JSON.parse(fromUtf8(encodeRecord(full))) as Record<string, unknown>;
      for (const [name, bad] of [["empty ssid", { ssid: "", pass: "" }], ["short bssid", { ssid: "41", pass: "", bssid: "0102" }], ["ssid not hex", { ssid: "zz", pass: "" }]] as const) {
        let refused = false;
        try {
          decodeRecord(utf8(JSON.stringify({ ...json, wifi: bad })));
        } catch (e) {
          refused = (e as { code?: string }).code === "bad-field";
        }
        check(refused, `${name} refused with bad-field`);
      }
    },
  },
  {
    name: "lifecycle: a power cut while saving the mapping pair or its confirmation leaves the old record or the new one",
    run(ctx: ScenarioContext) {
      const d0 = ctx.device();
      const identity = generateIdentity(d0.io);
      const start: CredentialRecord = { version: 1, identity, wifi: home, user: { userId: "user-a" } };
      const requested = mappingRequested(start, "user-b", Secret.fromString("secret-b"));
      const steps = [{ name: "requested", before: start, after: requested }, { name: "delivered", before: requested, after: mappingDelivered(requested) }];
      for (const step of steps) {
        const size = encodeRecord(step.after).length;
        for (let byte = 0; byte <= size; byte += Math.max(1, Math.floor(size / 9))) {
          let d = ctx.device();
          new CredentialStore(d.io.storage).save(step.before);
          d = d.reboot();
          d.flash.cutPowerAt(0, byte);
          try {
            new CredentialStore(d.io.storage).save(step.after);
          } catch (e) {
            if (!ctx.isPowerCut(e)) throw e;
          }
          d = d.reboot();
          const found = new CredentialStore(d.io.storage).load();
          check(found.status === "ok", `${step.name} @${byte}: record readable`);
          const text = fromUtf8(encodeRecord(found.record));
          check(text === fromUtf8(encodeRecord(step.before)) || text === fromUtf8(encodeRecord(step.after)), `${step.name} @${byte}: old or new record`);
        }
      }
    },
  },
  {
    name: "lifecycle: pending mapping in flash → joins stored Wi-Fi, online, published once at QoS 1, confirmed in one write (and the stale slot overwritten); reboot publishes nothing and writes nothing",
    needs: ["broker"],
    async run(ctx: ScenarioContext) {
      const broker = ctx.broker!;
      const d = ctx.device();
      const start = seeded(d, broker);
      const withPending = mappingRequested({ ...start.record, wifi: home, user: { userId: "old-user" } }, "new-user", Secret.fromString("sk-42"));
      new CredentialStore(d.io.storage).save(withPending);
      const watcher = ctx.device(); // its own I/O: rebooting the unit must not cut the observer
      const obs = await observe(watcher.io, broker, userMappingTopic(start.nodeId));
      const unit = d.reboot();
      const { device, events } = boot(unit, config());
      checkEqual(device.state, "wifi-joining", "joins the stored network first");
      await waitFor(unit.io, () => events.some((e) => e.type === "user-mapping" && e.status === "delivered"), 15_000, "mapping delivered");
      checkEqual(unit.flash.writeCount, 2, "two flash writes: the confirmation, then the stale slot overwritten (M2)");
      for (const key of ["cred.a", "cred.b"]) check(!Array.from(unit.io.storage.read(key) ?? [], (b) => String.fromCharCode(b)).join("").includes("sk-42"), `the delivered secret key has left ${key}`);
      await waitFor(watcher.io, () => obs.messages.length > 0, 10_000, "observer got the mapping");
      checkEqual(obs.messages.map((m) => m.payload), [userMappingPayload(start.nodeId, "new-user", "sk-42", true)], "published once, reset since the user changed");
      const stored = new CredentialStore(unit.io.storage).load();
      check(stored.status === "ok", "record readable");
      checkEqual({ ...stored.record.user }, { userId: "new-user" }, "confirmed user, pending pair gone");
      check(!unit.logs.some((r) => JSON.stringify(r.fields).includes("sk-42")), "secret key never logged");
      device.shutdown();
      const again = unit.reboot();
      const second = boot(again, config());
      await waitFor(again.io, () => second.device.state === "online", 15_000, "online after reboot");
      check(!second.events.some((e) => e.type === "user-mapping"), "nothing published again");
      checkEqual(again.flash.writeCount, 0, "zero flash writes");
      second.device.shutdown();
      obs.client.stop();
    },
  },
  {
    name: "lifecycle: blank Wi-Fi → the device opens the window, is provisioned over BLE (Security 1), stores the network, goes online",
    needs: ["broker"],
    async run(ctx: ScenarioContext) {
      const broker = ctx.broker!;
      const d = ctx.device();
      seeded(d, broker);
      const unit = d.reboot();
      const { device, events, radio } = boot(unit, config());
      checkEqual(device.state, "provisioning", "window open");
      const opened = events.find((e) => e.type === "provisioning" && e.event.type === "opened");
      check(opened !== undefined && opened.type === "provisioning" && opened.event.type === "opened", "opened event");
      check(!unit.logs.some((r) => JSON.stringify(r.fields).includes(POP)), "PoP not logged");
      const gatt = await radio.connect(opened.event.deviceName, { mtu: 247 });
      const client = new ProvisioningClient(await BleProtocommTransport.open(gatt, DEFAULT_SERVICE_UUID), unit.io.random, sleeper(unit.io));
      await client.establishSession(1, { pop: POP });
      checkEqual(await client.setConfig("home-net", "correct horse battery"), 0, "set config");
      checkEqual(await client.applyConfig(), 0, "apply");
      checkEqual((await client.waitForConnection(20, 500)).state, "connected", "app sees connected");
      await waitFor(unit.io, () => device.state === "online", 15_000, "online");
      const stored = new CredentialStore(unit.io.storage).load();
      check(stored.status === "ok" && stored.record.wifi !== undefined && fromUtf8(stored.record.wifi.ssid) === "home-net", "network stored");
      device.shutdown();
    },
  },
  {
    name: "lifecycle: stored network failing → retries with back-off, then the window; its timeout sends the device back to the stored network",
    async run(ctx: ScenarioContext) {
      const d = ctx.device();
      const identity = generateIdentity(d.io);
      new CredentialStore(d.io.storage).save({ version: 1, identity, wifi: { ssid: utf8("home-net"), passphrase: Secret.fromString("stale") } });
      const unit = d.reboot();
      const { device, events } = boot(unit, config({ windowTimeoutMs: 100, wifiJoin: { backoff: { initialMs: 20, maxMs: 40, minMs: 5 }, maxFailures: 2 } }));
      await waitFor(unit.io, () => device.state === "provisioning", 10_000, "window after failures");
      checkEqual(unit.logs.filter((r) => r.event === "wifi-join-failed").length, 2, "two failed joins");
      await waitFor(unit.io, () => events.some((e) => e.type === "provisioning" && e.event.type === "closed" && e.event.reason === "timeout"), 10_000, "window timeout");
      await waitFor(unit.io, () => unit.logs.filter((r) => r.event === "wifi-join-failed").length >= 3, 10_000, "stored network tried again");
      checkEqual(unit.flash.writeCount, 0, "nothing written");
      device.shutdown();
    },
  },
];
