// Mosquitto as the cloud's broker, enforced through its dynamic-security plugin (Debian ships it).
// The cloud keeps one admin MQTT session to the broker and:
//   - mirrors its credential table into dynsec clients: password, pinned client ID, and a role per
//     device whose ACLs cover only that device's own topics; revoke = deleteClient, disable =
//     disableClient (the plugin kicks live sessions of that username at once);
//   - learns who logged in from the broker's own log published on $SYS/broker/log/N ("New client
//     connected … as <id> (…, u'<username>')"), which is how a rotated-in credential's first use
//     retires the old one, and sees client-ID takeovers on $SYS/broker/log/E;
//   - publishes (rotation commands, registration replies) and watches device publishes.
// Shared accounts (one login for a device class) are dynsec clients without roles: their rights
// come from the ACL file's %c patterns, which confine each session to its own client ID's topics
// (dynsec in Mosquitto 2.0 has no %c substitution).
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import mqtt, { type MqttClient } from "mqtt";
import type { MosquittoBroker } from "../broker/mosquitto.js";
import type { CloudState } from "./state.js";

const CONTROL = "$CONTROL/dynamic-security/v1";

/** ACL file for the broker: what users unknown to a dynsec role may do (shared accounts). */
export const SHARED_ACL_PATTERNS = [
  "pattern readwrite devices/%c/#",
  // A shared session publishes its own request and reads its own reply; only the cloud (admin) replies (issue 14 H3).
  "pattern write register/%c/request",
  "pattern read register/%c/reply",
  "pattern write node/+/user/mapping",
  "",
].join("\n");

export interface MosquittoBusEvents {
  connected: [{ clientId: string; username: string | undefined }];
  /** Another CONNECT with the same client ID closed a live session (Mosquitto's takeover). */
  takeover: [{ clientId: string }];
  /** MQTT 3.1.1 does not say who published: clientId is "". */
  published: [{ clientId: string; topic: string; payload: Buffer }];
}

interface Pushed { password: string; clientId: string | undefined; topics: string | undefined; enabled: boolean }

export class DynsecCommandError extends Error {
  readonly code = "dynsec";
}

export class MosquittoDynsec {
  readonly events = new EventEmitter<MosquittoBusEvents>();
  readonly #client: MqttClient;
  readonly #state: CloudState;
  readonly #pushed = new Map<string, Pushed>();
  readonly #waiting = new Map<string, (responses: { command: string; error?: string }[]) => void>();
  #chain: Promise<void> = Promise.resolve();

  private constructor(client: MqttClient, state: CloudState) {
    this.#client = client;
    this.#state = state;
  }

  static async connect(broker: MosquittoBroker, admin: { username: string; password: string }, ca: string, state: CloudState): Promise<MosquittoDynsec> {
    const client = await mqtt.connectAsync(`mqtts://${broker.host}:${broker.port}`, {
      username: admin.username, password: admin.password, ca, rejectUnauthorized: true, reconnectPeriod: 0,
      clientId: `cloud-admin-${randomBytes(4).toString("hex")}`, protocolVersion: 4,
    });
    const bus = new MosquittoDynsec(client, state);
    client.on("message", (topic, payload) => bus.#onMessage(topic, payload));
    await client.subscribeAsync([`${CONTROL}/response`, "$SYS/broker/log/N", "$SYS/broker/log/E", "#"], { qos: 1 });
    return bus;
  }

  #onMessage(topic: string, payload: Buffer): void {
    if (topic === `${CONTROL}/response`) {
      let json: { responses?: { command: string; error?: string; correlationData?: string }[] };
      try {
        json = JSON.parse(payload.toString("utf8")) as typeof json;
      } catch {
        return; // not an answer we can read: the waiting command times out
      }
      const batch = json.responses?.[0]?.correlationData?.split(":")[0];
      const resolve = batch === undefined ? undefined : this.#waiting.get(batch);
      if (resolve && batch !== undefined) {
        this.#waiting.delete(batch);
        resolve(json.responses ?? []);
      }
      return;
    }
    if (topic === "$SYS/broker/log/N") {
      const m = /New client connected from \S+ as (\S+) \(p\d+, c\d+, k\d+(?:, u'(.*)')?\)\.$/.exec(payload.toString("utf8"));
      if (m) this.events.emit("connected", { clientId: m[1]!, username: m[2] });
      return;
    }
    if (topic === "$SYS/broker/log/E") {
      const m = /Client (\S+) already connected, closing old connection\./.exec(payload.toString("utf8"));
      if (m) this.events.emit("takeover", { clientId: m[1]! });
      return;
    }
    if (!topic.startsWith("$")) this.events.emit("published", { clientId: "", topic, payload });
  }

  /** Send dynsec commands in one batch; resolves with the per-command responses. */
  async command(commands: readonly Record<string, unknown>[]): Promise<{ command: string; error?: string }[]> {
    const batch = randomBytes(6).toString("hex");
    let timer: NodeJS.Timeout | undefined;
    const answered = new Promise<{ command: string; error?: string }[]>((resolve, reject) => {
      this.#waiting.set(batch, resolve);
      timer = setTimeout(() => {
        this.#waiting.delete(batch);
        reject(new DynsecCommandError(`dynsec gave no answer to ${commands.map((c) => String(c.command)).join(", ")} within 10 s`));
      }, 10_000);
    });
    try {
      await this.#client.publishAsync(CONTROL, JSON.stringify({ commands: commands.map((c, i) => ({ ...c, correlationData: `${batch}:${i}` })) }), { qos: 1 });
      return await answered;
    } finally {
      clearTimeout(timer);
    }
  }

  async #run(commands: Record<string, unknown>[], tolerated: RegExp = /^$/): Promise<void> {
    if (commands.length === 0) return;
    for (const r of await this.command(commands)) {
      if (r.error && !tolerated.test(r.error)) throw new DynsecCommandError(`dynsec ${r.command}: ${r.error}`);
    }
  }

  /** Push these usernames' current state to the broker (queued: batches never interleave). */
  sync(usernames: readonly string[]): Promise<void> {
    const next = this.#chain.then(async () => {
      for (const name of usernames) await this.#syncOne(name);
    });
    // One failed batch must not wedge every later change.
    this.#chain = next.catch(() => undefined);
    return next;
  }

  settled(): Promise<void> {
    return this.#chain;
  }

  async #syncOne(username: string): Promise<void> {
    const shared = this.#state.data.shared.find((s) => s.username === username);
    const cred = this.#state.credential(username);
    const want: Pushed | undefined = shared
      ? { password: shared.password, clientId: undefined, topics: undefined, enabled: true }
      : cred ? { password: cred.password, clientId: cred.clientId, topics: JSON.stringify(cred.topics), enabled: cred.enabled } : undefined;
    const have = this.#pushed.get(username);
    const role = roleOf(username);
    if (!want) {
      if (!have) return;
      // deleteClient kicks every live session of this username.
      await this.#run([{ command: "deleteClient", username }, ...(have.topics ? [{ command: "deleteRole", rolename: role }] : [])], /not found/i);
      this.#pushed.delete(username);
      return;
    }
    if (!have) {
      const topics = cred && !shared ? cred.topics : undefined;
      await this.#run([
        ...(topics ? [{ command: "createRole", rolename: role, acls: deviceAcls(topics) }] : []),
        {
          command: "createClient", username, password: want.password,
          ...(want.clientId !== undefined ? { clientid: want.clientId } : {}),
          ...(topics ? { roles: [{ rolename: role }] } : {}),
        },
        ...(want.enabled ? [] : [{ command: "disableClient", username }]),
      ]);
      this.#pushed.set(username, want);
      return;
    }
    const commands: Record<string, unknown>[] = [];
    if (have.password !== want.password) commands.push({ command: "setClientPassword", username, password: want.password });
    if (have.clientId !== want.clientId) commands.push({ command: "setClientId", username, ...(want.clientId !== undefined ? { clientid: want.clientId } : {}) });
    if (have.topics !== want.topics && cred) {
      commands.push({ command: "deleteRole", rolename: role }, { command: "createRole", rolename: role, acls: deviceAcls(cred.topics) }, { command: "addClientRole", username, rolename: role });
    }
    if (have.enabled !== want.enabled) commands.push({ command: want.enabled ? "enableClient" : "disableClient", username });
    await this.#run(commands, /not found/i);
    this.#pushed.set(username, want);
  }

  publish(topic: string, payload: string, retain = false): Promise<void> {
    return this.#client.publishAsync(topic, payload, { qos: 1, retain }).then(() => undefined);
  }

  async close(): Promise<void> {
    // Forced: a graceful end waits for in-flight QoS 1 traffic, and with the broker about to go it
    // sometimes never finished, leaving a timer that kept the process alive.
    await this.#client.endAsync(true);
  }
}

const roleOf = (username: string) => `dev:${username}`;

/** A device may publish, receive and subscribe under its own topic prefixes, and send its user-mapping half. */
function deviceAcls(topics: readonly string[]): Record<string, unknown>[] {
  const acls: Record<string, unknown>[] = [];
  for (const t of topics) {
    for (const topic of [t, `${t}/#`]) {
      for (const acltype of ["publishClientSend", "publishClientReceive", "subscribePattern"]) acls.push({ acltype, topic, allow: true });
    }
  }
  acls.push({ acltype: "publishClientSend", topic: "node/+/user/mapping", allow: true });
  return acls;
}
