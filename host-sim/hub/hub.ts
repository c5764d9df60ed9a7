// The reference hub (issue #5): a base station on the LAN where a person approves the devices
// that ask to join. One HTTPS server with a self-signed certificate (key kept in the state
// folder, so devices that pinned it accept a restarted hub) serves
//   - the secure pairing API, POST /hub/v1/pair (src/onboarding/hub/PROTOCOL.md §2);
//   - the emoncms device-module endpoints (PROTOCOL.md §3, reference/cloud-protocols.md §4), also
//     on an optional plain-HTTP listener for unmodified EmonESP-style devices;
//   - the operator's web app: login, the list of requests with Allow / Deny / Clear, audit log.
// Discovery: a UDP announcer ("emonpi.local" to port-5005-style targets) and an mDNS responder.
// Credentials: one MQTT login per device, issued through the reference cloud's broker.
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { Socket } from "node:net";
import type { Cloud } from "../cloud/cloud.js";
import { Approvals, type DecisionResult } from "./approvals.js";
import { startAnnouncer, type Announcer } from "./discovery/announcer.js";
import { startMdnsResponder, type MdnsResponder } from "./discovery/mdns.js";
import { BodyTooLarge, peerAddress, readBody, redirect, sendHtml, sendJson, sendText } from "./http-io.js";
import { PairRequestError, pairingCode, parsePairRequest } from "./pairing.js";
import { HubState, type AuditEntry, type HubRequest, type IssuedLogin } from "./state.js";
import { loadOrCreateTlsIdentity } from "./tls-identity.js";
import { devicesPage, loginPage } from "./web/pages.js";
import { Sessions, type Session } from "./web/sessions.js";

export interface HubOptions {
  /** Folder for hub-state.json and the TLS key; a hub restarted on it loses nothing. */
  readonly stateDir: string;
  /** The operator's login on the page (password ≥ 8 characters, kept only as an scrypt hash). */
  readonly password: string;
  readonly user?: string;
  /** Issues the logins (the reference cloud's `issueAccount`) and names the broker. */
  readonly cloud: Pick<Cloud, "issueAccount" | "brokerUrl">;
  /** PEM of the CA that signed the broker's certificate; sent to devices over the pinned channel. */
  readonly brokerCa: string;
  /** Default: cloud.brokerUrl. */
  readonly brokerUrl?: string;
  /** Sent as `server_name` when set. */
  readonly brokerServerName?: string;
  /** Default "emon" (emoncms' default base topic). */
  readonly baseTopic?: string;
  /** Listen address of the HTTPS (and plain HTTP) server; default 127.0.0.1. */
  readonly host?: string;
  /** HTTPS port; default 0 (any free port). */
  readonly port?: number;
  /** Also serve the emoncms endpoints over plain HTTP on this port (0 = any free port). */
  readonly httpPort?: number;
  /** Release window after Allow; default 60 000 ms. */
  readonly windowMs?: number;
  /** `poll_ms` in pending replies; default 10 000 (what emoncms devices use). */
  readonly pollMs?: number;
  /** Undecided requests kept at once (a newcomer beyond it evicts an unallowed one); default 32. */
  readonly maxPending?: number;
  /** Undecided requests from one address before a new node from it gets 429; default 4. */
  readonly maxPendingPerAddress?: number;
  /** A pending request silent this long is dropped; default one hour. */
  readonly pendingTtlMs?: number;
  /** Retry-After of a 429; default 30 s. */
  readonly busyRetryAfterS?: number;
  /** subjectAltName of the self-signed certificate; default localhost, 127.0.0.1, the mDNS host name. */
  readonly tlsNames?: readonly string[];
  /** UDP announcer: "emonpi.local" to each target every intervalMs (default 5000). */
  readonly announce?: { readonly targets: readonly { host: string; port: number }[]; readonly intervalMs?: number };
  /** mDNS responder (legacy unicast). Defaults: 127.0.0.1, port 0, _onboard-hub._tcp.local, "Onboarding Hub", emonpi.local, address 127.0.0.1. */
  readonly mdns?: { readonly host?: string; readonly port?: number; readonly service?: string; readonly instance?: string; readonly hostName?: string; readonly address?: string };
  /** emoncms text style: "2018" (default: "Authentication request registered for IP …") or "2017" ("request registered"); sendPort adds the broker port as 4th field (default true). */
  readonly emoncms?: { readonly replyStyle?: "2017" | "2018"; readonly sendPort?: boolean };
}

export interface HubRequestEvent {
  readonly key: string;
  readonly dialect: "secure" | "emoncms";
  readonly address: string;
  readonly outcome: "pending" | "release" | "denied" | "busy" | "error";
  readonly status: number;
}

export interface HubEvents {
  request: [HubRequestEvent];
  decision: [{ key: string; action: "allow" | "deny" | "clear"; who: string; ok: boolean }];
  changed: [];
}

export interface Hub {
  /** https://127.0.0.1:<port>: the page (/), the pairing API (/hub/v1/pair), /emoncms/…. */
  readonly url: string;
  readonly port: number;
  /** http://…:<httpPort> when the plain-HTTP emoncms listener is on. */
  readonly httpUrl: string | undefined;
  /** SHA-256 of the certificate's SubjectPublicKeyInfo, 64 hex digits (what devices pin). */
  readonly keyHash: string;
  readonly certPem: string;
  readonly user: string;
  readonly mdns: MdnsResponder | undefined;
  readonly announcer: Announcer | undefined;
  readonly events: EventEmitter<HubEvents>;
  requests(): readonly HubRequest[];
  audit(): readonly AuditEntry[];
  logins(): readonly IssuedLogin[];
  /** The page's Allow / Deny / Clear decision (the form handler calls exactly this). */
  decide(key: string, action: "allow" | "deny" | "clear", who: string): DecisionResult;
  close(): Promise<void>;
}

const PAIR_BODY_LIMIT = 4096;
const FORM_BODY_LIMIT = 8192;
const LOGIN_ATTEMPTS = 5;
const LOGIN_WINDOW_MS = 60_000;

export async function startHub(options: HubOptions): Promise<Hub> {
  const host = options.host ?? "127.0.0.1";
  const user = options.user ?? "admin";
  const baseTopic = options.baseTopic ?? "emon";
  const brokerUrl = options.brokerUrl ?? options.cloud.brokerUrl;
  const pollMs = options.pollMs ?? 10_000;
  const windowMs = options.windowMs ?? 60_000;
  const mdnsHostName = options.mdns?.hostName ?? "emonpi.local";
  const tls = loadOrCreateTlsIdentity(options.stateDir, options.tlsNames ?? ["localhost", "127.0.0.1", mdnsHostName]);
  const state = new HubState(options.stateDir);
  const events = new EventEmitter<HubEvents>();
  const approvals = new Approvals(state, {
    windowMs,
    maxPending: options.maxPending ?? 32,
    maxPendingPerAddress: options.maxPendingPerAddress ?? 4,
    pendingTtlMs: options.pendingTtlMs ?? 60 * 60 * 1000,
    busyRetryAfterS: options.busyRetryAfterS ?? 30,
    now: Date.now,
  }, () => events.emit("changed"));
  const sessions = new Sessions(user, options.password);
  const brokerPort = new URL(brokerUrl).port;

  const decide = (key: string, action: "allow" | "deny" | "clear", who: string): DecisionResult => {
    const r = action === "allow" ? approvals.allow(key, who) : action === "deny" ? approvals.deny(key, who) : approvals.clear(key, who);
    events.emit("decision", { key, action, who, ok: r.ok });
    return r;
  };

  // One login per device, replaced on each release (the old password stops working).
  async function issue(key: string, username: string, clientId: string | undefined, topics: string[], commandTopic?: string): Promise<string> {
    const password = randomBytes(24).toString("base64url"); // no ':' (emoncms' text reply splits on it)
    await options.cloud.issueAccount({ username, password, topics, owner: `hub:${key}`, ...(clientId !== undefined ? { clientId } : {}), ...(commandTopic !== undefined ? { commandTopic } : {}) });
    state.data.logins = state.data.logins.filter((l) => l.username !== username);
    state.data.logins.push({ username, key, topics, issuedAt: Date.now(), ...(clientId !== undefined ? { clientId } : {}) });
    state.save();
    return password;
  }

  // --- secure pairing API -------------------------------------------------------------------
  async function pair(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const address = peerAddress(req);
    const fail = (status: number, message: string) => {
      events.emit("request", { key: "?", dialect: "secure", address, outcome: "error", status });
      sendJson(res, status, { status: "error", message });
    };
    let body: Buffer;
    try {
      body = await readBody(req, PAIR_BODY_LIMIT);
    } catch (e) {
      if (e instanceof BodyTooLarge) return fail(413, e.message);
      throw e;
    }
    if (!/^application\/json\b/i.test(req.headers["content-type"] ?? "")) return fail(400, "Content-Type must be application/json");
    let parsed;
    try {
      parsed = parsePairRequest(body, tls.keyHashHex);
    } catch (e) {
      if (e instanceof PairRequestError) return fail(400, e.message);
      throw e;
    }
    const code = pairingCode(tls.keyHash, parsed.publicKey, parsed.nonce);
    const outcome = approvals.secure(parsed, code, address);
    const seen = (o: HubRequestEvent["outcome"], status: number) => events.emit("request", { key: parsed.nodeId, dialect: "secure", address, outcome: o, status });
    switch (outcome.kind) {
      case "busy":
        seen("busy", 429);
        return sendJson(res, 429, { status: "busy" }, { "Retry-After": String(outcome.retryAfterS) });
      case "denied":
        seen("denied", 403);
        return sendJson(res, 403, { status: "denied" });
      case "pending":
        seen("pending", 202);
        return sendJson(res, 202, { status: "pending", pairing_code: code, poll_ms: pollMs });
      case "release": {
        const nodeId = parsed.nodeId;
        const password = await issue(nodeId, `hub-${nodeId}`, nodeId, [`${baseTopic}/${nodeId}`], `${baseTopic}/${nodeId}/in`);
        seen("release", 200);
        return sendJson(res, 200, {
          status: "released",
          mqtt: {
            url: brokerUrl, client_id: nodeId, username: `hub-${nodeId}`, password, base_topic: baseTopic, ca: options.brokerCa,
            ...(options.brokerServerName !== undefined ? { server_name: options.brokerServerName } : {}),
          },
        });
      }
    }
  }

  // --- emoncms device module ------------------------------------------------------------------
  // emoncms compares addresses after int-casting each dotted part; so do we.
  const emonIp = (a: string) => a.split(".").map((p) => String(parseInt(p, 10) || 0)).join(".");

  async function emoncms(req: IncomingMessage, res: ServerResponse, path: string, secure: boolean): Promise<void> {
    const op = /^\/(?:emoncms\/)?device\/(?:auth\/(request|check|allow)|auth(check|allow))\.json$/.exec(path)!;
    const what = op[1] ?? op[2]!;
    const address = emonIp(peerAddress(req));
    if (what === "request") {
      const outcome = approvals.emoncms(address);
      const key = `ip:${address}`;
      if (outcome.kind === "busy") {
        events.emit("request", { key, dialect: "emoncms", address, outcome: "busy", status: 429 });
        return sendText(res, 429, "too many pending requests", { "Retry-After": String(outcome.retryAfterS) });
      }
      if (outcome.kind === "release") {
        const username = `emoncms-${address.replace(/\./g, "-")}`;
        const password = await issue(key, username, undefined, [baseTopic]);
        events.emit("request", { key, dialect: "emoncms", address, outcome: "release", status: 200 });
        const port = options.emoncms?.sendPort === false || brokerPort === "" ? "" : `:${brokerPort}`;
        return sendText(res, 200, `${username}:${password}:${baseTopic}${port}`);
      }
      // emoncms has no "denied": a denied device just stays registered.
      events.emit("request", { key, dialect: "emoncms", address, outcome: outcome.kind === "denied" ? "denied" : "pending", status: 200 });
      return sendText(res, 200, options.emoncms?.replyStyle === "2017" ? "request registered" : `Authentication request registered for IP ${address}`);
    }
    // check / allow need a logged-in operator (the session cookie is Secure: HTTPS only).
    const session = secure ? sessions.of(req) : undefined;
    if (!session) return sendJson(res, 401, { success: false, message: "Username or password empty or invalid" });
    // allow changes state: POST with the session's CSRF token only (emoncms' own page uses GET;
    // our operator page is the hub's, so that GET is not served). request.json stays GET: the
    // devices of that dialect send it so.
    let allowForm: URLSearchParams | undefined;
    if (what === "allow") {
      if (req.method !== "POST") return sendJson(res, 405, { success: false, message: "allow.json changes state: use POST with the page's csrf token" }, { Allow: "POST" });
      try {
        allowForm = new URLSearchParams((await readBody(req, FORM_BODY_LIMIT)).toString("utf8"));
      } catch (e) {
        if (!(e instanceof BodyTooLarge)) throw e;
        return sendJson(res, 413, { success: false, message: e.message });
      }
      if (!Sessions.csrfOk(session, allowForm.get("csrf"))) return sendJson(res, 403, { success: false, message: "missing or wrong csrf token; nothing was changed" });
    }
    if (what === "check") {
      announcer?.announce(); // emoncms broadcasts on each check when UDP broadcast is enabled
      const newest = [...approvals.list()].filter((r) => r.dialect === "emoncms" && r.status === "pending").sort((a, b) => b.lastSeen - a.lastSeen)[0];
      return sendJson(res, 200, newest ? { success: true, ip: newest.address } : { success: true, message: "No authentication request registered" });
    }
    const ip = allowForm?.get("ip") ?? null;
    if (ip === null || !/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) return sendJson(res, 400, { success: false, message: "ip parameter required (dotted IPv4)" });
    const r = decide(`ip:${emonIp(ip)}`, "allow", session.user);
    return sendJson(res, r.ok ? 200 : 404, r.ok ? { success: true, message: `Authentication request allowed for IP ${emonIp(ip)}` } : { success: false, message: `No authentication request registered for IP ${emonIp(ip)}` });
  }

  // --- the operator's web app ---------------------------------------------------------------
  const nonce = () => randomBytes(16).toString("base64");
  const csp = (n: string) => ({ "Content-Security-Policy": `default-src 'none'; script-src 'nonce-${n}'; style-src 'nonce-${n}'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'` });
  const page = (res: ServerResponse, s: Session, status = 200, error?: string) => {
    const n = nonce();
    sendHtml(res, status, devicesPage(n, { user: s.user, csrf: s.csrf, version: approvals.version, requests: approvals.list(), audit: state.data.audit, now: Date.now(), ...(error !== undefined ? { error } : {}) }), csp(n));
  };
  // Wrong logins per address: more than LOGIN_ATTEMPTS a minute get 429 (guessing the password).
  const failedLogins = new Map<string, number[]>();
  const form = async (req: IncomingMessage, res: ServerResponse): Promise<URLSearchParams | undefined> => {
    try {
      return new URLSearchParams((await readBody(req, FORM_BODY_LIMIT)).toString("utf8"));
    } catch (e) {
      if (!(e instanceof BodyTooLarge)) throw e;
      sendText(res, 413, e.message);
      return undefined;
    }
  };

  async function web(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const method = req.method ?? "GET";
    // Every login form carries a fresh token, also set as a /login-only cookie; the POST must
    // echo it (issue 14 low: no login CSRF, a page elsewhere cannot log this browser in).
    const loginForm = (status: number, error?: string, extra: Record<string, string> = {}) => {
      const n = nonce();
      const t = Sessions.loginToken();
      return sendHtml(res, status, loginPage(n, t.token, error), { ...csp(n), "Set-Cookie": t.cookie, ...extra });
    };
    if (path === "/login" && method === "GET") return loginForm(200);
    if (path === "/login" && method === "POST") {
      const f = await form(req, res);
      if (!f) return;
      const from = peerAddress(req);
      const recent = (failedLogins.get(from) ?? []).filter((t) => Date.now() - t < LOGIN_WINDOW_MS);
      if (recent.length >= LOGIN_ATTEMPTS) return loginForm(429, "Too many wrong logins from this address; wait a minute.", { "Retry-After": "60" });
      if (!Sessions.loginTokenOk(req, f.get("csrf"))) return loginForm(403, "The login form was stale or not from this page; nothing was done. Try again.");
      const s = sessions.login(f.get("username") ?? "", f.get("password") ?? "");
      if (!s) {
        failedLogins.set(from, [...recent, Date.now()]);
        return loginForm(401, "Wrong user name or password.");
      }
      failedLogins.delete(from);
      return redirect(res, "/", { "Set-Cookie": Sessions.setCookie(s) });
    }
    const s = sessions.of(req);
    if (path === "/api/requests" && method === "GET") {
      if (!s) return sendJson(res, 401, { error: "log in first" });
      approvals.sweep();
      return sendJson(res, 200, { version: approvals.version, requests: approvals.list(), audit: state.data.audit });
    }
    if (!s) return method === "GET" && path === "/" ? redirect(res, "/login") : sendText(res, 401, "log in first");
    if (path === "/" && method === "GET") { approvals.sweep(); return page(res, s); }
    if ((path === "/decide" || path === "/logout") && method === "POST") {
      const f = await form(req, res);
      if (!f) return;
      if (!Sessions.csrfOk(s, f.get("csrf"))) return page(res, s, 403, "The form was stale or not from this page; nothing was changed. Try again.");
      if (path === "/logout") { sessions.logout(s); return redirect(res, "/login", { "Set-Cookie": Sessions.clearCookie() }); }
      const action = f.get("action");
      const key = f.get("key") ?? "";
      if (action !== "allow" && action !== "deny" && action !== "clear") return page(res, s, 400, "Unknown action.");
      const r = decide(key, action, s.user);
      return r.ok ? redirect(res, "/") : page(res, s, 409, `Could not ${action} ${key}: ${r.reason}.`);
    }
    sendText(res, 404, "not found");
  }

  const EMONCMS = /^\/(?:emoncms\/)?device\/(?:auth\/(?:request|check|allow)|auth(?:check|allow))\.json$/;
  const route = (secure: boolean) => (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0]!;
    const run = async () => {
      if (EMONCMS.test(path)) return emoncms(req, res, path, secure);
      if (!secure) return sendText(res, 404, "not found (this plain-HTTP listener serves only the emoncms device endpoints)");
      if (path === "/hub/v1/pair") return req.method === "POST" ? pair(req, res) : sendJson(res, 405, { status: "error", message: "use POST" }, { Allow: "POST" });
      return web(req, res, path);
    };
    run().catch(() => {
      if (!res.headersSent) sendJson(res, 500, { status: "error", message: "internal error" });
      else res.destroy();
    });
  };

  const sockets = new Set<Socket>();
  const track = (s: Socket) => { sockets.add(s); s.once("close", () => sockets.delete(s)); };
  const https: HttpsServer = createHttpsServer({ key: tls.keyPem, cert: tls.certPem, minVersion: "TLSv1.2", maxHeaderSize: 8192 }, route(true));
  https.requestTimeout = 15_000;
  https.on("connection", track);
  await listen(https, options.port ?? 0, host);
  const port = (https.address() as { port: number }).port;
  let http: HttpServer | undefined;
  if (options.httpPort !== undefined) {
    http = createHttpServer({ maxHeaderSize: 8192 }, route(false));
    http.requestTimeout = 15_000;
    http.on("connection", track);
    await listen(http, options.httpPort, host);
  }
  const mdns = options.mdns ? await startMdnsResponder({
    host: options.mdns.host ?? "127.0.0.1", port: options.mdns.port ?? 0, service: options.mdns.service ?? "_onboard-hub._tcp.local",
    instance: options.mdns.instance ?? "Onboarding Hub", hostName: mdnsHostName, address: options.mdns.address ?? "127.0.0.1", apiPort: port,
  }) : undefined;
  const announcer = options.announce ? await startAnnouncer(options.announce.targets, options.announce.intervalMs ?? 5000) : undefined;
  const sweeper = setInterval(() => approvals.sweep(), Math.max(50, Math.min(1000, windowMs / 4)));
  sweeper.unref();

  return {
    url: `https://127.0.0.1:${port}`,
    port,
    httpUrl: http ? `http://127.0.0.1:${(http.address() as { port: number }).port}` : undefined,
    keyHash: tls.keyHashHex,
    certPem: tls.certPem,
    user,
    mdns,
    announcer,
    events,
    requests: () => approvals.list(),
    audit: () => state.data.audit,
    logins: () => state.data.logins,
    decide,
    async close() {
      clearInterval(sweeper);
      const closing = [https, ...(http ? [http] : [])].map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      for (const s of sockets) s.destroy();
      await Promise.all(closing);
      await mdns?.close();
      await announcer?.close();
    },
  };
}

function listen(server: HttpServer | HttpsServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => { server.off("error", reject); resolve(); });
  });
}
