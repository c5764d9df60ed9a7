// The factory config: what the build (manifest.json "config" on the board, a JSON file in the
// simulator) tells every unit of a fleet about its cloud. It is the same for every unit; per-unit
// facts (MAC, serial, node key) come from the device itself. Validation is strict and names the
// offending field, so a bad build fails at boot with a readable message instead of misbehaving.
import { parseBrokerUrl, RecordError } from "../storage/credential-record.js";
import { HttpError } from "../http/codec.js";
import { parseHttpUrl } from "../http/url.js";

export const STRATEGY_NAMES = ["stored", "bootstrap", "register", "shared"] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

/** The three device-facing API generations of the Mainflux/Magistrala/SuperMQ bootstrap service. */
export type BootstrapGeneration =
  /** Mainflux ≤0.12: /things/bootstrap, raw key in Authorization, mainflux_* reply. */
  | "raw"
  /** Mainflux 0.13, Magistrala v0.14–v0.15: /things/bootstrap, "Thing <key>", mainflux_* or thing_* reply. */
  | "thing"
  /** SuperMQ v0.16, Magistrala v0.20: /clients/bootstrap, "Client <key>", client_* reply. */
  | "client";

export interface BrokerConfig {
  /** mqtts://host:port */
  readonly url: string;
  /** Trust anchors (PEM); absent = the platform's root store. */
  readonly ca?: string;
  readonly serverName?: string;
}

export interface BootstrapConfig {
  /** Service base URL, e.g. "https://cloud:9013" (the generation adds /things/bootstrap or /clients/bootstrap). */
  readonly url: string;
  readonly generation: BootstrapGeneration;
  /** "mac" (default): the unit's MAC as AA:BB:CC:DD:EE:FF; "mac-hex": 12 hex digits; "node-id": the node ID. */
  readonly externalId: "mac" | "mac-hex" | "node-id";
  /** The external key. One for the fleet here (same firmware); see the README on what that implies. */
  readonly externalKey: string;
  /** Secure variant: AES-CFB with the deployment's shared key. */
  readonly secure?: { readonly key: string; readonly keyEncoding: "hex" | "ascii" };
  readonly ca?: string;
}

export interface RegisterConfig {
  /** The self-registration endpoint, e.g. "https://cloud:8443/register". */
  readonly url: string;
  /** Field names of the reply (Losant workflows define their own). */
  readonly fields: { readonly deviceId: string; readonly key: string; readonly secret: string };
  readonly ca?: string;
}

export interface SharedConfig {
  readonly username: string;
  readonly password: string;
  /** Client ID = prefix + the MAC's 12 hex digits; kept within 23 characters of [0-9A-Za-z]. */
  readonly clientIdPrefix: string;
}

export interface FactoryConfig {
  readonly chain: readonly StrategyName[];
  /** The fleet's broker (register and shared use it; bootstrap unless its reply names another). */
  readonly broker: BrokerConfig;
  readonly bootstrap?: BootstrapConfig;
  readonly register?: RegisterConfig;
  readonly shared?: SharedConfig;
  /** Attempts per strategy for transient failures, and the delays between them. */
  readonly retry: { readonly attempts: number; readonly initialMs: number; readonly maxMs: number };
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
  known(root, "(root)", ["chain", "broker", "bootstrap", "register", "shared", "retry"]);
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

  const b = obj(root.broker, "broker");
  known(b, "broker", ["url", "ca", "serverName"]);
  const brokerUrl = str(b.url, "broker.url");
  try {
    parseBrokerUrl(brokerUrl);
  } catch (e) {
    throw new ConfigError("broker.url", e instanceof RecordError ? e.message : "is not an mqtts:// URL");
  }
  const broker: BrokerConfig = { url: brokerUrl, ...optPem(b.ca, "broker.ca"), ...optStr(b.serverName, "broker.serverName", "serverName") };

  const config: { -readonly [K in keyof FactoryConfig]: FactoryConfig[K] } = {
    chain,
    broker,
    retry: { attempts: 3, initialMs: 2_000, maxMs: 60_000 },
  };

  if (root.bootstrap !== undefined) {
    const s = obj(root.bootstrap, "bootstrap");
    known(s, "bootstrap", ["url", "generation", "externalId", "externalKey", "secure", "ca"]);
    const generation = oneOf(s.generation, "bootstrap.generation", ["raw", "thing", "client"] as const);
    let secure: BootstrapConfig["secure"];
    if (s.secure !== undefined) {
      const sec = obj(s.secure, "bootstrap.secure");
      known(sec, "bootstrap.secure", ["key", "keyEncoding"]);
      const key = str(sec.key, "bootstrap.secure.key");
      // Mainflux ≤0.13 hex-decodes the service key (AES-128 for the stock 32 digits); later
      // generations use its ASCII bytes (AES-256). Default to what the generation does.
      const keyEncoding = sec.keyEncoding === undefined ? (generation === "client" ? "ascii" : "hex") : oneOf(sec.keyEncoding, "bootstrap.secure.keyEncoding", ["hex", "ascii"] as const);
      const length = keyEncoding === "hex" ? (/^([0-9A-Fa-f]{2})+$/.test(key) ? key.length / 2 : -1) : key.length;
      if (length !== 16 && length !== 24 && length !== 32) {
        throw new ConfigError("bootstrap.secure.key", keyEncoding === "hex" ? "must be 32, 48 or 64 hex digits (an AES key)" : "must be 16, 24 or 32 characters (an AES key)");
      }
      secure = { key, keyEncoding };
    }
    config.bootstrap = {
      url: httpUrl(s.url, "bootstrap.url"),
      generation,
      externalId: s.externalId === undefined ? "mac" : oneOf(s.externalId, "bootstrap.externalId", ["mac", "mac-hex", "node-id"] as const),
      externalKey: nonEmpty(s.externalKey, "bootstrap.externalKey"),
      ...(secure ? { secure } : {}),
      ...optPem(s.ca, "bootstrap.ca"),
    };
  }

  if (root.register !== undefined) {
    const s = obj(root.register, "register");
    known(s, "register", ["url", "fields", "ca"]);
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
    config.register = { url: httpUrl(s.url, "register.url"), fields, ...optPem(s.ca, "register.ca") };
  }

  if (root.shared !== undefined) {
    const s = obj(root.shared, "shared");
    known(s, "shared", ["username", "password", "clientIdPrefix"]);
    const clientIdPrefix = s.clientIdPrefix === undefined ? "d" : str(s.clientIdPrefix, "shared.clientIdPrefix");
    if (!/^[0-9A-Za-z]{0,11}$/.test(clientIdPrefix)) throw new ConfigError("shared.clientIdPrefix", "must be at most 11 characters of [0-9A-Za-z] (the client ID adds 12 MAC digits; 23 is the portable limit)");
    config.shared = { username: nonEmpty(s.username, "shared.username"), password: nonEmpty(s.password, "shared.password"), clientIdPrefix };
  }

  if (root.retry !== undefined) {
    const r = obj(root.retry, "retry");
    known(r, "retry", ["attempts", "initialMs", "maxMs"]);
    const attempts = int(r.attempts ?? config.retry.attempts, "retry.attempts", 1, 100);
    const initialMs = int(r.initialMs ?? config.retry.initialMs, "retry.initialMs", 1, 3_600_000);
    const maxMs = int(r.maxMs ?? config.retry.maxMs, "retry.maxMs", initialMs, 3_600_000);
    config.retry = { attempts, initialMs, maxMs };
  }

  for (const name of chain) {
    if (name !== "stored" && config[name] === undefined) throw new ConfigError(name, `the chain names "${name}" but there is no "${name}" section`);
  }
  return config;
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

function httpUrl(value: unknown, path: string): string {
  const url = str(value, path);
  try {
    parseHttpUrl(url);
  } catch (e) {
    throw new ConfigError(path, e instanceof HttpError ? e.message : "is not a URL");
  }
  return url;
}
