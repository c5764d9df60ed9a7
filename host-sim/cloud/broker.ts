// The reference cloud's MQTT broker: aedes over TLS whose auth hooks ask the cloud's state, so a
// credential the cloud revokes or disables stops working at once (live sessions are cut too).
// Shared accounts get MyQttHub's rule: a unique client ID per unit, refused (CONNACK 2) when
// another connected unit or a registered device already uses it.
import { Aedes, type AuthenticateError, type Client } from "aedes";
import { createHash, timingSafeEqual } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { createServer, type Server } from "node:tls";
import type { CloudState } from "./state.js";

export interface CloudBrokerEvents {
  connected: [{ clientId: string; username: string | undefined }];
  refused: [{ clientId: string; username: string | undefined; returnCode: 2 | 4 | 5; why: string }];
  published: [{ clientId: string; topic: string; payload: Buffer }];
  denied: [{ clientId: string; topic: string; action: "publish" | "subscribe" }];
  disconnected: [{ clientId: string }];
}

export interface CloudBroker {
  readonly port: number;
  readonly events: EventEmitter<CloudBrokerEvents>;
  /** Cut every live session logged in as `username`. */
  kick(username: string): void;
  /**
   * Disabled the way Magistrala's MQTT adapter (or aedes with a failing authorizePublish) treats
   * it: CONNECT is still accepted, but any SUBSCRIBE or PUBLISH drops the connection. Off again with `false`.
   */
  refusePublishes(usernames: readonly string[], refuse: boolean): void;
  /** Publish from the cloud itself (commands, rotations). */
  publish(topic: string, payload: string, retain?: boolean): Promise<void>;
  close(): Promise<void>;
}

function same(given: Buffer | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const h = (b: Buffer) => createHash("sha256").update(b).digest();
  return timingSafeEqual(h(given), h(Buffer.from(expected, "utf8")));
}

const refuse = (returnCode: 2 | 4 | 5, message: string): AuthenticateError => Object.assign(new Error(message), { returnCode }) as AuthenticateError;

export async function startCloudBroker(state: CloudState, tls: { key: string; cert: string; ca: string }, port = 0): Promise<CloudBroker> {
  const events = new EventEmitter<CloudBrokerEvents>();
  const logins = new Map<Client, { username: string; topics: string[]; shared: boolean }>();
  const live = new Map<string, Client>(); // client ID → session
  const publishRefused = new Set<string>(); // usernames: connect yes, publish no

  const MAPPING_TOPIC = /^node\/[^/+#]+\/user\/mapping$/;
  const allowed = (client: Client | null, topic: string): boolean => {
    if (!client) return true; // the broker itself (wills are checked when they are set)
    const login = logins.get(client);
    if (!login) return false;
    if (login.shared) {
      if (!state.data.shared.some((s) => s.username === login.username)) return false;
    } else {
      const cred = state.credential(login.username);
      if (!cred || !cred.enabled) return false;
    }
    return login.topics.some((p) => topic === p || topic.startsWith(p.endsWith("/") ? p : `${p}/`));
  };

  const broker = await Aedes.createBroker({
    authenticate(client, username, password, done) {
      const fail = (code: 2 | 4 | 5, why: string) => {
        events.emit("refused", { clientId: client.id, username, returnCode: code, why });
        done(refuse(code, why), false);
      };
      if (username === undefined) return fail(5, "no username");
      const shared = state.data.shared.find((s) => s.username === username);
      if (shared) {
        if (!same(password, shared.password)) return fail(4, "bad shared password");
        if (!new RegExp(shared.clientIdPattern).test(client.id)) return fail(2, "client ID not allowed for this account");
        // A client ID held by a live session, or pinned by another service's credential, is taken. One
        // registered through the shared login itself ("shared:<id>") stays usable while that unit is
        // offline, so it can register again after a factory reset; the cloud then checks its key.
        const taken = live.has(client.id) || state.data.credentials.some((c) => c.clientId === client.id && c.owner !== `shared:${client.id}`);
        if (taken) return fail(2, "client ID already in use");
        logins.set(client, { username, topics: [`devices/${client.id}`, `register/${client.id}`], shared: true });
        return done(null, true);
      }
      const cred = state.credential(username);
      if (!cred) return fail(5, "unknown or revoked credential");
      if (!same(password, cred.password)) return fail(4, "bad password");
      if (!cred.enabled && !publishRefused.has(username)) return fail(5, "device disabled");
      if (cred.clientId !== undefined && cred.clientId !== client.id) return fail(2, "client ID does not match the credential");
      logins.set(client, { username, topics: cred.topics, shared: false });
      done(null, true);
    },
    authorizePublish(client, packet, callback) {
      const login = client ? logins.get(client) : undefined;
      if (login && publishRefused.has(login.username)) {
        events.emit("denied", { clientId: client!.id, topic: packet.topic, action: "publish" });
        return callback(new Error("device disabled: publish refused")); // aedes drops the connection
      }
      // Only the cloud answers registrations: a shared session may not publish a reply (issue 14 H3).
      const replyForgery = login?.shared === true && /^register\/[^/]+\/reply$/.test(packet.topic);
      if (!replyForgery && allowed(client, packet.topic)) return callback(null);
      // RainMaker's user-mapping half: any logged-in device may publish to node/<node ID>/user/mapping
      // (its node ID is not its MQTT identity); the mapping service checks the secret key itself.
      if (client && logins.has(client) && MAPPING_TOPIC.test(packet.topic)) return callback(null);
      if (client) events.emit("denied", { clientId: client.id, topic: packet.topic, action: "publish" });
      callback(new Error("publish not authorized"));
    },
    authorizeSubscribe(client, sub, callback) {
      const login = client ? logins.get(client) : undefined;
      // Only a SUBSCRIBE the device sent: aedes also authorises a persistent session's subscriptions
      // while it restores them, before CONNACK, and Magistrala accepts the CONNECT of a deactivated thing.
      if (login && publishRefused.has(login.username) && (client as { connackSent?: boolean }).connackSent) {
        // Magistrala's MQTT adapter drops a deactivated thing at SUBSCRIBE too (not a SUBACK 0x80).
        events.emit("denied", { clientId: client.id, topic: sub.topic, action: "subscribe" });
        return callback(new Error("device disabled: subscribe refused"), null);
      }
      if (allowed(client, sub.topic)) return callback(null, sub);
      events.emit("denied", { clientId: client.id, topic: sub.topic, action: "subscribe" });
      callback(null, null); // SUBACK 0x80
    },
  });
  broker.on("clientReady", (client) => {
    live.set(client.id, client);
    events.emit("connected", { clientId: client.id, username: logins.get(client)?.username });
  });
  broker.on("clientDisconnect", (client) => {
    if (live.get(client.id) === client) live.delete(client.id);
    logins.delete(client);
    events.emit("disconnected", { clientId: client.id });
  });
  broker.on("publish", (packet, client) => {
    if (client) events.emit("published", { clientId: client.id, topic: packet.topic, payload: Buffer.from(packet.payload) });
  });

  const server: Server = createServer({ key: tls.key, cert: tls.cert, ca: tls.ca, minVersion: "TLSv1.2" }, (s) => broker.handle(s));
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => { sockets.add(s); s.once("close", () => sockets.delete(s)); });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => { server.off("error", reject); resolve(); });
  });
  const address = server.address();
  if (!address || typeof address !== "object") throw new Error("cloud broker: no address");

  return {
    port: address.port,
    events,
    kick(username) {
      for (const [client, login] of logins) if (login.username === username) client.close();
    },
    refusePublishes(usernames, refuse) {
      for (const u of usernames) {
        if (refuse) publishRefused.add(u);
        else publishRefused.delete(u);
      }
    },
    publish(topic, payload, retain = false) {
      return new Promise((resolve, reject) => {
        broker.publish({ cmd: "publish", topic, payload: Buffer.from(payload), qos: 1, retain, dup: false }, (err) => (err ? reject(err) : resolve()));
      });
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
