// The bootstrap decoders against replies recorded from the real Mainflux bootstrap service
// (0.12.1, 0.13.0, master of 2023-08; test/fixtures/mainflux-bootstrap). The oracle is the
// recording: the request the real service accepted, the exact bytes it answered, and its own
// decryption of the secure replies. Nothing expected here is derived by our code, except where a
// comment says so. Runs on Node and inside XS.
import { fromHex, fromUtf8, utf8 } from "../../src/bytes/bytes.js";
import { parseFactoryConfig, type BootstrapConfig } from "../../src/config/factory-config.js";
import type { HttpResponse } from "../../src/http/codec.js";
import { BOOTSTRAP_VERSIONS, type BootstrapVersion } from "../../src/onboarding/bootstrap-version.js";
import { bootstrapRequest, bootstrapStatusFailure, BootstrapReplyError, credentialsFromReply, parseBootstrapReply } from "../../src/onboarding/bootstrap.js";
import { decryptReply, serviceKeyBytes } from "../../src/onboarding/secure-bootstrap.js";
import { Secret } from "../../src/secrets/secret.js";
import { check, checkEqual, checkThrows, type Scenario } from "./harness.js";
import { RECORDED, type RecordedConfig, type RecordedExchange } from "./mainflux-recordings.js";

/** The service each recording names → the version a fleet running it configures. */
export function recordedVersion(entry: RecordedConfig): BootstrapVersion {
  if (entry.service === "Mainflux 0.12.1") return "mainflux-0.12";
  if (entry.service === "Mainflux 0.13.0") return "mainflux-0.13";
  if (entry.service.startsWith("Mainflux master of 2023")) return "mainflux-2023";
  throw new Error(`unknown recorded service ${entry.service}`);
}

/** The factory config's bootstrap section for a recording, as a fleet would write it (version named). */
export function recordedBootstrapConfig(entry: RecordedConfig, url = "https://bootstrap.example:9013"): BootstrapConfig {
  const d = entry.deviceConfig;
  const parsed = parseFactoryConfig({
    chain: ["bootstrap"],
    broker: { url: "mqtts://fleet.example:8883" },
    bootstrap: {
      url, version: recordedVersion(entry), externalKey: d.externalKey,
      ...(d.secure ? { secure: { key: d.secure.key, ...(d.secure.keyEncoding ? { keyEncoding: d.secure.keyEncoding } : {}) } } : {}),
    },
  });
  return parsed.bootstrap!;
}

/** The JSON text the recorded service produced for an exchange (plain body, or its own decryption). */
export function recordedJson(x: RecordedExchange): string | undefined {
  return x.decrypted ?? x.bodyText;
}

const IV = fromHex("000102030405060708090a0b0c0d0e0f"); // the IV the recording device used
const FLEET = { url: "mqtts://fleet.example:8883", ca: "-----BEGIN CERTIFICATE-----\nfleet\n-----END CERTIFICATE-----\n" };
const okOf = (entry: RecordedConfig) => entry.exchanges.find((x) => x.case === "ok")!;
const response = (x: RecordedExchange): HttpResponse => ({ status: x.status, reason: "", headers: x.headers, body: x.bodyHex !== undefined ? fromHex(x.bodyHex) : utf8(x.bodyText ?? "") });

export const scenarios: Scenario[] = [
  {
    name: "bootstrap recorded: our request is the one the real service accepted (path, header scheme, secure key encoding)",
    run(ctx) {
      for (const entry of RECORDED) {
        const ok = okOf(entry);
        const config = recordedBootstrapConfig(entry);
        const request = bootstrapRequest(ctx.crypto, config, entry.deviceConfig.externalId, IV);
        // Same ID as recorded once percent-decoding is undone (the real routers decode; Magistrala's do not, so we send the colons as they are).
        checkEqual(decodeURIComponent(request.url.replace(/^https:\/\/[^/]+/, "")), decodeURIComponent(ok.path), `${entry.file}: path`);
        check(!request.url.includes("%3A"), `${entry.file}: MAC colons unescaped`);
        if (ok.status === 200) checkEqual(request.authorization.revealString(), ok.authorizationSent, `${entry.file}: Authorization as accepted`);
        else {
          // 0525-…-default: the 2023 master refused the key read as hex (403). With its version named the
          // device reads the key's ASCII bytes: the header the same service accepted in -ascii-.
          checkEqual(entry.file, "0525-thing-secure-default-nocert", "the only recorded refused 'ok' case");
          check(request.authorization.revealString() !== ok.authorizationSent, `${entry.file}: no longer the refused hex-key header`);
          const accepted = okOf(RECORDED.find((e) => e.file === "0525-thing-secure-ascii-nocert")!);
          checkEqual(request.authorization.revealString(), accepted.authorizationSent, `${entry.file}: the header the 2023 master accepted`);
        }
      }
    },
  },
  {
    name: "bootstrap recorded: every 200 reply decodes field for field under its version, plain and secure, with and without certificates",
    run(ctx) {
      let decoded = 0;
      for (const entry of RECORDED) {
        const ok = okOf(entry);
        if (ok.status !== 200) continue;
        const config = recordedBootstrapConfig(entry);
        const body = response(ok).body;
        const text = fromUtf8(config.secure ? decryptReply(ctx.crypto, serviceKeyBytes(config.secure.key, config.secure.keyEncoding), body) : body);
        if (config.secure) checkEqual(text, ok.decrypted, `${entry.file}: decryption equals the service's own plaintext`);
        const expected = JSON.parse(recordedJson(ok)!) as Record<string, unknown>;
        const reply = parseBootstrapReply(text, config.version);
        const idField = config.version === "mainflux-2023" ? "thing" : "mainflux";
        checkEqual(reply.id, expected[`${idField}_id`], `${entry.file}: id`);
        checkEqual(reply.key.revealString(), expected[`${idField}_key`], `${entry.file}: key`);
        const channels = expected[idField === "thing" ? "channels" : "mainflux_channels"] as { id: string; name: string; metadata: { type: string } }[];
        checkEqual(reply.channels, channels.map((c) => ({ id: c.id, name: c.name, type: c.metadata.type })), `${entry.file}: channels`);
        checkEqual(reply.content, expected.content, `${entry.file}: content`);
        checkEqual(reply.caCert, expected.ca_cert, `${entry.file}: ca_cert`);
        checkEqual(reply.clientCert, expected.client_cert, `${entry.file}: client_cert`);
        checkEqual(reply.clientKey?.revealString(), expected.client_key, `${entry.file}: client_key`);
        // Over verified TLS the reply's broker (content.broker_url, our convention) and CA apply.
        const content = JSON.parse(expected.content as string) as { broker_url: string };
        const m = credentialsFromReply(reply, FLEET, { version: config.version, trust: "verified-tls" });
        checkEqual([m.brokerUrl, m.clientId, m.username, m.password?.revealString(), m.ca ?? FLEET.ca, m.clientCertificate, m.clientKey?.revealString()],
          [content.broker_url, expected[`${idField}_id`], expected[`${idField}_id`], expected[`${idField}_key`], expected.ca_cert ?? FLEET.ca, expected.client_cert, expected.client_key], `${entry.file}: stored MQTT settings`);
        const data = channels.find((c) => c.metadata.type === "data")!;
        const control = channels.find((c) => c.metadata.type === "control")!;
        // Topic layout of Mainflux ≤0.13 / 2023 (cloud-protocols.md §1.6; the agent's channels/<id>/messages[/req]).
        checkEqual(m.topics, { telemetry: `channels/${data.id}/messages`, status: `channels/${data.id}/messages/status`, command: `channels/${control.id}/messages/req` }, `${entry.file}: topics`);
        decoded++;
      }
      checkEqual(decoded, 13, "every recorded 200 (13 of 14 configs; the 14th was refused by the real service)");
    },
  },
  {
    name: "bootstrap recorded: the shape follows the configured version, never the fields (the certificate-carrying replies included)",
    run(ctx) {
      for (const entry of RECORDED) {
        const ok = okOf(entry);
        const json = recordedJson(ok);
        if (ok.status !== 200 || json === undefined) continue;
        const own = recordedVersion(entry);
        for (const version of BOOTSTRAP_VERSIONS) {
          const ownShape = version === own || (own === "mainflux-2023" && (version === "magistrala-0.14" || version === "magistrala-0.15")) ||
            (own !== "mainflux-2023" && (version === "mainflux-0.12" || version === "mainflux-0.13"));
          if (ownShape) check(parseBootstrapReply(json, version).id.length > 0, `${entry.file} as ${version}`);
          else checkThrows(() => parseBootstrapReply(json, version), BootstrapReplyError, `${entry.file} refused as ${version}`);
        }
      }
      // The old names keep their meaning: "raw" = 0.12 and "thing" = 0.13 decode the 0.12/0.13 recordings.
      for (const file of ["012-raw-plain", "013-thing-plain-all"]) {
        const entry = RECORDED.find((e) => e.file === file)!;
        const legacy = parseFactoryConfig({ chain: ["bootstrap"], broker: FLEET, bootstrap: { url: "https://b", generation: entry.deviceConfig.generation, externalKey: "k" } }).bootstrap!;
        checkEqual(parseBootstrapReply(recordedJson(okOf(entry))!, legacy.version).clientCert !== undefined, true, `${file} under generation "${entry.deviceConfig.generation}"`);
      }
    },
  },
  {
    name: "bootstrap recorded: every refusal the real service gave is a typed 'refused' failure",
    run(ctx) {
      let refusals = 0;
      for (const entry of RECORDED) {
        const config = recordedBootstrapConfig(entry);
        for (const x of entry.exchanges) {
          if (x.status === 200) continue;
          const failure = bootstrapStatusFailure(response(x), config.generation, 0);
          checkEqual([failure?.kind, failure?.status], ["refused", x.status], `${entry.file} ${x.case}`);
          check(!JSON.stringify(failure).includes(entry.deviceConfig.externalKey), "no key in the failure");
          refusals++;
        }
      }
      checkEqual(refusals, 14 * 4 + 6 + 1, "4 refusals per config, secure-not-hex on the 6 secure ones, the refused hex key");
    },
  },
  {
    name: "bootstrap recorded: a Secret never shows the recorded keys",
    run(ctx) {
      for (const entry of RECORDED) {
        const request = bootstrapRequest(ctx.crypto, recordedBootstrapConfig(entry), entry.deviceConfig.externalId, IV, Secret.fromString(entry.deviceConfig.externalKey));
        check(!JSON.stringify({ a: request.authorization }).includes(entry.deviceConfig.externalKey), `${entry.file}: header redacted`);
      }
    },
  },
];
