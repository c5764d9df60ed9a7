// The one record the device keeps in flash: who it is (identity) and how it reaches its cloud
// (MQTT endpoint and credentials), plus whatever the onboarding strategy needs to remember.
// Encoded as UTF-8 JSON (readable in a flash dump, easy to migrate), binary secrets as hex;
// decoded secrets are wrapped in Secret so they can never be logged by accident.
// The decoder also applies the rules of each value's consumer (the MQTT encoder for client ID,
// user name, password and topics; the Wi-Fi driver's ranges): the store decodes every record
// before writing it, so a value the firmware could not use is refused before it reaches flash.
import { fromHex, fromUtf8, toHex, utf8 } from "../bytes/bytes.js";
import { Secret } from "../secrets/secret.js";
import { quoteUrl } from "../log/url-redaction.js";
import { checkClientId, checkCredentials, checkTopicName, MqttInputError } from "../mqtt/input.js";

export const RECORD_VERSION = 1;

export interface DeviceIdentity {
  /** Ed25519 secret key (32 bytes). Never leaves the store except to sign. */
  readonly secretKey: Secret;
  /** Ed25519 public key (32 bytes). */
  readonly publicKey: Uint8Array;
}

export interface MqttCredentials {
  /** "mqtts://host:port" — plain "mqtt://" is refused: there is no insecure mode. */
  readonly brokerUrl: string;
  readonly clientId: string;
  readonly username?: string;
  readonly password?: Secret;
  /** Trust anchors for the broker (PEM); absent = the platform's root store. */
  readonly ca?: string;
  /** Name to verify and send as SNI when it differs from the URL's host. */
  readonly serverName?: string;
  readonly clientCertificate?: string;
  readonly clientKey?: Secret;
  /** Topics the cloud assigned; absent ones default from the node ID. */
  readonly topics?: Readonly<Record<string, string>>;
}

export type StrategyStateValue = string | number | boolean | null;

export interface StrategyState {
  /** Which onboarding strategy produced the credentials ("factory", "bootstrap", …). */
  readonly name: string;
  readonly state: Readonly<Record<string, StrategyStateValue>>;
}

export interface CredentialRecord {
  readonly version: number;
  readonly identity: DeviceIdentity;
  readonly mqtt?: MqttCredentials;
  readonly strategy?: StrategyState;
  /**
   * Credentials pushed by the cloud (rotation) and not yet confirmed by a CONNACK. `mqtt` stays
   * the known-good set until commit; a refusal rolls back to it. Optional, so version-1 records
   * written without it still load, and firmware that predates it ignores it.
   */
  readonly pending?: MqttCredentials;
  /** The Wi-Fi network the device joins at boot, as received over provisioning. Optional (version-1 records predate it). */
  readonly wifi?: WifiCredentials;
  /** RainMaker user-node mapping (user ID + secret key method). Optional (version-1 records predate it). */
  readonly user?: UserMapping;
}

export interface WifiCredentials {
  /** Raw SSID bytes (up to 32, not necessarily UTF-8). */
  readonly ssid: Uint8Array;
  readonly passphrase: Secret;
  /** BSSID the app chose (6 bytes), if any. */
  readonly bssid?: Uint8Array;
  readonly channel?: number;
}

export interface UserMapping {
  /** The user the cloud confirmed (PUBACK of the mapping message). */
  readonly userId?: string;
  /** Received over cloud_user_assoc, to publish once online; cleared when the broker has it. */
  readonly pending?: { readonly userId: string; readonly secretKey: Secret; readonly reset: boolean };
}

export type RecordErrorCode = "not-json" | "bad-version" | "bad-field";

export class RecordError extends Error {
  constructor(readonly code: RecordErrorCode, message: string) {
    super(message);
  }
}

export function encodeRecord(record: CredentialRecord): Uint8Array {
  const m = record.mqtt;
  const json = {
    v: RECORD_VERSION,
    id: { sk: toHex(record.identity.secretKey.revealBytes()), pk: toHex(record.identity.publicKey) },
    mqtt: m && encodeMqtt(m),
    strategy: record.strategy,
    pending: record.pending && encodeMqtt(record.pending),
    wifi: record.wifi && encodeWifi(record.wifi),
    user: record.user && encodeUser(record.user),
  };
  return utf8(JSON.stringify(json));
}

function encodeMqtt(m: MqttCredentials): Record<string, unknown> {
  return {
    url: m.brokerUrl,
    cid: m.clientId,
    user: m.username,
    pass: m.password && toHex(m.password.revealBytes()),
    ca: m.ca,
    sni: m.serverName,
    cert: m.clientCertificate,
    key: m.clientKey?.revealString(),
    topics: m.topics,
  };
}

function encodeWifi(w: WifiCredentials): Record<string, unknown> {
  return { ssid: toHex(w.ssid), pass: toHex(w.passphrase.revealBytes()), bssid: w.bssid && toHex(w.bssid), ch: w.channel };
}

function encodeUser(u: UserMapping): Record<string, unknown> {
  const p = u.pending;
  return { id: u.userId, pend: p && { uid: p.userId, sk: p.secretKey.revealString(), reset: p.reset } };
}

/** Strict decoding: any missing or mistyped field rejects the whole record (never half-applied). */
export function decodeRecord(bytes: Uint8Array): CredentialRecord {
  let json: unknown;
  try {
    json = JSON.parse(fromUtf8(bytes));
  } catch {
    throw new RecordError("not-json", "credential record is not valid UTF-8 JSON");
  }
  const root = object(json, "record");
  if (root.v !== RECORD_VERSION) {
    const found = typeof root.v === "number" ? String(root.v) : `of type ${typeof root.v}`;
    throw new RecordError("bad-version", `credential record version ${found} is not supported (expected ${RECORD_VERSION})`);
  }
  const id = object(root.id, "id");
  const identity: DeviceIdentity = {
    secretKey: Secret.fromBytes(hexField(id.sk, "id.sk", 32)),
    publicKey: hexField(id.pk, "id.pk", 32),
  };
  const record: { -readonly [K in keyof CredentialRecord]: CredentialRecord[K] } = { version: RECORD_VERSION, identity };
  if (root.mqtt !== undefined) record.mqtt = decodeMqtt(object(root.mqtt, "mqtt"));
  if (root.strategy !== undefined) record.strategy = decodeStrategy(object(root.strategy, "strategy"));
  if (root.pending !== undefined) record.pending = decodeMqtt(object(root.pending, "pending"));
  if (root.wifi !== undefined) record.wifi = decodeWifi(object(root.wifi, "wifi"));
  if (root.user !== undefined) record.user = decodeUser(object(root.user, "user"));
  return record;
}

function decodeWifi(w: Record<string, unknown>): WifiCredentials {
  const ssid = hexField(w.ssid, "wifi.ssid");
  if (ssid.length < 1 || ssid.length > 32) throw new RecordError("bad-field", "wifi.ssid must be 1 to 32 bytes");
  const pass = hexField(w.pass, "wifi.pass");
  if (pass.length > 64) throw new RecordError("bad-field", "wifi.pass must be at most 64 bytes");
  const out: { -readonly [K in keyof WifiCredentials]: WifiCredentials[K] } = { ssid, passphrase: Secret.fromBytes(pass) };
  if (w.bssid !== undefined) out.bssid = hexField(w.bssid, "wifi.bssid", 6);
  if (w.ch !== undefined) {
    if (typeof w.ch !== "number" || !Number.isInteger(w.ch) || w.ch < 0 || w.ch > 196) throw new RecordError("bad-field", "wifi.ch must be a channel number");
    out.channel = w.ch;
  }
  return out;
}

function decodeUser(u: Record<string, unknown>): UserMapping {
  const out: { -readonly [K in keyof UserMapping]: UserMapping[K] } = {};
  if (u.id !== undefined) out.userId = string(u.id, "user.id");
  if (u.pend !== undefined) {
    const p = object(u.pend, "user.pend");
    if (typeof p.reset !== "boolean") throw new RecordError("bad-field", "user.pend.reset must be a boolean");
    out.pending = { userId: string(p.uid, "user.pend.uid"), secretKey: Secret.fromString(string(p.sk, "user.pend.sk")), reset: p.reset };
  }
  return out;
}

function decodeMqtt(m: Record<string, unknown>): MqttCredentials {
  const brokerUrl = string(m.url, "mqtt.url");
  parseBrokerUrl(brokerUrl); // validates
  const out: { -readonly [K in keyof MqttCredentials]: MqttCredentials[K] } = {
    brokerUrl,
    clientId: string(m.cid, "mqtt.cid"),
  };
  if (m.user !== undefined) out.username = string(m.user, "mqtt.user");
  if (m.pass !== undefined) out.password = Secret.fromBytes(hexField(m.pass, "mqtt.pass"));
  if (m.ca !== undefined) out.ca = string(m.ca, "mqtt.ca");
  if (m.sni !== undefined) out.serverName = string(m.sni, "mqtt.sni");
  if (m.cert !== undefined) out.clientCertificate = string(m.cert, "mqtt.cert");
  if (m.key !== undefined) out.clientKey = Secret.fromString(string(m.key, "mqtt.key"));
  if ((out.clientCertificate === undefined) !== (out.clientKey === undefined)) {
    throw new RecordError("bad-field", "mqtt.cert and mqtt.key must be given together");
  }
  if (m.topics !== undefined) {
    const topics = object(m.topics, "mqtt.topics");
    const copy: Record<string, string> = {};
    for (const k of mapKeys(topics, "mqtt.topics")) copy[k] = string(topics[k], `mqtt.topics.${k}`);
    out.topics = copy;
  }
  checkMqttUsable(out);
  return out;
}

function decodeStrategy(s: Record<string, unknown>): StrategyState {
  const state = object(s.state, "strategy.state");
  const copy: Record<string, StrategyStateValue> = {};
  for (const k of mapKeys(state, "strategy.state")) {
    const v = state[k];
    if (v !== null && typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
      throw new RecordError("bad-field", `strategy.state.${k} must be a string, number, boolean or null`);
    }
    copy[k] = v;
  }
  return { name: string(s.name, "strategy.name"), state: copy };
}

/**
 * Refuses credentials the MQTT client could not send: the device connects with a persistent
 * session, so the client ID must be a non-empty MQTT string; user name, password and the cloud's
 * topics must pass the encoder's rules (U+0000, lone surrogates, wildcards, 65535 bytes).
 */
export function checkMqttUsable(m: MqttCredentials): void {
  try {
    checkClientId(m.clientId, false);
    checkCredentials(m.username, m.password);
    for (const topic of Object.values(m.topics ?? {})) checkTopicName(topic, `mqtt.topics entry`);
  } catch (e) {
    if (e instanceof MqttInputError) throw new RecordError("bad-field", `mqtt: ${e.message}`);
    throw e;
  }
}

export interface BrokerAddress {
  readonly host: string;
  readonly port: number;
}

/** "mqtts://host[:port]" → host and port (default 8883). */
export function parseBrokerUrl(url: string): BrokerAddress {
  const match = /^mqtts:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?\/?$/.exec(url);
  if (!match) {
    throw new RecordError("bad-field", `broker URL must look like mqtts://host:port (got ${quoteUrl(url)})`);
  }
  const port = match[2] === undefined ? 8883 : Number(match[2]);
  if (port < 1 || port > 65535) throw new RecordError("bad-field", `broker port ${port} is out of range`);
  return { host: match[1]!.replace(/^\[|\]$/g, ""), port };
}

function object(value: unknown, name: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new RecordError("bad-field", `${name} must be an object`);
  }
  return value as Record<string, unknown>;
}

/** Keys of a free-form map; "__proto__" would not survive copying into a plain object, so it is refused. */
function mapKeys(map: Record<string, unknown>, name: string): string[] {
  const keys = Object.keys(map);
  if (keys.includes("__proto__")) throw new RecordError("bad-field", `${name} may not have a key named __proto__`);
  return keys;
}

function string(value: unknown, name: string): string {
  if (typeof value !== "string") throw new RecordError("bad-field", `${name} must be a string`);
  return value;
}

function hexField(value: unknown, name: string, length?: number): Uint8Array {
  if (typeof value !== "string" || !/^([0-9a-f]{2})*$/.test(value)) {
    throw new RecordError("bad-field", `${name} must be lower-case hex`);
  }
  const bytes = fromHex(value);
  if (length !== undefined && bytes.length !== length) throw new RecordError("bad-field", `${name} must be ${length} bytes`);
  return bytes;
}
