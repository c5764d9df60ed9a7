// Each onboarding strategy end to end: a blank simulated device (real TLS with the board profile,
// real timers) runs the strategy chain against the reference cloud (HTTPS bootstrap and
// registration services, aedes broker enforcing the issued credentials) and comes online. The
// failure cases end in the right typed state and heal once the cause is fixed.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { generateTestPki, type TestPki } from "../../host-sim/certs/pki.js";
import { startCloud, type Cloud } from "../../host-sim/cloud/cloud.js";
import { createSimDevice, type HostSimDevice } from "../../host-sim/sim-device.js";
import { parseFactoryConfig, type FactoryConfig } from "../../src/config/factory-config.js";
import { Device, type DeviceEvent } from "../../src/lifecycle/device.js";
import { httpFetch } from "../../src/http/client.js";
import { MqttClient } from "../../src/mqtt/client.js";
import type { StrategyFailure } from "../../src/onboarding/strategy.js";
import { CredentialStore } from "../../src/storage/credential-store.js";

let dir: string;
let pki: TestPki;
let cloud: Cloud;
const publishedTopics: string[] = [];
const ENCRYPT_KEY = "12345678910111213141516171819202";

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "onboarding-e2e-"));
  pki = generateTestPki(join(dir, "pki"));
  cloud = await startCloud({ tls: { key: pki.serverKeyPem, cert: pki.serverCertPem, ca: pki.caPem }, statePath: join(dir, "cloud.json"), encryptKey: ENCRYPT_KEY });
  cloud.broker.events.on("published", (m) => publishedTopics.push(m.topic));
});
after(async () => {
  await cloud.close();
  rmSync(dir, { recursive: true, force: true });
});

let macCounter = 0x10;
const nextMac = () => `02:00:00:00:${(macCounter >> 8).toString(16).padStart(2, "0")}:${(macCounter++ & 0xff).toString(16).padStart(2, "0")}`.toUpperCase();

function factory(overrides: Record<string, unknown>): FactoryConfig {
  return parseFactoryConfig({
    broker: { url: cloud.brokerUrl, ca: pki.caPem },
    retry: { attempts: 2, initialMs: 100, maxMs: 400 },
    ...overrides,
  });
}

const FAST = { telemetryIntervalMs: 0, keepaliveSeconds: 30, backoff: { initialMs: 100, maxMs: 400, minMs: 50 } };

interface Run {
  readonly sim: HostSimDevice;
  readonly device: Device;
  readonly states: string[];
  readonly failures: { strategy: string; failure: StrategyFailure }[];
}

function boot(config: FactoryConfig, mac = nextMac(), sim = createSimDevice({ mac })): Run {
  const device = new Device(sim.io, { ...FAST, factory: config });
  const states: string[] = [];
  const failures: Run["failures"] = [];
  device.on((e: DeviceEvent) => {
    if (e.type === "state") states.push(e.reason ? `${e.state}: ${e.reason}` : e.state);
    if (e.type === "onboarding" && e.event.type === "failed") failures.push({ strategy: e.event.strategy, failure: e.event.failure });
  });
  device.boot();
  return { sim, device, states, failures };
}

async function until(what: string, condition: () => boolean, ms = 15_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function stop(run: Run): void {
  run.device.shutdown();
  run.sim.io.shutdown();
}

function noSecretsLogged(run: Run, ...secrets: string[]): void {
  for (const record of run.sim.logs) for (const s of secrets) assert.ok(!JSON.stringify(record).includes(s), "a secret reached the log");
}

describe("bootstrap strategy against the reference cloud", () => {
  for (const generation of ["raw", "thing", "client"] as const) {
    for (const secure of [false, true]) {
      test(`${generation}${secure ? " secure" : ""}: blank device → bootstrap → persisted → online`, async () => {
        cloud.generation = generation;
        const mac = nextMac();
        const externalKey = `ext-key-${generation}-${secure ? "s" : "p"}`;
        const config = cloud.addBootstrapConfig({ externalId: mac, externalKey });
        const run = boot(factory({
          chain: ["stored", "bootstrap"],
          bootstrap: { url: cloud.httpUrl, generation, externalKey, ca: pki.caPem, ...(secure ? { secure: { key: ENCRYPT_KEY } } : {}) },
        }), mac);
        await until("online", () => run.device.state === "online");
        const stored = new CredentialStore(run.sim.io.storage).load();
        assert.equal(stored.status, "ok");
        if (stored.status === "ok") {
          assert.equal(stored.record.strategy?.name, "bootstrap");
          assert.equal(stored.record.mqtt?.username, config.thingId);
          assert.equal(stored.record.mqtt?.topics?.telemetry, `channels/${config.channels[0]!.id}/messages`);
        }
        await until("status accepted by the broker on the data channel", () => publishedTopics.includes(`channels/${config.channels[0]!.id}/messages/status`));
        noSecretsLogged(run, config.thingKey, externalKey);
        // A reboot goes straight online from flash ("stored"), writing nothing.
        run.device.shutdown();
        const again = run.sim.reboot();
        const rebooted = boot(run.device && factory({ chain: ["stored", "bootstrap"], bootstrap: { url: "https://localhost:1/", generation, externalKey } }), mac, again);
        await until("online after reboot", () => rebooted.device.state === "online");
        assert.equal(again.flash.writeCount, 0);
        stop(rebooted);
      });
    }
  }

  // The versions the old names do not reach: the device names the version, the cloud plays it
  // (Magistrala's router takes the MAC's colons as sent; 0.20 publishes on m/<domain>/c/<channel>).
  for (const version of ["mainflux-2023", "magistrala-0.14", "magistrala-0.15", "supermq-0.16", "magistrala-0.20"] as const) {
    test(`${version} secure: the version's path, scheme, key encoding, reply fields and topics → online`, async () => {
      cloud.version = version;
      const mac = nextMac();
      const config = cloud.addBootstrapConfig({ externalId: mac, externalKey: `ext-key-${version}` });
      const domain = version === "magistrala-0.20";
      const run = boot(factory({
        chain: ["stored", "bootstrap"],
        bootstrap: { url: cloud.httpUrl, version, ...(domain ? { domainId: cloud.domainId } : {}), externalKey: `ext-key-${version}`, ca: pki.caPem, secure: { key: ENCRYPT_KEY } },
      }), mac);
      try {
        await until("online", () => run.device.state === "online");
        const data = config.channels[0]!.id;
        const telemetry = domain ? `m/${cloud.domainId}/c/${data}` : `channels/${data}/messages`;
        const stored = new CredentialStore(run.sim.io.storage).load();
        assert.ok(stored.status === "ok" && stored.record.mqtt?.username === config.thingId && stored.record.mqtt.topics?.telemetry === telemetry);
        await until("status accepted by the broker", () => publishedTopics.includes(`${telemetry}/status`));
      } finally {
        stop(run);
        cloud.generation = "client";
      }
    });
  }

  test("wrong external key: refused (403) → onboarding-backoff; key fixed in the cloud → online", async () => {
    cloud.generation = "thing";
    const mac = nextMac();
    cloud.addBootstrapConfig({ externalId: mac, externalKey: "the-right-key" });
    const run = boot(factory({ chain: ["bootstrap"], bootstrap: { url: cloud.httpUrl, generation: "thing", externalKey: "a-wrong-key", ca: pki.caPem } }), mac);
    await until("backoff", () => run.states.some((s) => s.startsWith("onboarding-backoff")));
    assert.deepEqual(run.failures[0]?.failure, { kind: "refused", status: 403, detail: "wrong external key" });
    assert.notEqual(run.device.state, "online");
    cloud.addBootstrapConfig({ externalId: mac, externalKey: "a-wrong-key" }); // the operator fixes the config
    await until("online", () => run.device.state === "online");
    stop(run);
  });

  test("unknown external ID: 404 refused; raw generation missing key: typed", async () => {
    cloud.generation = "client";
    const run = boot(factory({ chain: ["bootstrap"], bootstrap: { url: cloud.httpUrl, generation: "client", externalKey: "k", ca: pki.caPem } }));
    await until("a failure", () => run.failures.length > 0);
    assert.equal(run.failures[0]!.failure.kind, "refused");
    assert.equal(run.failures[0]!.failure.status, 404);
    stop(run);
  });

  test("disabled device (Magistrala 0.30, whose bootstrap checks the state): kicked, CONNACK refused, re-bootstrap says disabled; enabled again → online", async () => {
    cloud.version = "magistrala-0.30";
    const mac = nextMac();
    cloud.addBootstrapConfig({ externalId: mac, externalKey: "dis-key" });
    const run = boot(factory({ chain: ["stored", "bootstrap"], bootstrap: { url: cloud.httpUrl, version: "magistrala-0.30", domainId: cloud.domainId, externalKey: "dis-key", ca: pki.caPem } }), mac);
    await until("online", () => run.device.state === "online");
    cloud.setEnabled(mac, false);
    await until("disabled failure", () => run.failures.some((f) => f.failure.kind === "disabled")).catch((e: unknown) => { console.log(run.states); throw e; });
    assert.ok(run.states.some((s) => /credentials rejected: not-authorized/.test(s)), run.states.join("\n"));
    const onlineBefore = run.states.filter((s) => s === "online").length;
    cloud.setEnabled(mac, true);
    await until("online again", () => run.states.filter((s) => s === "online").length > onlineBefore);
    stop(run);
    cloud.generation = "client";
  });

  test("cloud down (503) then back: unreachable, retried with back-off, then online", async () => {
    cloud.generation = "client";
    const mac = nextMac();
    cloud.addBootstrapConfig({ externalId: mac, externalKey: "down-key" });
    cloud.setDown(true);
    const run = boot(factory({ chain: ["bootstrap"], bootstrap: { url: cloud.httpUrl, generation: "client", externalKey: "down-key", ca: pki.caPem } }), mac);
    try {
      await until("two unreachable failures", () => run.failures.filter((f) => f.failure.kind === "unreachable").length >= 2);
    } finally {
      cloud.setDown(false);
    }
    await until("online", () => run.device.state === "online");
    stop(run);
  });
});

describe("bootstrap: per-unit external key from NVS", () => {
  test("one factory config, two units with their own keys written at manufacturing → both online; a unit without it: typed, online once written", async () => {
    cloud.generation = "client";
    const config = factory({ chain: ["stored", "bootstrap"], bootstrap: { url: cloud.httpUrl, generation: "client", externalKey: { nvs: "bs.key" }, ca: pki.caPem } });
    const units = [nextMac(), nextMac()].map((mac, i) => {
      const key = `unit-key-${i}-${mac}`;
      cloud.addBootstrapConfig({ externalId: mac, externalKey: key });
      const sim = createSimDevice({ mac });
      sim.io.storage.write("bs.key", new TextEncoder().encode(key)); // the factory line
      return { run: boot(config, mac, sim), key };
    });
    for (const { run } of units) await until("online", () => run.device.state === "online");
    for (const { run, key } of units) noSecretsLogged(run, key);
    units.forEach(({ run }) => stop(run));

    const mac = nextMac();
    cloud.addBootstrapConfig({ externalId: mac, externalKey: "late-key" });
    const sim = createSimDevice({ mac });
    const run = boot(config, mac, sim);
    await until("typed failure", () => run.failures.some((f) => f.strategy === "bootstrap"));
    const failure = run.failures.find((f) => f.strategy === "bootstrap")!.failure;
    assert.equal(failure.kind, "not-applicable");
    assert.match(failure.detail, /external key not provisioned: NVS key "bs.key" is absent/);
    assert.notEqual(run.device.state, "online");
    sim.io.storage.write("bs.key", new TextEncoder().encode("late-key"));
    await until("online once the key is there", () => run.device.state === "online");
    stop(run);
  });
});

describe("bootstrap: Magistrala v0.30 reply shape", () => {
  for (const secure of [false, true]) {
    test(`v0.30${secure ? " secure" : ""}: reply is {id, content} with the credentials rendered into content → online`, async () => {
      cloud.generation = "client-v0.30";
      const mac = nextMac();
      const config = cloud.addBootstrapConfig({ externalId: mac, externalKey: "v030-key", content: JSON.stringify({ broker_url: cloud.brokerUrl }) });
      if (!secure) {
        // The wire shape itself: no credentials at the top level.
        const probe = createSimDevice();
        // Magistrala's router does not percent-decode: the MAC goes in as it is.
        const res = await httpFetch(probe.io, `${cloud.httpUrl}/clients/bootstrap/${mac}`, { ca: pki.caPem, headers: { Authorization: "Client v030-key" } });
        probe.io.shutdown();
        const body = JSON.parse(new TextDecoder().decode(res.body)) as Record<string, unknown>;
        assert.deepEqual(Object.keys(body).sort(), ["content", "id"]);
        assert.equal((JSON.parse(body.content as string) as { client_id: string }).client_id, config.thingId);
      }
      const run = boot(factory({
        chain: ["stored", "bootstrap"],
        bootstrap: { url: cloud.httpUrl, version: "magistrala-0.30", domainId: cloud.domainId, externalKey: "v030-key", ca: pki.caPem, ...(secure ? { secure: { key: ENCRYPT_KEY } } : {}) },
      }), mac);
      await until("online", () => run.device.state === "online");
      const stored = new CredentialStore(run.sim.io.storage).load();
      assert.ok(stored.status === "ok" && stored.record.mqtt?.username === config.thingId);
      // Magistrala 0.20+ topics: m/<domain>/c/<channel>.
      assert.equal(stored.status === "ok" && stored.record.mqtt?.topics?.telemetry, `m/${cloud.domainId}/c/${config.channels[0]!.id}`);
      await until("status published on the data channel", () => publishedTopics.includes(`m/${cloud.domainId}/c/${config.channels[0]!.id}/status`));
      noSecretsLogged(run, config.thingKey);
      stop(run);
      cloud.generation = "client";
    });
  }
});

describe("register strategy against the reference cloud", () => {
  const registerConfig = () => factory({ chain: ["stored", "register"], register: { url: `${cloud.httpUrl}/register`, ca: pki.caPem } });

  test("unknown serial: refused (401); serial allowed → online; factory reset re-registers and the old key stops working", async () => {
    const mac = nextMac();
    const serial = mac.replace(/:/g, "");
    const run = boot(registerConfig(), mac);
    await until("refusal", () => run.failures.some((f) => f.strategy === "register"));
    assert.deepEqual(run.failures.filter((f) => f.strategy === "register")[0]!.failure, { kind: "refused", status: 401, detail: "serial not on the allow-list" });
    cloud.allowSerials([serial]);
    await until("online", () => run.device.state === "online");
    const first = new CredentialStore(run.sim.io.storage).load();
    assert.equal(first.status, "ok");
    const old = first.status === "ok" ? first.record.mqtt! : undefined;
    assert.ok(old && old.clientId.length === 24);

    run.device.factoryReset();
    await until("online after re-registration", () => run.states.filter((s) => s === "online").length >= 2);
    const second = new CredentialStore(run.sim.io.storage).load();
    assert.ok(second.status === "ok" && second.record.mqtt!.username !== old!.username, "a fresh key");
    assert.equal(second.status === "ok" && second.record.mqtt!.clientId, old!.clientId, "same device ID");

    // The old key, presented by anyone, is refused by the broker.
    const probe = createSimDevice();
    const client = new MqttClient(probe.io, {
      endpoint: { host: "localhost", port: cloud.broker.port, ca: pki.caPem },
      clientId: old!.clientId, username: old!.username!, password: old!.password!, keepaliveSeconds: 30,
    });
    let refused: string | undefined;
    client.on((e) => { if (e.type === "refused") refused = e.reason; });
    client.start();
    await until("old key refused", () => refused !== undefined);
    assert.equal(refused, "not-authorized");
    client.stop();
    probe.io.shutdown();
    stop(run);
  });

  test("429 with Retry-After is honoured, then registration succeeds", async () => {
    const mac = nextMac();
    cloud.allowSerials([mac.replace(/:/g, "")]);
    cloud.throttleRegistration(1, 1);
    const run = boot(registerConfig(), mac);
    await until("online", () => run.device.state === "online");
    assert.deepEqual(run.failures.filter((f) => f.strategy === "register").map((f) => f.failure), [{ kind: "not-approved", status: 429, detail: "registration rate limited", retryAfterMs: 1000 }]);
    stop(run);
  });

  test("revoked credential: CONNACK refused → re-register → online with a new key", async () => {
    const mac = nextMac();
    const serial = mac.replace(/:/g, "");
    cloud.allowSerials([serial]);
    const run = boot(registerConfig(), mac);
    await until("online", () => run.device.state === "online");
    cloud.revoke(`register:${serial}`);
    await until("online again", () => run.states.filter((s) => s === "online").length >= 2);
    assert.ok(run.states.some((s) => /credentials rejected: not-authorized/.test(s)), run.states.join("\n"));
    stop(run);
  });
});

describe("shared strategy against the reference cloud", () => {
  test("shared credentials + MAC-derived client ID → online; a second unit with the same ID is refused (identifier-rejected), typed", async () => {
    cloud.addSharedAccount("fleet-class-a", "shared-password-a");
    const config = factory({ chain: ["stored", "shared"], shared: { username: "fleet-class-a", password: "shared-password-a", clientIdPrefix: "esp" } });
    const mac = nextMac();
    const published: string[] = [];
    cloud.broker.events.on("published", (m) => published.push(`${m.clientId} ${m.topic}`));
    const first = boot(config, mac);
    await until("first online", () => first.device.state === "online");
    const clientId = `esp${mac.replace(/:/g, "")}`;
    await until("status published under its own prefix", () => published.includes(`${clientId} devices/${clientId}/status`));
    const clone = boot(config, mac); // e.g. a cloned MAC
    await until("clone refused", () => clone.states.some((s) => s.startsWith("onboarding-backoff")));
    assert.ok(clone.states.some((s) => s === "needs-onboarding: broker refused: identifier-rejected"), clone.states.join("\n"));
    // The typed strategy failure comes with the next chain round (the lifecycle backs off first).
    await until("typed refusal", () => clone.failures.some((f) => f.strategy === "shared" && f.failure.kind === "refused" && /already in use/.test(f.failure.detail)));
    stop(first);
    await until("clone online once the ID is free", () => clone.device.state === "online");
    stop(clone);
  });
});

describe("shared strategy: register on first connect (embedded broker)", () => {
  test("shared login once → own credentials → online with a persistent session; a clone with another key is refused; a factory-reset unit registers again", async () => {
    cloud.addSharedAccount("class-r", "shared-password-r", undefined, { register: true });
    const config = factory({ chain: ["stored", "shared"], shared: { username: "class-r", password: "shared-password-r", clientIdPrefix: "esp", registerOnConnect: { timeoutMs: 5_000, cloudKey: cloud.registrationKey } } });
    const mac = nextMac();
    const clientId = `esp${mac.replace(/:/g, "")}`;
    const logins: string[] = [];
    cloud.broker.events.on("connected", (c) => { if (c.clientId === clientId) logins.push(c.username ?? ""); });
    const first = boot(config, mac);
    await until("online", () => first.device.state === "online");
    const own = new CredentialStore(first.sim.io.storage).load();
    assert.ok(own.status === "ok");
    const mine = own.record.mqtt!;
    assert.equal(mine.clientId, clientId);
    assert.notEqual(mine.username, "class-r");
    assert.deepEqual(own.record.strategy, { name: "shared", state: { shared: true, registered: true } });
    assert.deepEqual(logins, ["class-r", mine.username], "the shared login once, then its own");
    noSecretsLogged(first, "shared-password-r", mine.password!.revealString());

    // Persistent session: a command queued while the unit is off reaches it after the reboot.
    first.device.shutdown();
    const rebooted = boot(config, mac, first.sim.reboot());
    const sessions: boolean[] = [];
    rebooted.device.on((e) => { if (e.type === "mqtt" && e.event.type === "online") sessions.push(e.event.sessionPresent); });
    await until("online again", () => rebooted.device.state === "online");
    assert.deepEqual(sessions, [true], "the broker kept the session (clean session off)");

    // A clone (same MAC, another identity) while the unit is online: the ID is in use (CONNACK 2).
    const clone = boot(config, mac);
    await until("clone refused", () => clone.failures.some((f) => f.strategy === "shared"));
    assert.deepEqual(clone.failures.find((f) => f.strategy === "shared")!.failure, { kind: "refused", detail: `client ID ${clientId} is already in use`, status: 2 });
    stop(clone);
    // With the unit offline the clone gets in with the shared login, but the ID is bound to the unit's key.
    stop(rebooted);
    const clone2 = boot(config, mac);
    await until("clone refused by the cloud", () => clone2.failures.some((f) => f.strategy === "shared"));
    assert.deepEqual(clone2.failures.find((f) => f.strategy === "shared")!.failure, { kind: "refused", detail: `client ID ${clientId} is registered to another unit` });
    stop(clone2);

    // Factory reset keeps the identity: the same unit registers again, the old login is revoked.
    const again = boot(config, mac, rebooted.sim.reboot());
    await until("online", () => again.device.state === "online");
    again.device.factoryReset();
    await until("registered again", () => again.states.filter((x) => x === "online").length >= 2);
    const renewed = new CredentialStore(again.sim.io.storage).load();
    assert.ok(renewed.status === "ok" && renewed.record.mqtt!.username !== mine.username);
    assert.equal(cloud.state.credential(mine.username!), undefined, "old login revoked");
    stop(again);
  });
});

describe("rotation pushed by the cloud", () => {
  const registered = async () => {
    const mac = nextMac();
    const serial = mac.replace(/:/g, "");
    cloud.allowSerials([serial]);
    const run = boot(factory({ chain: ["stored", "register"], register: { url: `${cloud.httpUrl}/register`, ca: pki.caPem } }), mac);
    await until("online", () => run.device.state === "online");
    await until("subscribed to its command topic", () => run.sim.logs.length > 0 && cloud.state.data.credentials.some((c) => c.owner === `register:${serial}`));
    await new Promise((r) => setTimeout(r, 300)); // let the SUBSCRIBE land before the cloud publishes
    return { run, serial };
  };
  const stored = (run: Run) => {
    const s = new CredentialStore(run.sim.io.storage).load();
    assert.equal(s.status, "ok");
    return s.status === "ok" ? s.record : undefined;
  };

  test("accepted rotation: pending → reconnect → commit; the old credential is retired", async () => {
    const { run, serial } = await registered();
    const before = stored(run)!.mqtt!.username;
    const { username } = await cloud.rotate(`register:${serial}`);
    await until("committed", () => run.sim.logs.some((r) => r.event === "rotation-committed"));
    const after = stored(run)!;
    assert.equal(after.mqtt!.username, username);
    assert.equal(after.pending, undefined);
    await until("old credential retired", () => cloud.state.credential(before!) === undefined);
    assert.ok(run.states.includes("rotating"));
    stop(run);
  });

  test("rotation the broker refuses: rolled back to the old credentials, online again", async () => {
    const { run, serial } = await registered();
    const before = stored(run)!.mqtt!.username;
    await cloud.rotate(`register:${serial}`, { refusable: true });
    await until("rolled back", () => run.sim.logs.some((r) => r.event === "rotation-rolled-back"));
    await until("online again", () => run.states.filter((s) => s === "online").length >= 2);
    const after = stored(run)!;
    assert.equal(after.mqtt!.username, before);
    assert.equal(after.pending, undefined);
    stop(run);
  });
});
