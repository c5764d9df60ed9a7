// The reference cloud, one process: an HTTPS server with the bootstrap service (the three API
// generations, plain and /secure/), the self-registration endpoint and an admin API, plus the
// MQTT broker (broker.ts) that enforces the credentials it issues. A reference and test partner,
// not a production cloud: fleets point the same firmware at Magistrala, their own registration
// endpoint and a real broker cluster.
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { decryptExternalKey, encryptReply, serviceKeyBytes } from "../../src/onboarding/secure-bootstrap.js";
import { bootstrapProfile, LEGACY_VERSION, type BootstrapVersion } from "../../src/onboarding/bootstrap-version.js";
import { plainReply, refusal, replyObject, routedExternalId, secureReply, type WireReply } from "./bootstrap-wire.js";
import { startMosquitto, type MosquittoBroker, type MosquittoPki } from "../broker/mosquitto.js";
import { startCloudBroker, type CloudBroker } from "./broker.js";
import { MosquittoDynsec, SHARED_ACL_PATTERNS } from "./mosquitto-dynsec.js";
import { handleRegistration, registrationKeyOf } from "./shared-registration.js";
import type { RateLimit } from "./rate-limit.js";
import { CloudState, newId, newObjectId, newSecret, type BootstrapConfigRecord, type Generation } from "./state.js";
import { nodeCrypto } from "../io/node-crypto.js";

export interface CloudOptions {
  /** Server certificate/key and the CA devices trust (PEM). */
  readonly tls: { readonly key: string; readonly cert: string; readonly ca: string };
  /** JSON state file; absent = in memory only. */
  readonly statePath?: string;
  /** Which service version the bootstrap service plays (switchable at run time); default Magistrala 0.20's device API as SuperMQ 0.16. */
  readonly version?: BootstrapVersion;
  /** The older way to pick it: raw | thing | client | client-v0.30 (LEGACY_VERSION; client-v0.30 = Magistrala 0.30). */
  readonly generation?: Generation;
  /** Magistrala 0.20+: the domain its channels live in (topics m/<domain>/c/<channel>). Default "fleet-domain". */
  readonly domainId?: string;
  /** MG_BOOTSTRAP_ENCRYPT_KEY: hex-decoded by Mainflux ≤0.13, ASCII bytes from the 2023 master on. */
  readonly encryptKey?: string;
  readonly httpPort?: number;
  readonly mqttPort?: number;
  /** Bearer token of the admin API. */
  readonly adminToken?: string;
  /**
   * Enforce credentials with Debian's Mosquitto (dynamic-security plugin, see mosquitto-dynsec.ts)
   * instead of the embedded aedes broker; `brokerUrl` then points at Mosquitto.
   */
  readonly mosquitto?: MosquittoPki;
  /** Server-side limit on the onboarding endpoints (register, bootstrap): 429 + Retry-After beyond it (rate-limit.ts). */
  readonly onboardingLimit?: RateLimit;
}

export interface CloudEvent { readonly what: string; readonly detail: string }

export interface Cloud {
  readonly httpUrl: string;
  readonly brokerUrl: string;
  readonly state: CloudState;
  /** The embedded broker (always running; the devices' broker unless `mosquitto` was given). */
  readonly broker: CloudBroker;
  readonly mosquitto: MosquittoBroker | undefined;
  /** With Mosquitto: its listener that requires a client certificate signed by the CA. */
  readonly mtlsBrokerUrl: string | undefined;
  /** With Mosquitto: the cloud's admin session (dynsec control, connection log, device publishes). */
  readonly mosquittoBus: MosquittoDynsec | undefined;
  readonly adminToken: string;
  /** Public half of the key that signs registration replies (64 hex): factories pin it as shared.registerOnConnect.cloudKey. */
  readonly registrationKey: string;
  /** Resolves once the broker enforces every change made so far (Mosquitto reloads are async). */
  settled(): Promise<void>;
  /** The bootstrap service's version (bootstrap-version.ts); switchable at run time. */
  version: BootstrapVersion;
  /** Magistrala 0.20+ domain of every config (factory configs name it as bootstrap.domainId). */
  readonly domainId: string;
  /** Older setter for `version`: raw → Mainflux 0.12, thing → 0.13, client → SuperMQ 0.16, client-v0.30 → Magistrala 0.30. */
  generation: Generation;
  onEvent(listener: (e: CloudEvent) => void): void;
  // Admin operations (the HTTP admin API calls the same functions).
  addBootstrapConfig(config: { externalId: string; externalKey: string; channels?: number; content?: string; clientCert?: string; clientKey?: string; caCert?: string }): BootstrapConfigRecord;
  allowSerials(serials: readonly string[]): void;
  /** `register`: units may register on first connect and get logins of their own (shared-registration.ts). */
  addSharedAccount(username: string, password: string, clientIdPattern?: string, options?: { register?: boolean }): void;
  /**
   * Issue (or replace) one MQTT login for a device another service vouched for (the local hub's
   * approval). Resolves once the broker enforces it.
   */
  issueAccount(account: { username: string; password: string; clientId?: string; topics: string[]; owner: string; commandTopic?: string }): Promise<void>;
  /**
   * `mode: "publish"` disables the way a deactivated Mainflux/Magistrala config behaves (its
   * bootstrap still answers up to 0.20): the device still connects, then the embedded broker drops it
   * at SUBSCRIBE/PUBLISH (embedded broker only: Mosquitto 2.0 with an ACL file grants every
   * SUBSCRIBE and acknowledges denied publishes, so it cannot show this). Default "connect": CONNACK 5.
   */
  setEnabled(device: string, enabled: boolean, options?: { mode?: "connect" | "publish" }): boolean;
  revoke(device: string): boolean;
  /**
   * Push new credentials to a device on its command topic. The old ones stay valid until the
   * device logs in with the new ones. `refusable`: send a password the broker will refuse (to
   * exercise the device's rollback).
   */
  rotate(device: string, options?: { refusable?: boolean }): Promise<{ username: string }>;
  /** The next `count` registration requests get 429 with Retry-After: `seconds`. */
  throttleRegistration(count: number, seconds: number): void;
  /** Answer every HTTP request with 503 (the cloud "down") until set back. */
  setDown(down: boolean): void;
  listDevices(): { device: string; username: string; clientId?: string; enabled: boolean; topics: string[] }[];
  close(): Promise<void>;
}

export async function startCloud(options: CloudOptions): Promise<Cloud> {
  const state = new CloudState(options.statePath);
  const broker = await startCloudBroker(state, options.tls, options.mqttPort ?? 0);
  const mosquittoAdmin = { username: "cloud-admin", password: newSecret(24) };
  const mosquitto = options.mosquitto
    ? await startMosquitto({
      pki: options.mosquitto, acl: SHARED_ACL_PATTERNS, logToTopic: true,
      dynamicSecurity: { adminUsername: mosquittoAdmin.username, adminPassword: mosquittoAdmin.password, adminPublishes: true },
      // A second listener that takes only clients with a certificate from the CA (mTLS from bootstrap certs).
      extraListeners: [{ requireCertificate: true }],
    })
    : undefined;
  const sync = mosquitto ? await MosquittoDynsec.connect(mosquitto, mosquittoAdmin, options.tls.ca, state) : undefined;
  // A restarted cloud over a saved state: the fresh broker learns every login again.
  if (sync) await sync.sync([...state.data.shared.map((a) => a.username), ...state.data.credentials.map((c) => c.username)]);
  // Every credential change goes through here so both brokers see it.
  const changed = (...usernames: string[]): Promise<void> => {
    for (const u of usernames) broker.kick(u);
    return sync ? sync.sync(usernames) : Promise.resolve();
  };
  const listeners: ((e: CloudEvent) => void)[] = [];
  const emit = (what: string, detail: string) => { for (const l of listeners) l({ what, detail }); };
  const adminToken = options.adminToken ?? newSecret();
  // A rotated-in credential's first successful login retires the one it replaces.
  const retireReplaced = ({ username }: { username: string | undefined }) => {
    const cred = username === undefined ? undefined : state.credential(username);
    if (!cred?.replaces) return;
    const old = cred.replaces;
    delete cred.replaces;
    state.revoke(old);
    state.save();
    void changed(old);
    emit("rotated", `${cred.owner}: ${old} retired, ${cred.username} in use`);
  };
  broker.events.on("connected", retireReplaced);
  sync?.events.on("connected", retireReplaced);
  // Register on first connect: requests arrive over whichever broker the devices use.
  const registration = { state, publish: (topic: string, payload: string) => (sync ?? broker).publish(topic, payload), changed, emit };
  broker.events.on("published", (m) => handleRegistration(registration, m));
  sync?.events.on("published", (m) => handleRegistration(registration, m));
  let throttle = { count: 0, seconds: 0 };
  let down = false;

  const ownerOf = (device: string) =>
    state.data.credentials.filter((c) => c.owner === device || c.owner.endsWith(`:${device}`) || c.username === device || c.clientId === device);

  const cloud: Cloud = {
    httpUrl: "",
    brokerUrl: `mqtts://localhost:${mosquitto ? mosquitto.port : broker.port}`,
    mtlsBrokerUrl: mosquitto ? `mqtts://localhost:${mosquitto.extraPorts[0]!}` : undefined,
    mosquittoBus: sync,
    state,
    broker,
    mosquitto,
    settled: () => sync?.settled() ?? Promise.resolve(),
    adminToken,
    registrationKey: registrationKeyOf(state).publicKeyHex,
    version: options.version ?? versionOf(options.generation ?? "client"),
    domainId: options.domainId ?? "fleet-domain",
    get generation(): Generation {
      return this.version === "magistrala-0.30" ? "client-v0.30" : bootstrapProfile(this.version).generation;
    },
    set generation(g: Generation) {
      this.version = versionOf(g);
    },
    onEvent(l) { listeners.push(l); },
    addBootstrapConfig(c) {
      const channels = Array.from({ length: c.channels ?? 2 }, (_, i) => ({ id: newId(), name: i === 0 ? "data" : `ch${i}`, metadata: { type: i === 0 ? "data" : "control" } }));
      const record: BootstrapConfigRecord = {
        externalId: c.externalId, externalKey: c.externalKey, thingId: newId(), thingKey: newId(), channels, enabled: true,
        ...(c.content !== undefined ? { content: c.content } : {}),
        ...(c.clientCert !== undefined ? { clientCert: c.clientCert, clientKey: c.clientKey! } : {}),
        ...(c.caCert !== undefined ? { caCert: c.caCert } : {}),
      };
      state.data.configs = state.data.configs.filter((x) => x.externalId !== c.externalId);
      state.data.configs.push(record);
      const control = channels.find((ch) => ch.metadata.type === "control") ?? channels[0];
      // Both topic layouts (the version can be switched at run time); commands go where the
      // current version's devices listen.
      const domain = bootstrapProfile(cloud.version).topics === "domain";
      state.issue({
        username: record.thingId, password: record.thingKey, clientId: record.thingId, owner: `bootstrap:${c.externalId}`,
        topics: channels.flatMap((ch) => [`channels/${ch.id}/messages`, `m/${cloud.domainId}/c/${ch.id}`]),
        ...(control ? { commandTopic: domain ? `m/${cloud.domainId}/c/${control.id}/req` : `channels/${control.id}/messages/req` } : {}),
      });
      state.save();
      void changed(record.thingId);
      return record;
    },
    allowSerials(serials) {
      state.data.serials = [...new Set([...state.data.serials, ...serials])];
      state.save();
    },
    addSharedAccount(username, password, clientIdPattern = "^[0-9A-Za-z]{1,23}$", accountOptions = {}) {
      state.data.shared = state.data.shared.filter((s) => s.username !== username);
      state.data.shared.push({ username, password, clientIdPattern, ...(accountOptions.register ? { register: true } : {}) });
      state.save();
      void changed(username);
    },
    issueAccount(account) {
      state.issue(account);
      state.save();
      emit("issued", `${account.owner}: login ${account.username}`);
      return changed(account.username);
    },
    setEnabled(device, enabled, enableOptions = {}) {
      const creds = ownerOf(device);
      const publishMode = !enabled && enableOptions.mode === "publish";
      broker.refusePublishes(creds.map((c) => c.username), publishMode);
      const config = state.data.configs.find((c) => c.externalId === device || c.thingId === device);
      if (config) config.enabled = enabled;
      const reg = state.data.devices.find((d) => d.deviceId === device || d.serial === device);
      if (reg) reg.enabled = enabled;
      for (const c of creds) c.enabled = enabled;
      state.save();
      // Publish mode leaves live sessions up: their next publish is what gets them dropped.
      if (publishMode) void sync?.sync(creds.map((c) => c.username));
      else void changed(...creds.map((c) => c.username));
      emit(enabled ? "enabled" : "disabled", device);
      return creds.length > 0 || config !== undefined || reg !== undefined;
    },
    revoke(device) {
      const creds = ownerOf(device);
      for (const c of creds) state.revoke(c.username);
      state.save();
      void changed(...creds.map((c) => c.username));
      emit("revoked", device);
      return creds.length > 0;
    },
    async rotate(device, rotateOptions = {}) {
      const old = ownerOf(device).find((c) => c.replaces === undefined) ?? ownerOf(device)[0];
      if (!old || old.commandTopic === undefined) throw new Error(`no rotatable credential for ${device}`);
      const username = newId();
      const password = newSecret(24);
      state.issue({
        username, password, topics: old.topics, owner: old.owner, commandTopic: old.commandTopic, replaces: old.username,
        ...(old.clientId !== undefined ? { clientId: old.clientId } : {}),
      });
      state.save();
      await changed(username);
      emit("rotate", `${device}: new credential ${username} pushed on ${old.commandTopic}${rotateOptions.refusable ? " (with a password the broker refuses)" : ""}`);
      await (sync ?? broker).publish(old.commandTopic, JSON.stringify({ rotate: { username, password: rotateOptions.refusable ? `${password}-not` : password } }));
      return { username };
    },
    throttleRegistration(count, seconds) { throttle = { count, seconds }; },
    setDown(value) { down = value; emit(value ? "down" : "up", "http"); },
    listDevices() {
      return state.data.credentials.map((c) => ({ device: c.owner, username: c.username, ...(c.clientId !== undefined ? { clientId: c.clientId } : {}), enabled: c.enabled, topics: c.topics }));
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
      await broker.close();
      await sync?.close();
      await mosquitto?.dispose();
    },
  };

  const server: Server = createServer({ key: options.tls.key, cert: options.tls.cert, minVersion: "TLSv1.2" }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    // Requests wait until the broker enforces every earlier change (Mosquitto reloads are async).
    req.on("end", () => void cloud.settled().then(() => {
      try {
        handle(req, res, Buffer.concat(chunks));
      } catch (e) {
        send(res, 500, { error: e instanceof Error ? e.message : "internal error" });
      }
    }));
  });
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => { sockets.add(s); s.once("close", () => sockets.delete(s)); });

  function handle(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const path = (req.url ?? "/").split("?")[0]!;
    if (down) return send(res, 503, { error: "service unavailable" });
    const boot = /^\/(things|clients)\/bootstrap(\/secure)?\/([^/]+)$/.exec(path);
    const limited = (boot || path === "/register") ? options.onboardingLimit?.take(boot ? boot[3] : limitKey(body)) : undefined;
    if (limited && !limited.ok) return send(res, 429, { error: "too many requests" }, { "Retry-After": String(limited.retryAfterSeconds) });
    if (boot && req.method === "GET") return bootstrap(res, boot[1]!, boot[2] !== undefined, boot[3]!, req.headers.authorization);
    if (path === "/register" && req.method === "POST") return register(res, body);
    if (path.startsWith("/admin/")) return admin(req, res, path, body);
    send(res, 404, { error: "not found" });
  }

  // Status codes, bodies and headers per version: bootstrap-wire.ts (recorded from the real service).
  function bootstrap(res: ServerResponse, family: string, secure: boolean, rawId: string, authorization: string | undefined): void {
    const version = cloud.version;
    const profile = bootstrapProfile(version);
    if (`/${family}/bootstrap` !== profile.path) return send(res, 404, { error: "not found" });
    const externalId = routedExternalId(version, rawId);
    let key: string | undefined = authorization;
    // ≤0.12 takes the whole header as the key (a "Bearer …" value is just a wrong key there).
    if (profile.scheme !== "") key = authorization?.startsWith(profile.scheme) ? authorization.slice(profile.scheme.length) : undefined;
    if (!key) return sendWire(res, refusal(version, "missing-key"));
    const config = externalId === undefined ? undefined : state.data.configs.find((c) => c.externalId === externalId);
    let given: Buffer | undefined = Buffer.from(key, "utf8");
    let serviceKey: Uint8Array | undefined;
    if (secure) {
      if (options.encryptKey === undefined) return send(res, 404, { error: "secure bootstrap not configured" });
      serviceKey = serviceKeyBytes(options.encryptKey, profile.keyEncoding);
      if (!/^([0-9A-Fa-f]{2})+$/.test(key)) {
        if (!config) return sendWire(res, refusal(version, "unknown-id"));
        return sendWire(res, refusal(version, "not-hex", key));
      }
      const plain = decryptExternalKey(nodeCrypto, serviceKey, key);
      given = plain ? Buffer.from(plain) : undefined;
    }
    if (!config) {
      emit("bootstrap-unknown", externalId ?? rawId);
      return sendWire(res, refusal(version, "unknown-id"));
    }
    if (!given || given.toString("utf8") !== config.externalKey) {
      emit("bootstrap-wrong-key", config.externalId);
      return sendWire(res, refusal(version, "wrong-key"));
    }
    // Only Magistrala 0.30 gates bootstrap on the state; older versions hand out the credentials
    // and the broker refuses them ("deactivated": connects, then dropped at publish/subscribe).
    if (!config.enabled && version === "magistrala-0.30") return sendWire(res, refusal(version, "disabled"));
    if (version === "magistrala-0.30" && config.configId === undefined) {
      config.configId = newId();
      state.save();
    }
    const reply = replyObject(version, config);
    emit("bootstrap", `${config.externalId} → ${config.thingId} (${profile.label}${secure ? ", secure" : ""})`);
    if (!secure) return sendWire(res, plainReply(reply));
    sendWire(res, secureReply(encryptReply(nodeCrypto, serviceKey!, randomBytes(16), Buffer.from(JSON.stringify(reply)))));
  }

  function register(res: ServerResponse, body: Buffer): void {
    if (throttle.count > 0) {
      throttle.count--;
      emit("register-throttled", `retry after ${throttle.seconds} s`);
      return send(res, 429, { error: "too many requests" }, { "Retry-After": String(throttle.seconds) });
    }
    let serial: unknown;
    try {
      serial = (JSON.parse(body.toString("utf8")) as { serial?: unknown }).serial;
    } catch {
      return send(res, 400, { error: "body must be JSON" });
    }
    if (typeof serial !== "string" || !/^[0-9A-Za-z]{1,64}$/.test(serial)) return send(res, 400, { error: "serial must be a string" });
    if (!state.data.serials.includes(serial)) {
      emit("register-unknown", serial);
      return send(res, 401, { error: "unknown serial" });
    }
    const existing = state.data.devices.find((d) => d.serial === serial);
    if (existing && !existing.enabled) return send(res, 423, { error: "device disabled" });
    // Re-registering (e.g. after a factory reset) issues a fresh key; the old one stops working.
    if (existing) state.revoke(existing.username);
    const deviceId = existing?.deviceId ?? newObjectId();
    const key = newId();
    const secret = newSecret(24);
    state.data.devices = state.data.devices.filter((d) => d.serial !== serial);
    state.data.devices.push({ serial, deviceId, username: key, enabled: true, registeredAt: new Date().toISOString() });
    state.issue({ username: key, password: secret, clientId: deviceId, topics: [`devices/${deviceId}`], owner: `register:${serial}`, commandTopic: `devices/${deviceId}/cmd` });
    state.save();
    emit("registered", `${serial} → ${deviceId}${existing ? " (re-registered: old key revoked)" : ""}`);
    // Answer once the broker knows the new key, so the device's first CONNECT cannot race it.
    void changed(...(existing ? [existing.username] : []), key).then(() => send(res, 201, { deviceId, key, secret }));
  }

  function admin(req: IncomingMessage, res: ServerResponse, path: string, body: Buffer): void {
    if (req.headers.authorization !== `Bearer ${adminToken}`) return send(res, 401, { error: "admin token required" });
    let json: Record<string, unknown> = {};
    if (body.length > 0) {
      try {
        json = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
      } catch {
        return send(res, 400, { error: "body must be JSON" });
      }
    }
    if (path === "/admin/devices" && req.method === "GET") return send(res, 200, cloud.listDevices());
    if (path === "/admin/configs" && req.method === "POST") {
      if (typeof json.externalId !== "string" || typeof json.externalKey !== "string") return send(res, 400, { error: "externalId and externalKey required" });
      const c = cloud.addBootstrapConfig({ externalId: json.externalId, externalKey: json.externalKey, ...(typeof json.content === "string" ? { content: json.content } : {}) });
      return send(res, 201, { thingId: c.thingId, channels: c.channels.map((ch) => ch.id) });
    }
    if (path === "/admin/serials" && req.method === "POST") {
      if (!Array.isArray(json.serials) || !json.serials.every((s) => typeof s === "string")) return send(res, 400, { error: "serials must be an array of strings" });
      cloud.allowSerials(json.serials as string[]);
      return send(res, 204, undefined);
    }
    const rot = /^\/admin\/devices\/([^/]+)\/rotate$/.exec(path);
    if (rot && req.method === "POST") {
      cloud.rotate(decodeURIComponent(rot[1]!)).then((r) => send(res, 200, r), (e: unknown) => send(res, 404, { error: e instanceof Error ? e.message : "no such device" }));
      return;
    }
    const op = /^\/admin\/devices\/([^/]+)\/(enable|disable|revoke)$/.exec(path);
    if (op && req.method === "POST") {
      const device = decodeURIComponent(op[1]!);
      const found = op[2] === "revoke" ? cloud.revoke(device) : cloud.setEnabled(device, op[2] === "enable");
      return send(res, found ? 204 : 404, found ? undefined : { error: "no such device" });
    }
    send(res, 404, { error: "not found" });
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.httpPort ?? 0, "127.0.0.1", () => { server.off("error", reject); resolve(); });
  });
  const address = server.address();
  if (!address || typeof address !== "object") throw new Error("cloud: no address");
  (cloud as { httpUrl: string }).httpUrl = `https://localhost:${address.port}`;
  return cloud;
}

function versionOf(generation: Generation): BootstrapVersion {
  return generation === "client-v0.30" ? "magistrala-0.30" : LEGACY_VERSION[generation];
}

/** The rate limit's client key of a registration: its serial, if the body has one. */
function limitKey(body: Buffer): string | undefined {
  try {
    const serial = (JSON.parse(body.toString("utf8")) as { serial?: unknown }).serial;
    return typeof serial === "string" ? serial : undefined;
  } catch {
    return undefined;
  }
}

function sendWire(res: ServerResponse, reply: WireReply): void {
  res.writeHead(reply.status, reply.headers);
  res.end(reply.body);
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": String(payload.length), ...headers });
  res.end(payload);
}
