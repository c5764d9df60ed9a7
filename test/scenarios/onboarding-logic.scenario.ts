// Onboarding logic that needs no cloud: the secure-bootstrap vectors (cloud-protocols.md §1.7),
// the three reply shapes, status → typed failure per generation, the chain's decisions and its
// driver, and factory-config validation. Runs on Node and inside XS.
import { fromUtf8, toHex, utf8 } from "../../src/bytes/bytes.js";
import { ConfigError, parseFactoryConfig, type BootstrapConfig } from "../../src/config/factory-config.js";
import type { HttpResponse } from "../../src/http/codec.js";
import { Logger } from "../../src/log/logger.js";
import { LEGACY_VERSION, type BootstrapVersion } from "../../src/onboarding/bootstrap-version.js";
import { bootstrapRequest, bootstrapStatusFailure, BootstrapReplyError, credentialsFromReply, parseBootstrapReply } from "../../src/onboarding/bootstrap.js";
import { DEFAULT_CHAIN_POLICY, decide, runChain, type ChainEvent } from "../../src/onboarding/chain.js";
import { credentialsFromRegistration, registerStatusFailure } from "../../src/onboarding/register.js";
import { decryptReply, encryptReply, serviceKeyBytes } from "../../src/onboarding/secure-bootstrap.js";
import { sharedClientId } from "../../src/onboarding/shared.js";
import type { OnboardingContext, Strategy, StrategyResult } from "../../src/onboarding/strategy.js";
import { generateIdentity } from "../../src/identity/identity.js";
import { check, checkEqual, checkThrows, type Scenario } from "./harness.js";

const IV = Uint8Array.from({ length: 16 }, (_, i) => i);
const ENV_KEY = "12345678910111213141516171819202";
const CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

const reply = (status: number, headers: Record<string, string> = {}, body = ""): HttpResponse => ({ status, reason: "", headers, body: utf8(body) });

function bootstrapConfig(generation: "raw" | "thing" | "client", secure?: "hex" | "ascii"): BootstrapConfig {
  return { url: "https://cloud:9013/", version: LEGACY_VERSION[generation], generation, externalId: "mac", externalKey: "external-key-1", ...(secure ? { secure: { key: ENV_KEY, keyEncoding: secure } } : {}) };
}

export const scenarios: Scenario[] = [
  {
    name: "onboarding: secure bootstrap matches the reference vectors (AES-256 ASCII key, AES-128 hex key, reply direction)",
    run(ctx) {
      const magistrala = bootstrapRequest(ctx.crypto, bootstrapConfig("client", "ascii"), "AA:BB", IV);
      checkEqual(magistrala.url, "https://cloud:9013/clients/bootstrap/secure/AA:BB", "secure path: the MAC's colons unescaped (chi does not percent-decode)");
      checkEqual(magistrala.authorization.revealString(), "Client 000102030405060708090a0b0c0d0e0fb3ac2997b4b7a7a56cfce0821f52", "AES-256 vector");
      checkEqual(bootstrapRequest(ctx.crypto, bootstrapConfig("thing", "hex"), "x", IV).authorization.revealString(), "Thing 000102030405060708090a0b0c0d0e0f3cf340d047cbfea68a8a7c309bac", "AES-128 vector (0.13)");
      checkEqual(bootstrapRequest(ctx.crypto, bootstrapConfig("raw", "hex"), "x", IV).authorization.revealString(), "000102030405060708090a0b0c0d0e0f3cf340d047cbfea68a8a7c309bac", "AES-128 vector (≤0.12, raw)");
      const key256 = serviceKeyBytes(ENV_KEY, "ascii");
      const sealed = encryptReply(ctx.crypto, key256, IV, utf8('{"thing_id":"t1"}'));
      checkEqual(toHex(sealed), "000102030405060708090a0b0c0d0e0fadf6299aafb7a19628f3a7c11017d6bad4", "reply vector");
      checkEqual(fromUtf8(decryptReply(ctx.crypto, key256, sealed)), '{"thing_id":"t1"}', "reply decrypts");
      checkEqual(bootstrapRequest(ctx.crypto, bootstrapConfig("client"), "AA:BB").authorization.revealString(), "Client external-key-1", "plain Client scheme");
      checkEqual(bootstrapRequest(ctx.crypto, bootstrapConfig("raw"), "id").url, "https://cloud:9013/things/bootstrap/id", "raw path");
      check(String(magistrala.authorization) === "[redacted]", "the header travels as a Secret");
    },
  },
  {
    name: "onboarding: bootstrap replies in the three shapes, malformed ones typed, statuses per generation",
    run() {
      const channels = [{ id: "c-ctl", name: "ctl", metadata: { type: "control" } }, { id: "c-data", metadata: { type: "data" } }];
      const shapes: [BootstrapVersion, Record<string, unknown>][] = [
        ["mainflux-0.13", { mainflux_id: "t1", mainflux_key: "k1", mainflux_channels: channels, content: '{"broker_url":"mqtts://other:8884"}' }],
        ["magistrala-0.14", { thing_id: "t1", thing_key: "k1", channels }],
        ["supermq-0.16", { client_id: "t1", client_secret: "k1", channels, ca_cert: CA }],
      ];
      for (const [version, shape] of shapes) {
        const r = parseBootstrapReply(JSON.stringify(shape), version);
        checkEqual([r.id, r.key.revealString(), r.channels.length], ["t1", "k1", 2], "id, key, channels");
        const m = credentialsFromReply(r, { url: "mqtts://broker:8883", ca: "fleet-ca" }, { version, trust: "verified-tls" });
        checkEqual([m.clientId, m.username, m.topics?.telemetry, m.topics?.command], ["t1", "t1", "channels/c-data/messages", "channels/c-ctl/messages/req"], "MQTT mapping");
        checkEqual(m.brokerUrl, "content" in shape ? "mqtts://other:8884" : "mqtts://broker:8883", "broker from content");
        checkEqual(m.ca, "ca_cert" in shape ? CA : "fleet-ca", "ca_cert applied");
      }
      for (const bad of ["not json", "[]", "{}", '{"thing_id":"t"}', '{"client_id":"","client_secret":"k"}', '{"thing_id":"t","thing_key":"k","channels":{}}',
        '{"thing_id":"t","thing_key":"k","channels":[{"id":"a/#"}]}', '{"thing_id":"t","thing_key":"k","client_cert":"x"}']) {
        checkThrows(() => parseBootstrapReply(bad, "magistrala-0.14"), BootstrapReplyError, bad);
      }
      const now = 0;
      checkEqual(bootstrapStatusFailure(reply(200), "client", now), undefined, "200");
      checkEqual(bootstrapStatusFailure(reply(403), "client", now)?.detail, "wrong external key", "403 ≥0.13");
      checkEqual(bootstrapStatusFailure(reply(403, {}, '{"error":"config is disabled"}'), "client", now)?.kind, "disabled", "disabled");
      checkEqual(bootstrapStatusFailure(reply(404), "raw", now)?.detail, "unknown external ID or wrong key", "404 ≤0.12");
      checkEqual(bootstrapStatusFailure(reply(401), "thing", now)?.kind, "refused", "401");
      checkEqual(bootstrapStatusFailure(reply(503), "thing", now)?.kind, "unreachable", "5xx");
      checkEqual(bootstrapStatusFailure(reply(302), "thing", now)?.kind, "malformed-reply", "unexpected");
      checkEqual(registerStatusFailure(reply(429, { "retry-after": "7" }), now), { kind: "not-approved", status: 429, detail: "registration rate limited", retryAfterMs: 7000 }, "429");
      checkEqual(registerStatusFailure(reply(400), now)?.kind, "refused", "400");
      const fields = { deviceId: "deviceId", key: "key", secret: "secret" };
      const reg = credentialsFromRegistration('{"deviceId":"5793f96ee34f6e0170669c09","key":"k","secret":"s"}', { url: "https://x/register", fields }, { url: "mqtts://b" });
      checkEqual([reg.clientId, reg.username, reg.password?.revealString()], ["5793f96ee34f6e0170669c09", "k", "s"], "client ID = device ID, username = key, password = secret");
      checkThrows(() => credentialsFromRegistration('{"deviceId":"a/b","key":"k","secret":"s"}', { url: "https://x/register", fields }, { url: "mqtts://b" }), Error, "topic-unsafe device ID");
      checkEqual(sharedClientId({ username: "u", password: "p", clientIdPrefix: "esp" }, "aa:bb:cc:dd:ee:0f"), "espAABBCCDDEE0F", "shared client ID");
      // shared.clientId "node-id": the expected IDs and limits are our own rule (prefix + node ID, ≤ 23
      // for MQTT 3.1.1's portable client ID), self-derived, not from a cloud's documentation
      checkEqual(sharedClientId({ username: "u", password: "p", clientIdPrefix: "esp", clientId: "node-id" }, undefined, "b78905fa7518cfe193e5"), "espb78905fa7518cfe193e5", "shared client ID from the node ID (no MAC)");
      checkEqual(sharedClientId({ username: "u", password: "p", clientIdPrefix: "esp" }, undefined, "b78905fa7518cfe193e5"), undefined, "no MAC and the MAC asked for: none");
      const sharedConfig = (extra: Record<string, unknown>) => parseFactoryConfig({ chain: ["shared"], broker: { url: "mqtts://b:8883" }, shared: { username: "u", password: "p", ...extra } });
      checkEqual(sharedConfig({ clientIdPrefix: "esp", clientId: "node-id" }).shared?.clientId, "node-id", "shared.clientId node-id parsed");
      checkThrows(() => sharedConfig({ clientIdPrefix: "esp1", clientId: "node-id" }), ConfigError, "a 4-character prefix + 20 node-ID digits exceeds 23");
      checkThrows(() => sharedConfig({ clientId: "serial" }), ConfigError, "unknown shared.clientId");
    },
  },
  {
    name: "onboarding: chain decisions (retry transient, honour Retry-After, move on from refusals) and the chain driver",
    async run(ctx) {
      const p = { ...DEFAULT_CHAIN_POLICY, attemptsPerStrategy: 3, backoff: { initialMs: 1000, maxMs: 8000, minMs: 100 } };
      checkEqual(decide({ kind: "refused", detail: "" }, 1, p, 0.5), { action: "next" }, "refused → next");
      checkEqual(decide({ kind: "disabled", detail: "" }, 1, p, 0.5), { action: "next" }, "disabled → next");
      checkEqual(decide({ kind: "malformed-reply", detail: "" }, 1, p, 0.5), { action: "next" }, "malformed → next");
      checkEqual(decide({ kind: "denied", detail: "" }, 1, p, 0.5), { action: "stop" }, "denied by a person → stop the chain");
      checkEqual(decide({ kind: "unreachable", detail: "" }, 1, p, 0.5), { action: "retry", delayMs: 550 }, "unreachable → back-off");
      checkEqual(decide({ kind: "unreachable", detail: "" }, 3, p, 0.5), { action: "next" }, "attempts exhausted → next");
      checkEqual(decide({ kind: "not-approved", detail: "", retryAfterMs: 7000 }, 1, p, 0), { action: "retry", delayMs: 7000 }, "Retry-After honoured");
      checkEqual(decide({ kind: "not-approved", detail: "", retryAfterMs: 7000 }, 1, p, 0.5), { action: "retry", delayMs: 7350 }, "plus up to 10 % jitter");
      checkEqual(decide({ kind: "not-approved", detail: "", retryAfterMs: 60_000 }, 1, p, 0.999), { action: "retry", delayMs: 60_999 }, "jitter capped at 1 s");
      checkEqual(decide({ kind: "not-approved", detail: "", retryAfterMs: 10_000_000 }, 1, p, 0.5), { action: "next" }, "very long Retry-After → next");

      // The driver: A fails transiently once then refuses; B succeeds.
      const d = ctx.device();
      const calls: string[] = [];
      const script: Record<string, StrategyResult[]> = {
        a: [{ ok: false, failure: { kind: "unreachable", detail: "down" } }, { ok: false, failure: { kind: "refused", detail: "no" } }],
        b: [{ ok: true, credentials: { mqtt: { brokerUrl: "mqtts://b", clientId: "c" } } }],
      };
      const strategy = (name: string): Strategy => ({ name, obtain: () => { calls.push(name); return Promise.resolve(script[name]!.shift()!); } });
      const octx: OnboardingContext = {
        io: d.io, log: new Logger(d.io.log, () => d.io.clock.now(), "test"), record: { version: 1, identity: generateIdentity(d.io) },
        nodeId: "n", mac: undefined, storedRejected: false,
      };
      const events: ChainEvent[] = [];
      const outcome = await runChain([strategy("a"), strategy("b")], octx, { ...p, backoff: { initialMs: 20, maxMs: 40, minMs: 5 } }, (e) => events.push(e));
      checkEqual(calls, ["a", "a", "b"], "retried a once, then moved to b");
      check(outcome.ok && outcome.strategy === "b" && outcome.credentials.mqtt.clientId === "c", "b's credentials");
      checkEqual(events.map((e) => e.type), ["attempt", "failed", "attempt", "failed", "attempt", "obtained"], "events");
      script.a = [{ ok: false, failure: { kind: "disabled", detail: "off" } }];
      const none = await runChain([strategy("a")], octx, p);
      check(!none.ok && none.failures.length === 1 && none.failures[0]!.failure.kind === "disabled", "an exhausted chain fails with the typed reasons");
      calls.length = 0;
      script.a = [{ ok: false, failure: { kind: "denied", detail: "a person said no" } }];
      script.b = [{ ok: true, credentials: { mqtt: { brokerUrl: "mqtts://b", clientId: "c" } } }];
      const denied = await runChain([strategy("a"), strategy("b")], octx, p);
      checkEqual(calls, ["a"], "a denial is not worked around with the next strategy");
      check(!denied.ok && denied.failures[0]!.failure.kind === "denied", "the outcome carries the denial");
    },
  },
  {
    name: "onboarding: factory config validation names the offending field",
    run() {
      const good = {
        chain: ["stored", "bootstrap", "register", "shared"],
        broker: { url: "mqtts://broker.example:8883" },
        bootstrap: { url: "https://cloud:9013", generation: "client", externalKey: "k", secure: { key: ENV_KEY } },
        register: { url: "https://cloud/register" },
        shared: { username: "u", password: "p" },
      };
      const config = parseFactoryConfig(JSON.stringify(good));
      checkEqual(config.bootstrap?.secure?.keyEncoding, "ascii", "client generation → ASCII key (AES-256)");
      checkEqual(parseFactoryConfig({ ...good, bootstrap: { ...good.bootstrap, generation: "thing" } }).bootstrap?.secure?.keyEncoding, "hex", "thing → hex key");
      checkEqual(config.register?.fields, { deviceId: "deviceId", key: "key", secret: "secret" }, "default field names");
      const bad: [unknown, string][] = [
        ["{", "(root)"],
        [{ ...good, chain: [] }, "chain"],
        [{ ...good, chain: ["stored", "magic"] }, "chain[1]"],
        [{ ...good, chain: ["shared", "shared"] }, "chain[1]"],
        [{ ...good, broker: { url: "mqtt://plain:1883" } }, "broker.url"],
        [{ ...good, bootstrap: { ...good.bootstrap, generation: "v2" } }, "bootstrap.generation"],
        [{ ...good, bootstrap: { ...good.bootstrap, externalKy: "x" } }, "bootstrap"],
        [{ ...good, bootstrap: { ...good.bootstrap, secure: { key: "short" } } }, "bootstrap.secure.key"],
        [{ ...good, register: { url: "ftp://x" } }, "register.url"],
        [{ ...good, shared: { username: "u", password: "p", clientIdPrefix: "way-too-long-prefix" } }, "shared.clientIdPrefix"],
        [{ chain: ["register"], broker: good.broker }, "register"],
        [{ ...good, retry: { attempts: 0 } }, "retry.attempts"],
      ];
      for (const [input, path] of bad) {
        const e = checkThrows(() => parseFactoryConfig(typeof input === "string" ? input : JSON.stringify(input)), ConfigError, `invalid at ${path}`);
        checkEqual(e.path, path, "names the field");
        check(!e.message.includes(ENV_KEY), "the secure key is never echoed");
      }
    },
  },
];
