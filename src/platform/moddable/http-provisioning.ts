// Espressif's second provisioning transport (protocomm over HTTP, "softap"), as esp-idf's
// protocomm_httpd.c serves it and esp_prov's transport_http.py uses it: `POST /<endpoint>` with
// the request bytes as body, the response bytes back with 200; Content-Length 1..4096; the first
// request of a session gets `Set-Cookie: session=<u32>` and later ones carry it back; a request
// without our current cookie starts a new security session (one session at a time). Once the
// window has closed (success, timeout, close) every request gets 503.
//
// On the SDK's HTTP server (modules/network/http/http.js, 8.2.3 — the `http` module, built on
// the `socket` module on lin and esp32 alike). What it does at run time, which this glue is built
// around:
//   - one callback for the server, called with the connection's Request as `this`: 1 connection,
//     2 status (path, method), 3 header (lower-case name, value), 4 headers complete (return
//     ArrayBuffer to get the body whole, false to discard it), 6 request complete (the body),
//     8 prepare response ({status, headers: [name, value, …], body}), 10 response complete,
//     -1 error;
//   - the body is read only when Content-Length parses to a non-zero number;
//   - every response carries `connection: close` and the socket is closed after it: one request
//     per connection, so the host transport's "same socket = same session" rule never applies
//     and clients must send the cookie (esp_prov and our CLI do); no idle connection outlives
//     its request;
//   - the response is written as soon as the request is complete: a blocking CmdScanStart cannot
//     be held, it is answered at once (its bytes do not depend on the scan) and the window's
//     scan refresh gives the phone a finished scan, as on BLE;
//   - an exception in the callback makes server() call it again with -1 inside try/finally: an
//     exception there, or in the 1 (connection) call made from the Listener's callback, escapes
//     into the SDK (fxAbort, a restart on the ESP32). Every call is guarded here.
import { Server, type Request } from "http";
import type { Logger } from "../../log/logger.js";
import { ProtocommError } from "../../provisioning/errors.js";
import type { ProvisioningService } from "../../provisioning/service.js";
import { toArrayBuffer } from "./pem.js";

/** protocomm_httpd.c's limit on a request body. */
export const HTTP_MAX_BODY = 4096;

/** The callback's message numbers (http.js) and the response it returns for 8 (the SDK's typings name neither alike). */
type ServerMessage = -1 | 1 | 2 | 3 | 4 | 5 | 6 | 8 | 9 | 10;
interface ServerResponse { status?: number; headers?: string[]; body: string | ArrayBuffer }

/** The endpoints every service answers besides its declared ones. */
const SESSION_ENDPOINTS = ["proto-ver", "prov-session"];

interface Pending {
  method: string;
  path: string;
  cookie: string | undefined;
  length: number | undefined;
  response: ServerResponse | undefined;
}

export interface HttpProvisioningOptions {
  readonly port: number;
  readonly log: Logger;
  /** Cryptographically strong bytes, for the session cookie. */
  readonly random: (into: Uint8Array) => void;
}

export class BoardHttpProvisioning {
  readonly #o: HttpProvisioningOptions;
  #server: Server | undefined;
  #failed = false;
  #service: ProvisioningService | undefined;
  #session: number | undefined;
  readonly #pending = new Map<Request, Pending>();

  constructor(options: HttpProvisioningOptions) {
    this.#o = options;
  }

  /** True once a window has been served and the listener was made. */
  get listening(): boolean {
    return this.#server !== undefined;
  }

  /**
   * Serve a window's service (the listener is made at the first window and kept for the boot, so
   * a client of a closed window gets 503, not a refused connection). False when the server could
   * not be made (port taken): the window goes on with its other transports.
   */
  serve(service: ProvisioningService): boolean {
    this.#service = service;
    this.#session = undefined;
    service.onClose(() => {
      if (this.#service === service) this.#dropConnections();
    });
    if (this.#server !== undefined) return true;
    if (this.#failed) return false;
    try {
      const server = new Server({ port: this.#o.port });
      const self = this;
      const callback = function (this: Request, message: ServerMessage, a?: unknown, b?: unknown): unknown {
        try {
          return self.#on(this, message, a, b);
        } catch (e) {
          self.#say("error", "http-callback-failed", { message, error: e instanceof Error ? e.message : "unknown" });
          return undefined;
        }
      };
      // The SDK's typings leave out `ArrayBuffer` (the constructor) as an answer to message 4.
      server.callback = callback as unknown as Server["callback"];
      this.#server = server;
      this.#say("info", "http-provisioning-listening", { port: this.#o.port });
      return true;
    } catch (e) {
      this.#failed = true;
      this.#say("error", "http-provisioning-unavailable", { port: this.#o.port, error: e instanceof Error ? e.message : "unknown" });
      return false;
    }
  }

  /** Stop listening (end of the boot's provisioning; tests). */
  close(): void {
    this.#service = undefined;
    this.#pending.clear();
    const server = this.#server;
    this.#server = undefined;
    if (server !== undefined) this.#guard("close", () => server.close());
  }

  #on(request: Request, message: ServerMessage, a: unknown, b: unknown): unknown {
    switch (message) {
      case Server.connection:
        this.#pending.set(request, { method: "", path: "", cookie: undefined, length: undefined, response: undefined });
        return undefined;
      case Server.status: {
        const p = this.#pending.get(request);
        if (p !== undefined) {
          p.path = typeof a === "string" ? a : "";
          p.method = typeof b === "string" ? b : "";
        }
        return undefined;
      }
      case Server.header: {
        const p = this.#pending.get(request);
        if (p === undefined || typeof b !== "string") return undefined;
        if (a === "cookie") p.cookie = b;
        else if (a === "content-length") p.length = /^\d{1,9}$/.test(b.trim()) ? Number(b.trim()) : -1;
        return undefined;
      }
      case Server.headersComplete: {
        const p = this.#pending.get(request);
        if (p === undefined) return false;
        p.response = this.#refusal(p);
        // a refused request's body is discarded by the SDK; an accepted one arrives whole
        return p.response === undefined ? ArrayBuffer : false;
      }
      case Server.requestComplete: {
        const p = this.#pending.get(request);
        if (p !== undefined && p.response === undefined) p.response = this.#answer(p, a instanceof ArrayBuffer ? new Uint8Array(a) : new Uint8Array(0));
        return undefined;
      }
      case Server.prepareResponse: {
        const p = this.#pending.get(request);
        return p?.response ?? text(500, "handler error");
      }
      case Server.responseComplete:
      case Server.error:
        this.#pending.delete(request);
        return undefined;
      default:
        return undefined;
    }
  }

  /** A response for a request refused on its head alone; undefined when its body is wanted. */
  #refusal(p: Pending): ServerResponse | undefined {
    const svc = this.#service;
    if (svc === undefined || svc.closed) return text(503, "provisioning closed");
    if (p.method !== "POST") return text(405, "POST only");
    const endpoint = endpointOf(p.path);
    if (!SESSION_ENDPOINTS.includes(endpoint) && !svc.endpoints.some((e) => e.name === endpoint)) return text(404, "no such endpoint");
    if (p.length === undefined || p.length < 1 || p.length > HTTP_MAX_BODY) return text(400, "Content-Length must be 1..4096");
    return undefined;
  }

  #answer(p: Pending, body: Uint8Array): ServerResponse {
    const svc = this.#service;
    if (svc === undefined || svc.closed) return text(503, "provisioning closed");
    if (body.length !== p.length) return text(400, "body shorter than Content-Length");
    const cookie = /(?:^|;\s*)session=(\d{1,10})(?:;|$)/.exec(p.cookie ?? "")?.[1];
    const headers = ["content-type", "application/octet-stream"];
    let session = this.#session;
    if (cookie === undefined || session === undefined || Number(cookie) !== session || !svc.hasSession(session)) {
      session = this.#newSessionId();
      this.#session = session;
      svc.openSession(session);
      headers.push("set-cookie", `session=${session}`);
    }
    try {
      const out = svc.handle(session, endpointOf(p.path), body);
      return { status: 200, headers, body: toArrayBuffer(out) };
    } catch (e) {
      if (e instanceof ProtocommError) return e.kind === "closed" ? text(503, "provisioning closed") : text(500, "handler error");
      this.#say("error", "http-handler-threw", { error: e instanceof Error ? e.message : "unknown" });
      return text(500, "handler error");
    }
  }

  /**
   * A random u32 (protocomm's session IDs are the socket's fd; ours must not be guessable), at
   * least 0x10000 so that it never names a BLE link of the same window (their IDs count from 1).
   */
  #newSessionId(): number {
    const bytes = new Uint8Array(4);
    for (;;) {
      this.#o.random(bytes);
      const id = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
      if (id >= 0x10000 && id !== this.#session) return id;
    }
  }

  /** The window closed: requests in flight are cut (their phones see the connection drop). */
  #dropConnections(): void {
    this.#session = undefined;
    const server = this.#server as unknown as { connections?: Request[] } | undefined;
    const open = server?.connections;
    if (open === undefined) return;
    for (const request of [...open]) {
      this.#guard("close connection", () => request.close());
      const at = open.indexOf(request);
      if (at >= 0) open.splice(at, 1);
      this.#pending.delete(request);
    }
  }

  #guard(what: string, run: () => void): void {
    try {
      run();
    } catch (e) {
      this.#say("error", "http-callback-failed", { what, error: e instanceof Error ? e.message : "unknown" });
    }
  }

  /** Logging that cannot throw. */
  #say(level: "info" | "error", event: string, fields: Record<string, string | number>): void {
    try {
      this.#o.log[level](event, fields);
    } catch { /* nothing left to tell it to */ }
  }
}

function endpointOf(path: string): string {
  const name = path.startsWith("/") ? path.slice(1) : path;
  const q = name.indexOf("?");
  return q >= 0 ? name.slice(0, q) : name;
}

function text(status: number, body: string): ServerResponse {
  return { status, headers: ["content-type", "text/plain"], body };
}
