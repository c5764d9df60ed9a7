// "hub": ask a base station on the LAN, and wait while a person on its page decides
// (PROTOCOL.md). One obtain() is one stretch of a pairing run: find the hub, ask, poll until
// released, denied or approvalTimeoutMs. The run (nonce, pinned key, hub address) outlives a
// transient failure, so a retry by the chain shows the person the same pairing code.
import { fromHex, fromUtf8, toHex } from "../../bytes/bytes.js";
import type { HubConfig } from "../../config/factory-config.js";
import { HttpError, type HttpResponse } from "../../http/codec.js";
import { httpFetch } from "../../http/client.js";
import { signFor } from "../../identity/signing.js";
import type { MqttCredentials, StrategyStateValue } from "../../storage/credential-record.js";
import { fail, macDigits, type OnboardingContext, type Strategy, type StrategyResult } from "../strategy.js";
import { discoverHub, type HubLocation } from "./discovery.js";
import { EMONCMS_MAX_REPLY, EmoncmsReplyError, parseEmoncmsReply } from "./emoncms-reply.js";
import { decodePairReply, encodePairRequest, MAX_REPLY_BYTES, PAIR_PATH, PairReplyError, type ReleasedMqtt } from "./pair.js";
import { pairingCode } from "./pairing-code.js";
import { KeyProbeError, probeServerKey } from "./tofu.js";

const EMONCMS_PATH = "/emoncms/device/auth/request.json";

/** Keys this strategy keeps in the credential record's strategy state. */
export interface HubState {
  readonly mode: "secure" | "emoncms";
  readonly hubAddress: string;
  readonly hubPort: number;
  /** Secure mode: the pinned hub key, 64 lower-case hex digits. */
  readonly hubKey?: string;
}

interface Run {
  readonly nonce: Uint8Array;
  readonly deadline: number;
  hub: HubLocation | undefined;
  pin: Uint8Array | undefined;
  shownCode: string | undefined;
}

/** One poll's outcome: go on polling, look for the hub again, or end this obtain(). */
type Poll =
  | { readonly next: "wait"; readonly ms: number }
  | { readonly next: "rediscover"; readonly detail: string }
  | { readonly next: "done"; readonly result: StrategyResult; readonly endRun: boolean };

/** The hub's state from a record written by this strategy; undefined when absent or not ours. */
function storedHubState(ctx: Pick<OnboardingContext, "record">): Partial<HubState> {
  const s = ctx.record.strategy;
  if (s?.name !== "hub") return {};
  const v = s.state;
  const out: { -readonly [K in keyof HubState]?: HubState[K] } = {};
  if (typeof v.hubKey === "string" && /^[0-9a-f]{64}$/.test(v.hubKey)) out.hubKey = v.hubKey;
  if (typeof v.hubAddress === "string" && /^[0-9A-Za-z.-]{1,253}$/.test(v.hubAddress)) out.hubAddress = v.hubAddress;
  if (typeof v.hubPort === "number" && Number.isInteger(v.hubPort) && v.hubPort > 0 && v.hubPort < 65536) out.hubPort = v.hubPort;
  if (v.mode === "secure" || v.mode === "emoncms") out.mode = v.mode;
  return out;
}

/** "ESP32-" + the MAC's last 6 hex digits (the node ID's first 6 before Wi-Fi has started). */
function displayName(config: HubConfig, ctx: Pick<OnboardingContext, "mac" | "nodeId">): string {
  return config.namePrefix + (macDigits(ctx.mac)?.slice(-6) ?? ctx.nodeId.slice(0, 6).toUpperCase());
}

function topicsFor(baseTopic: string, nodeId: string): Record<string, string> {
  return { telemetry: `${baseTopic}/${nodeId}/telemetry`, status: `${baseTopic}/${nodeId}/status`, command: `${baseTopic}/${nodeId}/in` };
}

function releasedCredentials(m: ReleasedMqtt, nodeId: string): MqttCredentials {
  return {
    brokerUrl: m.url,
    clientId: m.clientId,
    username: m.username,
    password: m.password,
    ca: m.ca,
    ...(m.serverName !== undefined ? { serverName: m.serverName } : {}),
    topics: topicsFor(m.baseTopic, nodeId),
  };
}

function sleep(ctx: OnboardingContext, ms: number): Promise<void> {
  return new Promise((resolve) => { ctx.io.timers.set(resolve, ms); });
}

export function hubStrategy(config: HubConfig): Strategy {
  let run: Run | undefined;

  const newRun = (ctx: OnboardingContext): Run => {
    const stored = storedHubState(ctx);
    const nonce = new Uint8Array(16);
    ctx.io.random(nonce);
    const remembered: HubLocation | undefined = config.address !== undefined
      ? { address: config.address, port: config.port, via: "fixed" }
      : stored.hubAddress !== undefined && stored.hubPort !== undefined && stored.mode === config.mode
        ? { address: stored.hubAddress, port: stored.hubPort, via: "remembered" }
        : undefined;
    return {
      nonce,
      deadline: ctx.io.clock.now() + config.approvalTimeoutMs,
      hub: remembered,
      // A factory pin always wins (M5); else the key pinned on first use, if any.
      pin: config.mode !== "secure" ? undefined : config.hubKey !== undefined ? fromHex(config.hubKey) : stored.hubKey !== undefined ? fromHex(stored.hubKey) : undefined,
      shownCode: undefined,
    };
  };

  /** A transport failure: look for the hub again (unless its address is fixed). */
  const transport = (detail: string): Poll => ({ next: "rediscover", detail });
  const done = (result: StrategyResult, endRun: boolean): Poll => ({ next: "done", result, endRun });

  async function pollSecure(ctx: OnboardingContext, r: Run, hub: HubLocation): Promise<Poll> {
    if (r.pin === undefined) {
      if (config.trustOnFirstUse !== true) return done(fail("not-applicable", "no hub key pinned and trust on first use is off (factory config hub.hubKey)"), true);
      try {
        r.pin = await probeServerKey(ctx.io, hub.address, hub.port);
        ctx.log.info("hub-key-pinned", { hub: `${hub.address}:${hub.port}`, hubKey: toHex(r.pin) });
      } catch (e) {
        if (e instanceof KeyProbeError && e.code === "unsupported") return done(fail("not-applicable", e.message), true);
        return transport(e instanceof Error ? e.message : "TLS failed");
      }
    }
    const pin = r.pin;
    const code = pairingCode(ctx.io.crypto, pin, ctx.record.identity.publicKey, r.nonce);
    if (r.shownCode !== code) {
      r.shownCode = code;
      // The person compares this with the code on the hub's page.
      ctx.log.info("hub-pairing-code", { code, hub: `${hub.address}:${hub.port}` });
    }
    let body: Uint8Array;
    try {
      body = encodePairRequest({ nodeId: ctx.nodeId, publicKey: ctx.record.identity.publicKey, name: displayName(config, ctx), nonce: r.nonce, hubKey: pin },
        (message) => signFor(ctx.io.crypto, ctx.record.identity, "hub-pair", message));
    } catch (e) {
      return done(fail("not-applicable", e instanceof Error ? e.message : "cannot build the request"), true);
    }
    let response: HttpResponse;
    try {
      response = await httpFetch(ctx.io, `https://${hub.address}:${hub.port}${PAIR_PATH}`, {
        method: "POST", body, headers: { "Content-Type": "application/json" },
        pin: { expected: pin },
        limits: { maxHeaderBytes: 8 * 1024, maxBodyBytes: MAX_REPLY_BYTES },
      });
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      if (e.code === "pin-mismatch") return done(fail("refused", `hub key changed: ${e.message}`), true);
      if (e.code === "pin-unavailable") return done(fail("not-applicable", e.message), true);
      if (e.code === "unreachable" || e.code === "timeout") return transport(e.message);
      return done(fail("malformed-reply", `hub reply: ${e.message}`), false);
    }
    let reply;
    try {
      reply = decodePairReply(response, ctx.io.clock.now());
    } catch (e) {
      if (e instanceof PairReplyError) return done(fail("malformed-reply", `hub reply: ${e.message}`, { status: response.status }), false);
      throw e;
    }
    switch (reply.status) {
      case "pending":
        if (reply.pairingCode !== code) ctx.log.warn("hub-pairing-code-differs", { device: code, hub: reply.pairingCode });
        return { next: "wait", ms: Math.max(reply.pollMs ?? 0, config.pollIntervalMs) };
      case "released": {
        const state: Record<string, StrategyStateValue> = { mode: "secure", hubKey: toHex(pin), hubAddress: hub.address, hubPort: hub.port };
        return done({ ok: true, credentials: { mqtt: releasedCredentials(reply.mqtt, ctx.nodeId), state } }, true);
      }
      case "denied": return done(fail("denied", "a person denied this device on the hub", { status: 403 }), true);
      case "error": return done(fail("refused", `hub refused the request: ${reply.message || "no reason given"}`, { status: 400 }), true);
      case "busy": return done(fail("not-approved", "hub busy", { status: 429, ...(reply.retryAfterMs !== undefined ? { retryAfterMs: reply.retryAfterMs } : {}) }), false);
      case "server-error": return done(fail("unreachable", `hub error ${reply.httpStatus}`, { status: reply.httpStatus }), false);
    }
  }

  async function pollEmoncms(ctx: OnboardingContext, hub: HubLocation): Promise<Poll> {
    let response: HttpResponse;
    try {
      response = await httpFetch(ctx.io, `http://${hub.address}:${hub.port}${EMONCMS_PATH}`, {
        method: "GET", limits: { maxHeaderBytes: 8 * 1024, maxBodyBytes: EMONCMS_MAX_REPLY },
      });
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      if (e.code === "unreachable" || e.code === "timeout") return transport(e.message);
      return done(fail("malformed-reply", `hub reply: ${e.message}`), false);
    }
    if (response.status >= 500) return done(fail("unreachable", `hub error ${response.status}`, { status: response.status }), false);
    if (response.status !== 200) return done(fail("malformed-reply", `unexpected HTTP status ${response.status}`, { status: response.status }), false);
    let reply;
    try {
      reply = parseEmoncmsReply(fromUtf8(response.body));
    } catch (e) {
      if (e instanceof EmoncmsReplyError) return done(fail("malformed-reply", `hub reply: ${e.message}`), false);
      return done(fail("malformed-reply", "hub reply is not UTF-8 text"), false);
    }
    if (reply.status === "pending") return { next: "wait", ms: config.pollIntervalMs };
    const broker = config.broker ?? { port: 8883 };
    const port = reply.port ?? broker.port;
    const mqtt: MqttCredentials = {
      brokerUrl: `mqtts://${hub.address}:${port}`,
      clientId: ctx.nodeId,
      username: reply.username,
      password: reply.password,
      ...(broker.ca !== undefined ? { ca: broker.ca } : {}),
      ...(broker.serverName !== undefined ? { serverName: broker.serverName } : {}),
      topics: topicsFor(reply.baseTopic, ctx.nodeId),
    };
    return done({ ok: true, credentials: { mqtt, state: { mode: "emoncms", hubAddress: hub.address, hubPort: hub.port } } }, true);
  }

  return {
    name: "hub",
    async obtain(ctx: OnboardingContext): Promise<StrategyResult> {
      if (run === undefined || ctx.io.clock.now() >= run.deadline) run = newRun(ctx);
      const r = run;
      let lost = 0;
      for (;;) {
        if (r.hub === undefined) {
          ctx.log.info("hub-discovery", { service: config.service, hostName: config.hostName, udpPort: config.udpPort });
          const found = await discoverHub(ctx.io, config, ctx.log);
          if (!found) return fail("unreachable", "no hub found (DNS-SD, mDNS name, UDP announcement)");
          r.hub = found;
          ctx.log.info("hub-found", { hub: `${found.address}:${found.port}`, via: found.via });
        }
        const hub = r.hub;
        const poll = config.mode === "secure" ? await pollSecure(ctx, r, hub) : await pollEmoncms(ctx, hub);
        if (poll.next === "done") {
          if (poll.endRun) run = undefined;
          return poll.result;
        }
        if (poll.next === "rediscover") {
          ctx.log.warn("hub-lost", { hub: `${hub.address}:${hub.port}`, detail: poll.detail });
          // A hub that stops answering may have moved: look again, once per obtain().
          if (config.address !== undefined || ++lost > 1) return fail("unreachable", poll.detail);
          r.hub = undefined;
          continue;
        }
        lost = 0;
        const left = r.deadline - ctx.io.clock.now();
        if (left <= poll.ms) {
          run = undefined;
          return fail("not-approved", `no decision on the hub within ${config.approvalTimeoutMs} ms`);
        }
        await sleep(ctx, poll.ms);
      }
    },
  };
}
