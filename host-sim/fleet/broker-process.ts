// The embedded broker in its own process for the fleet run, so the broker's TLS handshakes use
// the second core and its figures (CONNECT rate it sees, refusals) come from the broker side.
// Parent → child: argv[2] = JSON BrokerProcessConfig (PEMs, users, rate limit).
// Child → parent: { type: "ready", port }, then { type: "stats", … } every 250 ms.
import { startEmbeddedBroker, type EmbeddedPki } from "../broker/embedded.js";

export interface BrokerProcessConfig {
  readonly pki: EmbeddedPki;
  readonly users: Record<string, string>;
  readonly maxConnectsPerSecond?: number;
}

export interface BrokerStats {
  readonly type: "stats";
  /** CONNECT packets seen. */
  readonly connects: number;
  /** Highest CONNECTs seen in any one-second window. */
  readonly peakConnectRate: number;
  /** CONNECTs refused with CONNACK 3 by the rate limit. */
  readonly rateLimited: number;
  /** Highest number of clients admitted (CONNACK 0) in any one-second window. */
  readonly peakAdmittedRate: number;
  readonly clientsConnected: number;
  readonly tlsErrors: number;
  readonly rssBytes: number;
}

export type BrokerMessage = { readonly type: "ready"; readonly port: number } | BrokerStats;

const config = JSON.parse(process.argv[2]!) as BrokerProcessConfig;
const broker = await startEmbeddedBroker({
  pki: config.pki, users: config.users,
  ...(config.maxConnectsPerSecond !== undefined ? { maxConnectsPerSecond: config.maxConnectsPerSecond } : {}),
});
const stats = { connects: 0, peakConnectRate: 0, rateLimited: 0, peakAdmittedRate: 0, clientsConnected: 0, tlsErrors: 0 };
broker.events.on("connectAttempt", (a) => {
  stats.connects = a.total;
  stats.peakConnectRate = Math.max(stats.peakConnectRate, a.lastSecond);
});
broker.events.on("rateLimited", () => { stats.rateLimited++; });
const admitted: number[] = [];
broker.events.on("clientConnected", () => {
  stats.clientsConnected++;
  const now = Date.now();
  admitted.push(now);
  while (admitted[0]! <= now - 1000) admitted.shift();
  stats.peakAdmittedRate = Math.max(stats.peakAdmittedRate, admitted.length);
});
broker.events.on("tlsError", () => { stats.tlsErrors++; });
const send = (m: BrokerMessage) => { if (process.connected) process.send!(m); };
send({ type: "ready", port: broker.port });
const reporter = setInterval(() => send({ type: "stats", ...stats, rssBytes: process.memoryUsage().rss }), 250);
process.on("disconnect", () => {
  clearInterval(reporter);
  void broker.close().finally(() => process.exit(0));
});
