// In-process MQTT 3.1.1 broker for the demo: aedes behind node:tls with username/password (and
// optionally client-certificate) authentication, reporting what happens through typed events.
import { Aedes, type AuthenticateError, type Client } from "aedes";
import { createHash, timingSafeEqual } from "node:crypto";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { createServer, TLSSocket, type Server } from "node:tls";

export interface EmbeddedPki {
  caPem: string;
  serverCertPem: string;
  serverKeyPem: string;
}

export interface EmbeddedBrokerOptions {
  pki: EmbeddedPki;
  /** username → password. */
  users?: Record<string, string>;
  /** Default 0: any free port. */
  port?: number;
  host?: string;
  /**
   * "none": no client certificates; "request": ask for one, but a client without a valid one can
   * still log in with a password; "require": the TLS handshake fails without a CA-signed one.
   */
  clientCertificates?: "none" | "request" | "require";
  /** A client with a CA-verified certificate logs in as its CN, no password needed. */
  certificateCnAsUsername?: boolean;
  minTlsVersion?: "TLSv1.2" | "TLSv1.3";
  /**
   * Server-side CONNECT rate limit: beyond this many admitted CONNECTs in the last second, a
   * CONNECT is refused with CONNACK 3 "server unavailable" (clients back off and retry).
   * Default: no limit.
   */
  maxConnectsPerSecond?: number;
}

export interface ConnectAttempt {
  clientId: string;
  username: string | undefined;
  /** CONNECT packets received since start. */
  total: number;
  /** CONNECT packets received in the last second, this one included. */
  lastSecond: number;
}

export interface ClientInfo {
  clientId: string;
  username: string | undefined;
  remoteAddress: string | undefined;
  tlsVersion: string | undefined;
  cipher: string | undefined;
  /** CN of a CA-verified client certificate, if one was presented. */
  certificateCn: string | undefined;
}

export interface AuthFailure {
  clientId: string;
  username: string | undefined;
  /** CONNACK return code sent: 4 bad username or password, 5 not authorized. */
  returnCode: 4 | 5;
}

export interface RateLimited {
  clientId: string;
  /** CONNECTs admitted in the last second when this one was refused. */
  admittedLastSecond: number;
}

export interface PublishedMessage {
  clientId: string;
  topic: string;
  size: number;
  qos: number;
  retain: boolean;
}

export interface TlsFailure {
  message: string;
  code: string | undefined;
  /** Undefined when the peer already hung up (e.g. a client that refused our certificate). */
  remoteAddress: string | undefined;
}

export interface EmbeddedBrokerEvents {
  connectAttempt: [ConnectAttempt];
  clientConnected: [ClientInfo];
  authFailed: [AuthFailure];
  rateLimited: [RateLimited];
  published: [PublishedMessage];
  clientDisconnected: [{ clientId: string; username: string | undefined }];
  tlsError: [TlsFailure];
}

export interface EmbeddedBroker {
  readonly host: string;
  readonly port: number;
  readonly events: EventEmitter<EmbeddedBrokerEvents>;
  /** CONNECTs in the last second. */
  connectRate(): number;
  /** Adds or replaces a user; effective for the next CONNECT. */
  setUser(name: string, password: string): void;
  close(): Promise<void>;
}

/** Counts events in a sliding one-second window. */
class RateCounter {
  private stamps: number[] = [];
  total = 0;

  hit(now = Date.now()): number {
    this.total += 1;
    this.stamps.push(now);
    return this.rate(now);
  }

  rate(now = Date.now()): number {
    while (this.stamps.length > 0 && this.stamps[0]! <= now - 1000) this.stamps.shift();
    return this.stamps.length;
  }
}

// Compare digests so that the time taken does not depend on where the passwords differ.
function samePassword(given: Buffer | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const digest = (b: Buffer) => createHash("sha256").update(b).digest();
  return timingSafeEqual(digest(given), digest(Buffer.from(expected, "utf8")));
}

function tlsSocketOf(client: Client): TLSSocket | undefined {
  return client.conn instanceof TLSSocket ? client.conn : undefined;
}

function verifiedCertificateCn(socket: TLSSocket | undefined): string | undefined {
  if (!socket?.authorized) return undefined;
  const cn = socket.getPeerCertificate().subject?.CN;
  // Node types CN as string | string[] (a subject may repeat it); take the first.
  return Array.isArray(cn) ? cn[0] : cn;
}

function authError(returnCode: 3 | 4 | 5, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const host = options.host ?? "127.0.0.1";
  const users = new Map(Object.entries(options.users ?? {}));
  const certMode = options.clientCertificates ?? "none";
  const events = new EventEmitter<EmbeddedBrokerEvents>();
  const connects = new RateCounter();
  const admitted = new RateCounter();
  const limit = options.maxConnectsPerSecond;
  const usernames = new WeakMap<Client, string | undefined>();

  // aedes 1.x: the constructor no longer starts the broker; createBroker() awaits listen()
  // (persistence setup) for us.
  const broker = await Aedes.createBroker({
    preConnect(client, packet, callback) {
      const lastSecond = connects.hit();
      events.emit("connectAttempt", {
        clientId: packet.clientId,
        username: packet.username,
        total: connects.total,
        lastSecond,
      });
      callback(null, true);
    },

    authenticate(client, username, password, done) {
      // The rate limit comes first: a refused CONNECT says nothing about its credentials.
      if (limit !== undefined) {
        const admittedLastSecond = admitted.rate();
        if (admittedLastSecond >= limit) {
          events.emit("rateLimited", { clientId: client.id, admittedLastSecond });
          return done(authError(3, "server unavailable: CONNECT rate limit"), false);
        }
        admitted.hit();
      }
      const fail = (returnCode: 4 | 5, message: string) => {
        events.emit("authFailed", { clientId: client.id, username, returnCode });
        done(authError(returnCode, message), false);
      };
      const certCn = verifiedCertificateCn(tlsSocketOf(client));
      if (options.certificateCnAsUsername && certCn !== undefined) {
        usernames.set(client, certCn);
        return done(null, true);
      }
      if (username === undefined) return fail(5, "not authorized: no username");
      const expected = users.get(username);
      if (expected === undefined) return fail(5, `not authorized: unknown user ${username}`);
      if (!samePassword(password, expected)) return fail(4, `bad password for ${username}`);
      usernames.set(client, username);
      done(null, true);
    },
  });

  broker.on("clientReady", (client) => {
    const socket = tlsSocketOf(client);
    events.emit("clientConnected", {
      clientId: client.id,
      username: usernames.get(client),
      remoteAddress: socket?.remoteAddress,
      tlsVersion: socket?.getProtocol() ?? undefined,
      cipher: socket?.getCipher()?.name,
      certificateCn: verifiedCertificateCn(socket),
    });
  });
  broker.on("publish", (packet, client) => {
    // client is null for the broker's own messages ($SYS heartbeats, wills).
    if (!client) return;
    const payload = packet.payload;
    events.emit("published", {
      clientId: client.id,
      topic: packet.topic,
      size: typeof payload === "string" ? Buffer.byteLength(payload) : payload.length,
      qos: packet.qos,
      retain: packet.retain,
    });
  });
  broker.on("clientDisconnect", (client) => {
    events.emit("clientDisconnected", { clientId: client.id, username: usernames.get(client) });
  });

  const server: Server = createServer(
    {
      key: options.pki.serverKeyPem,
      cert: options.pki.serverCertPem,
      ca: options.pki.caPem,
      minVersion: options.minTlsVersion ?? "TLSv1.2",
      requestCert: certMode !== "none",
      // "request" lets unverified clients through; authenticate() then ignores their certificate.
      rejectUnauthorized: certMode === "require",
    },
    (socket) => broker.handle(socket),
  );
  server.on("tlsClientError", (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    events.emit("tlsError", { message: err.message, code: err.code, remoteAddress: socket.remoteAddress });
  });

  // Track raw sockets so close() can cut connections that never got as far as aedes.
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (!address || typeof address !== "object") throw new Error("embedded broker: no listening address");

  return {
    host,
    port: address.port,
    events,
    connectRate: () => connects.rate(),
    setUser(name, password) {
      users.set(name, password);
    },
    async close() {
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await serverClosed;
    },
  };
}
