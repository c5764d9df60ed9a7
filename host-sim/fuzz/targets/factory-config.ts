// The factory config parser (JSON from the manifest or flash). Properties: parseFactoryConfig
// returns a config or throws ConfigError, nothing else; a config it returns is complete (every
// strategy the chain names has its section) and a fixed point: serialising it and parsing again
// gives the same config (defaults filled in once, nothing dropped or reinterpreted).
import { fromUtf8, Utf8Error, utf8 } from "../../../src/bytes/bytes.js";
import { ConfigError, parseFactoryConfig, type FactoryConfig } from "../../../src/config/factory-config.js";
import type { Rand } from "../rand.js";
import { expect, FuzzFailure, type FuzzTarget } from "../target.js";
import { sameValue } from "./compare.js";
import { mutateJsonBytes } from "./json-mutate.js";

const KEYS = ["chain", "broker", "bootstrap", "register", "shared", "retry", "url", "ca", "serverName", "generation", "externalId", "externalKey", "secure", "key", "keyEncoding", "fields", "deviceId", "secret", "username", "password", "clientIdPrefix", "attempts", "initialMs", "maxMs", "stored", "raw", "thing", "client", "mac", "hex", "ascii", "__proto__",
  "hub", "nvs", "registerOnConnect", "timeoutMs", "cloudKey", "hubKey", "trustOnFirstUse", "userMapping", "challengeResponse", "cloud", "signature", "secretKey", "maxRounds", "parkedRetryMs", "mode", "secure", "emoncms", "hostName", "service", "mdnsServer", "udpPort", "port", "address",
  "discoveryTimeoutMs", "pollIntervalMs", "approvalTimeoutMs", "namePrefix", "client-v0.30"];
const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

function sampleConfig(r: Rand): Uint8Array {
  const chain = ["stored", "bootstrap", "register", "shared", "hub"].filter(() => r.bool(0.7));
  if (chain.length === 0) chain.push("stored");
  const generation = r.pick(["raw", "thing", "client"]);
  const o: Record<string, unknown> = {
    chain,
    broker: { url: r.pick(["mqtts://broker.example:8883", "mqtts://10.0.0.1"]), ...(r.bool() ? { ca: PEM } : {}), ...(r.bool() ? { serverName: "broker" } : {}) },
    bootstrap: {
      url: r.pick(["http://cloud.example:9013", "https://cloud.example/bs"]),
      generation,
      externalKey: r.bool(0.8) ? "ext-key" : { nvs: "bs.key" },
      ...(r.bool() ? { externalId: r.pick(["mac", "mac-hex", "node-id"]) } : {}),
      ...(r.bool() ? { secure: { key: r.pick(["0123456789abcdef0123456789abcdef", "0123456789abcdef"]), ...(r.bool() ? { keyEncoding: r.pick(["hex", "ascii"]) } : {}) } } : {}),
    },
    register: { url: "https://register.example/r", ...(r.bool() ? { fields: { deviceId: "id", secret: "s" } } : {}) },
    shared: { username: "fleet", password: "pw", ...(r.bool() ? { clientIdPrefix: "dev" } : {}), ...(r.bool(0.3) ? { registerOnConnect: r.bool() ? { cloudKey: "cd".repeat(32) } : { timeoutMs: r.int(100, 60_000), cloudKey: "cd".repeat(32) } } : {}) },
    hub: r.bool()
      ? { mode: "secure", ...(r.bool() ? { hubKey: "ab".repeat(32) } : { trustOnFirstUse: true }), ...(r.bool() ? { address: "192.168.1.10" } : { mdnsServer: "127.0.0.1:5353", udpPort: r.int(0, 65535) }), ...(r.bool() ? { pollIntervalMs: r.int(100, 20_000), approvalTimeoutMs: 60_000 } : {}) }
      : { mode: "emoncms", broker: { port: 8883, ca: PEM }, ...(r.bool() ? { namePrefix: "emontx-" } : {}) },
    ...(r.bool() ? { retry: { attempts: r.int(1, 9), initialMs: 100, maxMs: r.pick([100, 60_000]), ...(r.bool() ? { maxRounds: r.int(1, 10), parkedRetryMs: 3_600_000 } : {}) } } : {}),
  };
  for (const name of ["bootstrap", "register", "shared", "hub"]) if (!chain.includes(name) && r.bool()) delete o[name];
  return utf8(JSON.stringify(o));
}

export const factoryConfigTarget: FuzzTarget = {
  name: "factory-config",
  maxLength: 4096,
  seeds: (r) => Array.from({ length: 40 }, () => sampleConfig(r)),
  generators: [(r) => mutateJsonBytes(r, sampleConfig(r), KEYS)],
  run(input) {
    let config: FactoryConfig;
    try {
      config = parseFactoryConfig(fromUtf8(input));
    } catch (e) {
      if (e instanceof ConfigError || e instanceof Utf8Error) return;
      throw e;
    }
    expect(config.chain.length > 0, "empty chain accepted");
    for (const name of config.chain) expect(name === "stored" || config[name] !== undefined, `chain names ${name} without its section`);
    let again: FactoryConfig;
    try {
      again = parseFactoryConfig(JSON.stringify(config));
    } catch (e) {
      throw new FuzzFailure(`an accepted config is rejected after serialising: ${String(e)}`);
    }
    expect(sameValue(again, config), "config changed through parse → serialise → parse");
  },
};
