// The reference cloud in its own process for `npm run fleet -- --via cloud`: HTTPS registration
// (and bootstrap) behind a server-side rate limit (429 + Retry-After), and the cloud's broker over
// TLS that enforces the issued credentials. Runs on the second core; its figures come from here.
// Parent → child: argv[2] = path of a JSON CloudProcessConfig (10,000 serials do not fit in argv).
// Child → parent: { type: "ready", … }, then { type: "stats", … } every 250 ms.
import { readFileSync } from "node:fs";
import { startCloud } from "../cloud/cloud.js";
import { PeakRate, RateLimit, type RateLimitStats } from "../cloud/rate-limit.js";

export interface CloudProcessConfig {
  readonly tls: { readonly key: string; readonly cert: string; readonly ca: string };
  /** Serials allowed to register (the devices' MACs as 12 hex digits). */
  readonly serials: readonly string[];
  /** Onboarding requests admitted per second; absent = no limit. */
  readonly perSecond?: number;
}

export interface CloudStats extends Partial<RateLimitStats> {
  readonly type: "stats";
  readonly connects: number;
  readonly refusedConnects: number;
  /** Most CONNECTs (accepted or refused) the broker saw in any one-second window. */
  readonly peakConnectRate: number;
  readonly registered: number;
  readonly rssBytes: number;
}

export type CloudMessage = { readonly type: "ready"; readonly httpUrl: string; readonly brokerUrl: string } | CloudStats;

const config = JSON.parse(readFileSync(process.argv[2]!, "utf8")) as CloudProcessConfig;
const limit = config.perSecond !== undefined ? new RateLimit({ perSecond: config.perSecond }) : undefined;
const cloud = await startCloud({ tls: config.tls, ...(limit ? { onboardingLimit: limit } : {}) });
cloud.allowSerials(config.serials);
const connectRate = new PeakRate();
const counts = { connects: 0, refusedConnects: 0, registered: 0 };
cloud.broker.events.on("connected", () => { counts.connects++; connectRate.hit(performance.now()); });
cloud.broker.events.on("refused", () => { counts.connects++; counts.refusedConnects++; connectRate.hit(performance.now()); });
cloud.onEvent((e) => { if (e.what === "registered") counts.registered++; });
const send = (m: CloudMessage) => { if (process.connected) process.send!(m); };
send({ type: "ready", httpUrl: cloud.httpUrl, brokerUrl: cloud.brokerUrl });
const reporter = setInterval(() => send({
  type: "stats", ...counts, peakConnectRate: connectRate.peak, ...(limit ? limit.stats : {}), rssBytes: process.memoryUsage().rss,
}), 250);
process.on("disconnect", () => {
  clearInterval(reporter);
  void cloud.close().finally(() => process.exit(0));
});
