// The cloud replies an onboarding strategy decodes, from the body bytes on: bootstrap JSON in its
// three generations (mainflux_*, thing_*, client_*), the same behind secure-bootstrap's AES-CFB,
// and the self-registration reply. Properties: only the decoders' typed errors (or Utf8Error,
// which the strategies catch as "not UTF-8") escape; credentials they accept are storable: a
// credential record holding them survives encode → decode unchanged (else the unit would go
// online once and be unable to boot from its store); topics use only accepted channel IDs.
import { fromUtf8, Utf8Error, utf8 } from "../../../src/bytes/bytes.js";
import type { BrokerConfig, RegisterConfig } from "../../../src/config/factory-config.js";
import { BOOTSTRAP_VERSIONS, type BootstrapVersion } from "../../../src/onboarding/bootstrap-version.js";
import { BootstrapReplyError, credentialsFromReply, parseBootstrapReply } from "../../../src/onboarding/bootstrap.js";
import { credentialsFromRegistration, RegisterReplyError } from "../../../src/onboarding/register.js";
import { decryptReply, encryptReply, SecureBootstrapError } from "../../../src/onboarding/secure-bootstrap.js";
import { Secret } from "../../../src/secrets/secret.js";
import type { MqttCredentials } from "../../../src/storage/credential-record.js";
import type { Rand } from "../rand.js";
import { expect, type FuzzTarget } from "../target.js";
import { checkWholeRecord } from "./credential-record.js";
import { mutateJsonBytes } from "./json-mutate.js";
import { sameValue } from "./compare.js";
import { nodeCrypto } from "../../io/node-crypto.js";

const BROKER: BrokerConfig = { url: "mqtts://broker.example:8883", ca: "-----BEGIN CERTIFICATE-----\nx\n", serverName: "broker" };
const IDENTITY = { secretKey: Secret.fromBytes(new Uint8Array(32).fill(7)), publicKey: new Uint8Array(32).fill(9) };

function checkStorable(mqtt: MqttCredentials, what: string): void {
  checkWholeRecord({ version: 1, identity: IDENTITY, mqtt }, what);
}

// ---- bootstrap

const BOOTSTRAP_KEYS = ["mainflux_id", "mainflux_key", "mainflux_channels", "thing_id", "thing_key", "client_id", "client_secret", "client_key", "channels", "content", "client_cert", "ca_cert", "id", "name", "metadata", "type", "data", "control", "broker_url"];

function sampleBootstrapReply(r: Rand): Uint8Array {
  const shape = r.pick(["mainflux", "thing", "client"] as const);
  const o: Record<string, unknown> = {};
  o[`${shape}_id`] = r.pick(["3c2a-11", "thing-1", "b0e1f2a3-aaaa-bbbb-cccc-000000000001"]);
  o[shape === "client" ? "client_secret" : `${shape}_key`] = r.pick(["k", "secret-key-1234", "a".repeat(36)]);
  const channels = Array.from({ length: r.int(0, 3) }, (_, i) => ({ id: `ch-${i}`, ...(r.bool() ? { name: `n${i}` } : {}), ...(r.bool() ? { metadata: { type: r.pick(["data", "control", "x"]) } } : {}) }));
  o[shape === "mainflux" ? "mainflux_channels" : "channels"] = channels;
  if (r.bool()) o.content = r.pick(["", "{}", "{\"broker_url\":\"mqtts://other:8883\"}", "plain text"]);
  if (r.bool(0.3)) { o.client_cert = "-----BEGIN CERTIFICATE-----\nc\n"; o[shape === "client" ? "client_key" : "client_key"] = "-----BEGIN PRIVATE KEY-----\nk\n"; }
  if (r.bool(0.3)) o.ca_cert = "-----BEGIN CERTIFICATE-----\nca\n";
  // Magistrala 0.30 sends {id, content, certs} with the credentials rendered into content.
  if (r.bool(0.25)) {
    const { content: _content, client_cert, client_key, ca_cert, ...credentials } = o;
    return utf8(JSON.stringify({ id: r.pick(["cfg-1", "", 5]), content: r.bool(0.9) ? JSON.stringify(credentials) : "not json", ...(client_cert !== undefined ? { client_cert, client_key } : {}), ...(ca_cert !== undefined ? { ca_cert } : {}) }));
  }
  return utf8(JSON.stringify(o));
}

/** Body bytes → credentials, as bootstrapStrategy does after a 200, under every service version. */
function decodeBootstrap(plain: Uint8Array): void {
  for (const version of BOOTSTRAP_VERSIONS) decodeAs(plain, version);
}

function decodeAs(plain: Uint8Array, version: BootstrapVersion): void {
  let mqtt: MqttCredentials;
  let channelIds: string[];
  const trust = plain.length % 2 === 0 ? "verified-tls" : "insecure";
  try {
    const reply = parseBootstrapReply(fromUtf8(plain), version);
    channelIds = reply.channels.map((c) => c.id);
    expect(reply.id.length > 0 && reply.key.revealString().length > 0, "accepted a reply with an empty id or key");
    mqtt = credentialsFromReply(reply, BROKER, { version, domainId: "dom-1", trust });
  } catch (e) {
    if (e instanceof BootstrapReplyError || e instanceof Utf8Error) return;
    throw e;
  }
  if (trust === "insecure") expect(mqtt.brokerUrl === BROKER.url && mqtt.ca === BROKER.ca, "a reply over plain HTTP chose the broker or the CA");
  for (const topic of Object.values(mqtt.topics ?? {})) {
    const id = (/^channels\/([^/]+)\//.exec(topic) ?? /^m\/dom-1\/c\/([^/]+)/.exec(topic))?.[1];
    expect(id !== undefined && channelIds.includes(id), `topic ${JSON.stringify(topic)} is not built from an accepted channel`);
  }
  checkStorable(mqtt, "bootstrap credentials");
}

export const bootstrapReplyTarget: FuzzTarget = {
  name: "bootstrap-reply",
  maxLength: 4096,
  seeds: (r) => Array.from({ length: 40 }, () => sampleBootstrapReply(r)),
  generators: [(r) => mutateJsonBytes(r, sampleBootstrapReply(r), BOOTSTRAP_KEYS)],
  run: decodeBootstrap,
};

// ---- secure bootstrap: IV ‖ AES-CFB(JSON) under the service key

const SERVICE_KEY = utf8("0123456789abcdef0123456789abcdef");

export const secureBootstrapTarget: FuzzTarget = {
  name: "secure-bootstrap",
  maxLength: 4096,
  seeds: (r) => Array.from({ length: 30 }, () => encryptReply(nodeCrypto, SERVICE_KEY, r.bytes(16), sampleBootstrapReply(r))),
  // nearly valid plaintext under the right key: the decryption is exercised together with the JSON
  generators: [(r) => encryptReply(nodeCrypto, SERVICE_KEY, r.bytes(16), mutateJsonBytes(r, sampleBootstrapReply(r), BOOTSTRAP_KEYS))],
  run(input) {
    let plain: Uint8Array;
    try {
      plain = decryptReply(nodeCrypto, SERVICE_KEY, input);
    } catch (e) {
      if (e instanceof SecureBootstrapError) return;
      throw e;
    }
    expect(plain.length === input.length - 16, `decrypted ${input.length} bytes into ${plain.length}`);
    // CFB has no integrity: decryption is a bijection, so re-encrypting gives the body back
    expect(sameValue(encryptReply(nodeCrypto, SERVICE_KEY, input.slice(0, 16), plain), input), "decrypt → encrypt does not give the body back");
    decodeBootstrap(plain);
  },
};

// ---- self-registration

const REGISTER: RegisterConfig = { url: "https://register.example/r", fields: { deviceId: "deviceId", key: "key", secret: "secret" } };
const REGISTER_KEYS = ["deviceId", "key", "secret", "id", "__proto__", "toString"];

function sampleRegisterReply(r: Rand): Uint8Array {
  return utf8(JSON.stringify({ deviceId: r.pick(["dev-1", "A1b2_C3", "x".repeat(64)]), key: r.pick(["k", "key-123"]), secret: r.pick(["s", "secret-456"]), ...(r.bool() ? { extra: 1 } : {}) }));
}

export const registerReplyTarget: FuzzTarget = {
  name: "register-reply",
  maxLength: 2048,
  seeds: (r) => Array.from({ length: 30 }, () => sampleRegisterReply(r)),
  generators: [(r) => mutateJsonBytes(r, sampleRegisterReply(r), REGISTER_KEYS)],
  run(input) {
    let mqtt: MqttCredentials;
    try {
      mqtt = credentialsFromRegistration(fromUtf8(input), REGISTER, BROKER);
    } catch (e) {
      if (e instanceof RegisterReplyError || e instanceof Utf8Error) return;
      throw e;
    }
    expect(/^[0-9A-Za-z_-]{1,64}$/.test(mqtt.clientId), `client ID ${JSON.stringify(mqtt.clientId)} accepted`);
    for (const topic of Object.values(mqtt.topics ?? {})) expect(topic.split("/")[1] === mqtt.clientId, `topic ${topic} does not carry the device ID`);
    checkStorable(mqtt, "registration credentials");
  },
};
