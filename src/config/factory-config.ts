// The factory config: what the build (manifest.json "config" on the board, a JSON file in the
// simulator) tells every unit of a fleet about its cloud. It is the same for every unit; per-unit
// facts (MAC, serial, node key) come from the device itself. Validation is strict and names the
// offending field, so a bad build fails at boot with a readable message instead of misbehaving.
import { parseBrokerUrl, RecordError } from "../storage/credential-record.js";
import { BOARD_LIMITS, LIMIT_RANGES, type SizeLimits } from "./limits.js";
import { HttpError } from "../http/codec.js";
import { parseHttpUrl } from "../http/url.js";
import { BOOTSTRAP_VERSIONS, bootstrapProfile, LEGACY_VERSION, type BootstrapGeneration, type BootstrapVersion } from "../onboarding/bootstrap-version.js";

export const STRATEGY_NAMES = ["stored", "bootstrap", "register", "shared", "hub"] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

export type { BootstrapGeneration, BootstrapVersion } from "../onboarding/bootstrap-version.js";

export interface BrokerConfig {
  /** mqtts://host:port */
  readonly url: string;
  /** Trust anchors (PEM); absent = the platform's root store. */
  readonly ca?: string;
  readonly serverName?: string;
}

export interface BootstrapConfig {
  /** Service base URL, e.g. "https://cloud:9013" (the version adds /things/bootstrap or /clients/bootstrap). */
  readonly url: string;
  /** The service release the fleet runs: it fixes path, header, reply fields, key encoding, topics (bootstrap-version.ts). */
  readonly version: BootstrapVersion;
  /** The version's header family (derived; the older configs named only this: raw | thing | client). */
  readonly generation: BootstrapGeneration;
  /** Magistrala 0.20+: the domain the fleet's channels live in (topics m/<domain>/c/<channel>). */
  readonly domainId?: string;
  /** "mac" (default): the unit's MAC as AA:BB:CC:DD:EE:FF; "mac-hex": 12 hex digits; "node-id": the node ID. */
  readonly externalId: "mac" | "mac-hex" | "node-id";
  /**
   * The external key: a literal string (one key for the whole fleet), or `{"nvs": key}`: a
   * per-unit key written into the unit's NVS at manufacturing (like the PoP) and read through
   * io.storage, so the same image serves every unit.
   */
  readonly externalKey: ExternalKeySource;
  /** Secure variant: AES-CFB with the deployment's shared key. */
  readonly secure?: { readonly key: string; readonly keyEncoding: "hex" | "ascii" };
  readonly ca?: string;
  /**
   * Allow an http:// URL (issue 14, H4). Without verified TLS the reply still gives credentials
   * but never the broker URL or CA: those stay the factory config's.
   */
  readonly insecureTransport?: boolean;
  /**
   * The operator renders each config's external ID into its content ({"external_id": …}): a
   * reply whose content does not name this unit is refused (binds a reply to the unit when the
   * transport cannot). Default: on with insecureTransport, off over https. Without it an
   * external_id that is present is still checked.
   */
  readonly requireContentExternalId?: boolean;
}

export type ExternalKeySource = string | { readonly nvs: string };

export interface RegisterConfig {
  /** The self-registration endpoint, e.g. "https://cloud:8443/register". */
  readonly url: string;
  /** Field names of the reply (Losant workflows define their own). */
  readonly fields: { readonly deviceId: string; readonly key: string; readonly secret: string };
  readonly ca?: string;
  /** The serial sent: the MAC's 12 hex digits (default), or the node ID where there is no MAC (the SDK's simulator). */
  readonly serial?: "mac" | "node-id";
  /** Allow an http:// URL (issue 14, H4): the reply's credentials then cross the network in clear. */
  readonly insecureTransport?: boolean;
}

export interface SharedConfig {
  readonly username: string;
  readonly password: string;
  /** Client ID = prefix + the MAC's 12 hex digits (or the node ID's 20); kept within 23 characters of [0-9A-Za-z]. */
  readonly clientIdPrefix: string;
  /** What follows the prefix: "mac" (default) or "node-id" (units without a MAC, e.g. the SDK's simulator). */
  readonly clientId?: "mac" | "node-id";
  /**
   * Register on first connect: use the shared login once to ask for credentials of the unit's own
   * (src/onboarding/shared-register.ts), then connect with those and a persistent session.
   */
  readonly registerOnConnect?: {
    readonly timeoutMs: number;
    /**
     * The cloud's registration key (Ed25519 public key, 64 hex digits): replies must carry its
     * signature (issue 14 H3); anything else on the reply topic is ignored.
     */
    readonly cloudKey: string;
  };
}

/** "host:port" of a UDP peer, parsed. */
export interface HostPort {
  readonly address: string;
  readonly port: number;
}

/** Local base-station approval (src/onboarding/hub/PROTOCOL.md). */
export interface HubConfig {
  /** "secure" (default): JSON over HTTPS, hub key pinned on first use; "emoncms": the plain-HTTP text flow. */
  readonly mode: "secure" | "emoncms";
  /** mDNS name asked for when no DNS-SD service answers. */
  readonly hostName: string;
  /** DNS-SD service type ("_onboard-hub._tcp"); "" = no DNS-SD query. */
  readonly service: string;
  /** Where DNS queries go (224.0.0.251:5353 on a LAN). */
  readonly mdnsServer: HostPort;
  /** Port the UDP announcement arrives on; 0 = no UDP fallback. */
  readonly udpPort: number;
  /** API port when SRV did not give one. */
  readonly port: number;
  /** A fixed hub address (IPv4 or a name the platform resolves): no discovery. */
  readonly address?: string;
  readonly discoveryTimeoutMs: number;
  readonly pollIntervalMs: number;
  /** One pairing run waits this long for a person before giving up. */
  readonly approvalTimeoutMs: number;
  /** Display name = prefix + last 6 MAC hex digits. */
  readonly namePrefix: string;
  /**
   * Secure mode (issue 14 M5): the hub's key (SHA-256 of its certificate's SubjectPublicKeyInfo,
   * 64 hex digits) pinned at the factory: a hub with another key gets no request byte, from the
   * very first pairing on.
   */
  readonly hubKey?: string;
  /**
   * Secure mode without `hubKey`: pin the key of the first hub that answers. Only for units where
   * a person can read the pairing code the unit shows and compare it with the hub's page; a rogue
   * hub on the LAN shows its own code. Default false: secure mode needs one of the two.
   */
  readonly trustOnFirstUse?: boolean;
  /** emoncms mode only (default port 8883): the hub's broker, at the hub's address; the text reply may override the port. */
  readonly broker?: { readonly port: number; readonly ca?: string; readonly serverName?: string };
}

/** The signature scheme this firmware's ch_resp produces (src/identity/signing.ts). */
export const CHALLENGE_SIGNATURE = "ed25519-onboard-sig-v1";

/** RainMaker user-node mapping from the phone (src/provisioning/). */
export interface UserMappingConfig {
  /**
   * Challenge-response mapping (ch_resp): served and advertised only with this section, which
   * names the mapping cloud that verifies this firmware's signatures. The ESP RainMaker cloud
   * does not (it verifies RSA-PSS/ECDSA by the claimed node certificate), so it is refused here.
   */
  readonly challengeResponse?: { readonly cloud: string; readonly signature: typeof CHALLENGE_SIGNATURE };
  /** User ID + secret key mapping (cloud_user_assoc, confirmed over our broker); default true. */
  readonly secretKey: boolean;
}

/** Strategies that bring their own broker: the top-level "broker" is optional when only these are chained. */
const OWN_BROKER: readonly StrategyName[] = ["stored", "hub"];

export interface FactoryConfig {
  readonly chain: readonly StrategyName[];
  /** The fleet's broker (register and shared use it; bootstrap unless its reply names another). Absent only when the chain is just stored/hub. */
  readonly broker?: BrokerConfig;
  readonly bootstrap?: BootstrapConfig;
  readonly register?: RegisterConfig;
  readonly shared?: SharedConfig;
  readonly hub?: HubConfig;
  readonly userMapping?: UserMappingConfig;
  /** Attempts per strategy for transient failures, and the delays between them. */
  /** MQTT and HTTP size limits; absent fields take the board defaults (config/limits.ts). */
  readonly limits?: SizeLimits;
  readonly retry: {
    readonly attempts: number; readonly initialMs: number; readonly maxMs: number;
    /** Failed chain rounds in a row before the unit parks in "onboarding-failed"; absent = never park. */
    readonly maxRounds?: number;
    /** Parked: one more round after this long (default 1 hour). */
    readonly parkedRetryMs?: number;
  };
}

function parseLimits(value: unknown): SizeLimits {
  if (value === undefined) return BOARD_LIMITS;
  const l = obj(value, "limits");
  known(l, "limits", Object.keys(LIMIT_RANGES));
  const out: Record<string, number> = { ...BOARD_LIMITS };
  for (const key of Object.keys(LIMIT_RANGES) as (keyof SizeLimits)[]) {
    const v = l[key];
    if (v === undefined) continue;
    const [min, max] = LIMIT_RANGES[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw new ConfigError(`limits.${key}`, `must be an integer from ${min} to ${max} (bytes)`);
    out[key] = v;
  }
  return out as unknown as SizeLimits;
}

export class ConfigError extends Error {
  readonly code = "bad-config";
  constructor(readonly path: string, message: string) {
    super(`factory config: ${path}: ${message}`);
  }
}

/** JSON text or an already-parsed value (manifest config) → a validated FactoryConfig. */
export function parseFactoryConfig(input: string | unknown): FactoryConfig {
  let json: unknown = input;
  if (typeof input === "string") {
    try {
      json = JSON.parse(input);
    } catch {
      throw new ConfigError("(root)", "is not valid JSON");
    }
  }
  const root = obj(json, "(root)");
  known(root, "(root)", ["chain", "broker", "bootstrap", "register", "shared", "hub", "userMapping", "retry", "limits"]);
  const chainRaw = root.chain;
  if (!Array.isArray(chainRaw) || chainRaw.length === 0) throw new ConfigError("chain", `must be a non-empty array of ${STRATEGY_NAMES.join(" | ")}`);
  const chain: StrategyName[] = [];
  chainRaw.forEach((name, i) => {
    if (typeof name !== "string" || !(STRATEGY_NAMES as readonly string[]).includes(name)) {
      throw new ConfigError(`chain[${i}]`, `must be one of ${STRATEGY_NAMES.join(", ")} (got ${JSON.stringify(name)})`);
    }
    if (chain.includes(name as StrategyName)) throw new ConfigError(`chain[${i}]`, `${name} appears twice`);
    chain.push(name as StrategyName);
  });

  const needsBroker = chain.filter((name) => !OWN_BROKER.includes(name));
  if (root.broker === undefined && needsBroker.length > 0) {
    throw new ConfigError("broker", `is required: ${needsBroker.join(", ")} connect${needsBroker.length === 1 ? "s" : ""} to the fleet's broker (only stored and hub bring their own)`);
  }
  let broker: BrokerConfig | undefined;
  if (root.broker !== undefined) {
    const b = obj(root.broker, "broker");
    known(b, "broker", ["url", "ca", "serverName"]);
    const brokerUrl = str(b.url, "broker.url");
    try {
      parseBrokerUrl(brokerUrl);
    } catch (e) {
      throw new ConfigError("broker.url", e instanceof RecordError ? e.message : "is not an mqtts:// URL");
    }
    broker = { url: brokerUrl, ...optPem(b.ca, "broker.ca"), ...optStr(b.serverName, "broker.serverName", "serverName") };
  }

  const config: { -readonly [K in keyof FactoryConfig]: FactoryConfig[K] } = {
    chain,
    ...(broker ? { broker } : {}),
    retry: { attempts: 3, initialMs: 2_000, maxMs: 60_000 },
    limits: parseLimits(root.limits),
  };

  if (root.bootstrap !== undefined) {
    const s = obj(root.bootstrap, "bootstrap");
    known(s, "bootstrap", ["url", "version", "generation", "domainId", "externalId", "externalKey", "secure", "ca", "insecureTransport", "requireContentExternalId"]);
    const version = bootstrapVersion(s.version, s.generation);
    const profile = bootstrapProfile(version);
    let secure: BootstrapConfig["secure"];
    if (s.secure !== undefined) {
      const sec = obj(s.secure, "bootstrap.secure");
      known(sec, "bootstrap.secure", ["key", "keyEncoding"]);
      const key = str(sec.key, "bootstrap.secure.key");
      // Mainflux ≤0.13 hex-decodes the service key (AES-128 for the stock 32 digits); the 2023
      // master and every later release use its ASCII bytes (AES-256). Default: what the version does.
      const keyEncoding = sec.keyEncoding === undefined ? profile.keyEncoding : oneOf(sec.keyEncoding, "bootstrap.secure.keyEncoding", ["hex", "ascii"] as const);
      const length = keyEncoding === "hex" ? (/^([0-9A-Fa-f]{2})+$/.test(key) ? key.length / 2 : -1) : key.length;
      if (length !== 16 && length !== 24 && length !== 32) {
        throw new ConfigError("bootstrap.secure.key", keyEncoding === "hex" ? "must be 32, 48 or 64 hex digits (an AES key)" : "must be 16, 24 or 32 characters (an AES key)");
      }
      secure = { key, keyEncoding };
    }
    let domainId: string | undefined;
    if (s.domainId !== undefined) {
      domainId = nonEmpty(s.domainId, "bootstrap.domainId");
      if (!/^[\w-]{1,64}$/.test(domainId)) throw new ConfigError("bootstrap.domainId", "must be a domain ID (1 to 64 characters of [0-9A-Za-z_-])");
    }
    if (profile.topics === "domain" && domainId === undefined) throw new ConfigError("bootstrap.domainId", `is required for ${profile.label}: its topics are m/<domain>/c/<channel>`);
    const insecureTransport = flag(s.insecureTransport, "bootstrap.insecureTransport");
    config.bootstrap = {
      url: transportUrl(s.url, "bootstrap", insecureTransport),
      version,
      generation: profile.generation,
      ...(domainId !== undefined ? { domainId } : {}),
      externalId: s.externalId === undefined ? "mac" : oneOf(s.externalId, "bootstrap.externalId", ["mac", "mac-hex", "node-id"] as const),
      externalKey: externalKeySource(s.externalKey),
      ...(secure ? { secure } : {}),
      ...optPem(s.ca, "bootstrap.ca"),
      ...(insecureTransport ? { insecureTransport } : {}),
      // Over plain HTTP anyone on the path can replay another unit's reply: binding is required
      // there unless the fleet opts out explicitly.
      ...((s.requireContentExternalId === undefined ? insecureTransport : flag(s.requireContentExternalId, "bootstrap.requireContentExternalId")) ? { requireContentExternalId: true } : {}),
    };
  }

  if (root.register !== undefined) {
    const s = obj(root.register, "register");
    known(s, "register", ["url", "fields", "ca", "serial", "insecureTransport"]);
    let fields = { deviceId: "deviceId", key: "key", secret: "secret" };
    if (s.fields !== undefined) {
      const f = obj(s.fields, "register.fields");
      known(f, "register.fields", ["deviceId", "key", "secret"]);
      fields = {
        deviceId: f.deviceId === undefined ? fields.deviceId : nonEmpty(f.deviceId, "register.fields.deviceId"),
        key: f.key === undefined ? fields.key : nonEmpty(f.key, "register.fields.key"),
        secret: f.secret === undefined ? fields.secret : nonEmpty(f.secret, "register.fields.secret"),
      };
    }
    const serial = s.serial === undefined ? "mac" : oneOf(s.serial, "register.serial", ["mac", "node-id"] as const);
    const insecureTransport = flag(s.insecureTransport, "register.insecureTransport");
    config.register = { url: transportUrl(s.url, "register", insecureTransport), fields, serial, ...optPem(s.ca, "register.ca"), ...(insecureTransport ? { insecureTransport } : {}) };
  }

  if (root.shared !== undefined) {
    const s = obj(root.shared, "shared");
    known(s, "shared", ["username", "password", "clientIdPrefix", "clientId", "registerOnConnect"]);
    const clientId = s.clientId === undefined ? "mac" : oneOf(s.clientId, "shared.clientId", ["mac", "node-id"] as const);
    const clientIdPrefix = s.clientIdPrefix === undefined ? "d" : str(s.clientIdPrefix, "shared.clientIdPrefix");
    // 23 characters is the portable limit (MQTT 3.1.1): the prefix gets what the MAC's 12 or the node ID's 20 digits leave
    const room = clientId === "mac" ? 11 : 3;
    if (!new RegExp(`^[0-9A-Za-z]{0,${room}}$`).test(clientIdPrefix)) {
      throw new ConfigError("shared.clientIdPrefix", `must be at most ${room} characters of [0-9A-Za-z] (the client ID adds ${clientId === "mac" ? "12 MAC" : "20 node-ID"} digits; 23 is the portable limit)`);
    }
    let registerOnConnect: SharedConfig["registerOnConnect"];
    if (s.registerOnConnect === true) throw new ConfigError("shared.registerOnConnect", 'must be {"cloudKey": "<the cloud\'s registration key, 64 hex digits>"} (replies are checked against it)');
    if (s.registerOnConnect !== undefined && s.registerOnConnect !== false) {
      const r = obj(s.registerOnConnect, "shared.registerOnConnect");
      known(r, "shared.registerOnConnect", ["timeoutMs", "cloudKey"]);
      const cloudKey = str(r.cloudKey, "shared.registerOnConnect.cloudKey");
      if (!/^[0-9a-f]{64}$/.test(cloudKey)) throw new ConfigError("shared.registerOnConnect.cloudKey", "must be the cloud's Ed25519 registration key as 64 lower-case hex digits");
      registerOnConnect = { timeoutMs: int(r.timeoutMs ?? 15_000, "shared.registerOnConnect.timeoutMs", 100, 600_000), cloudKey };
    }
    config.shared = {
      username: nonEmpty(s.username, "shared.username"), password: nonEmpty(s.password, "shared.password"), clientIdPrefix,
      ...(clientId === "node-id" ? { clientId } : {}),
      ...(registerOnConnect ? { registerOnConnect } : {}),
    };
  }

  if (root.hub !== undefined) config.hub = parseHubConfig(root.hub);
  if (root.userMapping !== undefined) config.userMapping = parseUserMappingConfig(root.userMapping);

  if (root.retry !== undefined) {
    const r = obj(root.retry, "retry");
    known(r, "retry", ["attempts", "initialMs", "maxMs", "maxRounds", "parkedRetryMs"]);
    const attempts = int(r.attempts ?? config.retry.attempts, "retry.attempts", 1, 100);
    const initialMs = int(r.initialMs ?? config.retry.initialMs, "retry.initialMs", 1, 3_600_000);
    const maxMs = int(r.maxMs ?? config.retry.maxMs, "retry.maxMs", initialMs, 3_600_000);
    config.retry = {
      attempts, initialMs, maxMs,
      ...(r.maxRounds !== undefined ? { maxRounds: int(r.maxRounds, "retry.maxRounds", 1, 1_000_000) } : {}),
      ...(r.parkedRetryMs !== undefined ? { parkedRetryMs: int(r.parkedRetryMs, "retry.parkedRetryMs", 1, 7 * 86_400_000) } : {}),
    };
  }

  for (const name of chain) {
    if (name !== "stored" && config[name] === undefined) throw new ConfigError(name, `the chain names "${name}" but there is no "${name}" section`);
  }
  return config;
}

function parseUserMappingConfig(value: unknown): UserMappingConfig {
  const u = obj(value, "userMapping");
  known(u, "userMapping", ["challengeResponse", "secretKey"]);
  const secretKey = u.secretKey === undefined ? true : bool(u.secretKey, "userMapping.secretKey");
  if (u.challengeResponse === undefined) return { secretKey };
  const c = obj(u.challengeResponse, "userMapping.challengeResponse");
  known(c, "userMapping.challengeResponse", ["cloud", "signature"]);
  const cloud = httpUrl(c.cloud, "userMapping.challengeResponse.cloud");
  const host = parseHttpUrl(cloud).host.toLowerCase();
  if (host === "rainmaker.espressif.com" || host.endsWith(".rainmaker.espressif.com")) {
    throw new ConfigError("userMapping.challengeResponse.cloud", "the ESP RainMaker cloud verifies RSA-PSS/ECDSA signatures made with a claimed node key; this firmware signs with Ed25519 under a node ID of its own, so its challenge responses cannot verify there");
  }
  if (c.signature !== CHALLENGE_SIGNATURE) {
    throw new ConfigError("userMapping.challengeResponse.signature", `must be "${CHALLENGE_SIGNATURE}": the cloud named here must verify this firmware's framed Ed25519 signatures`);
  }
  return { challengeResponse: { cloud, signature: CHALLENGE_SIGNATURE }, secretKey };
}

function bool(value: unknown, path: string): boolean {
  if (typeof value !== "boolean") throw new ConfigError(path, "must be true or false");
  return value;
}

function parseHubConfig(value: unknown): HubConfig {
  const h = obj(value, "hub");
  known(h, "hub", ["mode", "hostName", "service", "mdnsServer", "udpPort", "port", "address", "discoveryTimeoutMs", "pollIntervalMs", "approvalTimeoutMs", "namePrefix", "broker", "hubKey", "trustOnFirstUse"]);
  const mode = h.mode === undefined ? "secure" : oneOf(h.mode, "hub.mode", ["secure", "emoncms"] as const);
  const hostName = h.hostName === undefined ? "emonpi.local" : dnsName(h.hostName, "hub.hostName");
  const service = h.service === undefined ? "_onboard-hub._tcp" : str(h.service, "hub.service");
  if (service !== "" && !/^_[0-9A-Za-z-]{1,15}\._(tcp|udp)$/.test(service)) throw new ConfigError("hub.service", 'must be a DNS-SD service type like "_onboard-hub._tcp", or "" for none');
  const mdnsServer = hostPort(h.mdnsServer ?? "224.0.0.251:5353", "hub.mdnsServer");
  const udpPort = int(h.udpPort ?? 5005, "hub.udpPort", 0, 65535);
  const port = int(h.port ?? (mode === "secure" ? 8443 : 80), "hub.port", 1, 65535);
  const address = h.address === undefined ? undefined : hubAddress(h.address, "hub.address");
  const discoveryTimeoutMs = int(h.discoveryTimeoutMs ?? 10_000, "hub.discoveryTimeoutMs", 100, 600_000);
  const pollIntervalMs = int(h.pollIntervalMs ?? 10_000, "hub.pollIntervalMs", 100, 600_000);
  const approvalTimeoutMs = int(h.approvalTimeoutMs ?? 600_000, "hub.approvalTimeoutMs", 1_000, 86_400_000);
  const namePrefix = h.namePrefix === undefined ? "ESP32-" : str(h.namePrefix, "hub.namePrefix");
  if (!/^[\x20-\x7e]{0,26}$/.test(namePrefix)) throw new ConfigError("hub.namePrefix", "must be at most 26 printable ASCII characters (the name adds 6 MAC digits; 32 is the limit)");
  let broker: HubConfig["broker"];
  if (h.broker !== undefined) {
    const b = obj(h.broker, "hub.broker");
    known(b, "hub.broker", ["port", "ca", "serverName"]);
    broker = { port: int(b.port ?? 8883, "hub.broker.port", 1, 65535), ...optPem(b.ca, "hub.broker.ca"), ...optStr(b.serverName, "hub.broker.serverName", "serverName") };
  }
  if (mode === "secure" && broker !== undefined) throw new ConfigError("hub.broker", 'is used only with "mode": "emoncms" (a secure hub sends its broker with the credentials)');
  const hubKey = h.hubKey === undefined ? undefined : str(h.hubKey, "hub.hubKey");
  if (hubKey !== undefined && !/^[0-9a-f]{64}$/.test(hubKey)) throw new ConfigError("hub.hubKey", "must be the hub key: SHA-256 of its certificate's SubjectPublicKeyInfo, 64 lower-case hex digits");
  const trustOnFirstUse = h.trustOnFirstUse === undefined ? false : bool(h.trustOnFirstUse, "hub.trustOnFirstUse");
  if (mode === "emoncms" && (hubKey !== undefined || trustOnFirstUse)) throw new ConfigError(hubKey !== undefined ? "hub.hubKey" : "hub.trustOnFirstUse", 'is used only with "mode": "secure" (emoncms has no hub key)');
  if (mode === "secure" && hubKey !== undefined && trustOnFirstUse) throw new ConfigError("hub.trustOnFirstUse", "cannot be combined with hub.hubKey (the key is already pinned)");
  if (mode === "secure" && hubKey === undefined && !trustOnFirstUse) {
    throw new ConfigError("hub", 'secure mode needs "hubKey" (the hub\'s key, pinned at the factory) or "trustOnFirstUse": true (then a person must compare the pairing code the unit shows with the one on the hub\'s page; without either a rogue hub could pair the unit with nobody involved)');
  }
  // emoncms' text reply names no CA: without hub.broker.ca the platform's root store must know the broker.
  if (mode === "emoncms" && broker === undefined) broker = { port: 8883 };
  return {
    mode, hostName, service, mdnsServer, udpPort, port, discoveryTimeoutMs, pollIntervalMs, approvalTimeoutMs, namePrefix,
    ...(address !== undefined ? { address } : {}),
    ...(broker !== undefined ? { broker } : {}),
    ...(hubKey !== undefined ? { hubKey } : {}),
    ...(trustOnFirstUse ? { trustOnFirstUse } : {}),
  };
}

function dnsName(value: unknown, path: string): string {
  const s = nonEmpty(value, path);
  if (s.length > 253 || !s.split(".").every((label) => /^[0-9A-Za-z_]([0-9A-Za-z_-]{0,61}[0-9A-Za-z])?$/.test(label))) {
    throw new ConfigError(path, "must be a DNS name like emonpi.local");
  }
  return s;
}

function hubAddress(value: unknown, path: string): string {
  const s = str(value, path);
  if (/^[\d.]+$/.test(s)) return ipv4(s, path);
  try {
    return dnsName(s, path);
  } catch {
    throw new ConfigError(path, "must be an IPv4 address or a host name");
  }
}

function ipv4(value: unknown, path: string): string {
  const s = str(value, path);
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m || m.slice(1).some((part) => Number(part) > 255)) throw new ConfigError(path, "must be an IPv4 address like 192.168.1.10");
  return s;
}

function hostPort(value: unknown, path: string): HostPort {
  // The validated form ({address, port}) is accepted too, so a parsed config parses again.
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    known(o, path, ["address", "port"]);
    return hostPort(`${str(o.address, `${path}.address`)}:${int(o.port, `${path}.port`, 1, 65535)}`, path);
  }
  const s = str(value, path);
  const colon = s.lastIndexOf(":");
  const port = colon < 0 ? NaN : Number(s.slice(colon + 1));
  if (colon < 0 || !/^\d{1,5}$/.test(s.slice(colon + 1)) || port < 1 || port > 65535) throw new ConfigError(path, 'must be "address:port", e.g. "224.0.0.251:5353"');
  return { address: ipv4(s.slice(0, colon), path), port };
}

// Keys the credential store owns: a factory-written external key must not overwrite them.
const STORE_KEYS = ["cred.a", "cred.b"];

function externalKeySource(value: unknown): ExternalKeySource {
  if (typeof value === "string") return nonEmpty(value, "bootstrap.externalKey");
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError("bootstrap.externalKey", 'must be a string or {"nvs": "<NVS key>"}');
  }
  const o = value as Record<string, unknown>;
  known(o, "bootstrap.externalKey", ["nvs"]);
  const key = str(o.nvs, "bootstrap.externalKey.nvs");
  if (!/^[0-9A-Za-z._-]{1,15}$/.test(key)) throw new ConfigError("bootstrap.externalKey.nvs", "must be an NVS key: 1 to 15 characters of [0-9A-Za-z._-]");
  if (STORE_KEYS.includes(key)) throw new ConfigError("bootstrap.externalKey.nvs", `"${key}" belongs to the credential store`);
  return { nvs: key };
}

function obj(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ConfigError(path, "must be an object");
  return value as Record<string, unknown>;
}

// Unknown keys are errors: a misspelt "externalKy" must not silently fall back to a default.
function known(o: Record<string, unknown>, path: string, keys: readonly string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw new ConfigError(path, `unknown field "${k}" (expected ${keys.join(", ")})`);
}

function str(value: unknown, path: string): string {
  if (typeof value !== "string") throw new ConfigError(path, "must be a string");
  return value;
}

function nonEmpty(value: unknown, path: string): string {
  const s = str(value, path);
  if (s.length === 0) throw new ConfigError(path, "must not be empty");
  return s;
}

function optStr<K extends string>(value: unknown, path: string, key: K): { [P in K]?: string } {
  return value === undefined ? {} : ({ [key]: nonEmpty(value, path) } as { [P in K]?: string });
}

function optPem(value: unknown, path: string): { ca?: string } {
  if (value === undefined) return {};
  const s = str(value, path);
  if (!s.includes("-----BEGIN CERTIFICATE-----")) throw new ConfigError(path, "must be PEM certificates");
  return { ca: s };
}

function oneOf<T extends string>(value: unknown, path: string, options: readonly T[]): T {
  if (typeof value !== "string" || !(options as readonly string[]).includes(value)) {
    throw new ConfigError(path, `must be one of ${options.join(", ")} (got ${JSON.stringify(value)})`);
  }
  return value as T;
}

function int(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) throw new ConfigError(path, `must be an integer from ${min} to ${max}`);
  return value;
}

/** `version` names the release; the older `generation` alone still works (LEGACY_VERSION); both must agree. */
function bootstrapVersion(version: unknown, generation: unknown): BootstrapVersion {
  const g = generation === undefined ? undefined : oneOf(generation, "bootstrap.generation", ["raw", "thing", "client"] as const);
  if (version === undefined) {
    if (g === undefined) throw new ConfigError("bootstrap.version", `is required: one of ${BOOTSTRAP_VERSIONS.join(", ")}`);
    return LEGACY_VERSION[g];
  }
  const v = oneOf(version, "bootstrap.version", BOOTSTRAP_VERSIONS);
  if (g !== undefined && bootstrapProfile(v).generation !== g) {
    throw new ConfigError("bootstrap.generation", `"${g}" contradicts version ${v} (which speaks the "${bootstrapProfile(v).generation}" generation); leave generation out`);
  }
  return v;
}

function flag(value: unknown, path: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== "boolean") throw new ConfigError(path, "must be true or false");
  return value;
}

// Issue 14, H4: an onboarding reply over plain HTTP can be written by anyone on the path.
function transportUrl(value: unknown, section: string, insecureTransport: boolean): string {
  const url = httpUrl(value, `${section}.url`);
  if (url.startsWith("http://") && !insecureTransport) {
    throw new ConfigError(`${section}.url`, `is http://: credentials would cross the network in clear and anyone on the path could answer; use https:// or set ${section}.insecureTransport: true`);
  }
  return url;
}

function httpUrl(value: unknown, path: string): string {
  const url = str(value, path);
  try {
    parseHttpUrl(url);
  } catch (e) {
    throw new ConfigError(path, e instanceof HttpError ? e.message : "is not a URL");
  }
  return url;
}
