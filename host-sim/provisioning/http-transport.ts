// Protocomm's HTTP transport ("softap"/httpd), as esp-idf protocomm_httpd.c serves it and esp_prov's
// transport_http.py uses it: `POST /<endpoint-name>` with the raw request bytes as body, the raw
// response bytes back with 200; Content-Length must be 1..4096; the first request of a session gets
// `Set-Cookie: session=<u32>`, later requests carry it back; no cookie = the same TCP socket is the
// same session; anything else starts a new security session. Handler errors → non-200, no body.
// Connections stay open while idle for as long as the window is (clients poll status every 5 s,
// Node's 5 s keep-alive default dropped them); when the service closes (success or window closed)
// every connection is dropped and every later request is refused with 503.
import { randomInt } from "node:crypto";
import { Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { ProtocommTransport } from "../../src/provisioning/client.js";
import { ProtocommError } from "../../src/provisioning/errors.js";
import type { ProvisioningService } from "../../src/provisioning/service.js";

export const HTTP_MAX_BODY = 4096;
/** The longest a blocking scan start is held (an ESP32 all-channel active scan takes ~2–4 s). */
export const BLOCKING_SCAN_MAX_MS = 15_000;

function holdUntil(done: () => boolean, maxMs: number, then: () => void): void {
  const deadline = Date.now() + maxMs;
  const poll = (): void => {
    if (done() || Date.now() >= deadline) then();
    else setTimeout(poll, 10);
  };
  poll();
}

export interface HttpTransportServer {
  readonly host: string;
  readonly port: number;
  readonly server: Server;
  /** Serve a different service (e.g. a re-opened provisioning window) on the same socket. */
  setService(service: ProvisioningService | undefined): void;
  close(): Promise<void>;
}

export async function startHttpTransport(service: ProvisioningService | undefined, options: { host?: string; port?: number } = {}): Promise<HttpTransportServer> {
  let current: ProvisioningService | undefined;
  let sessionId: number | undefined;
  let sessionSocket: Socket | undefined;
  const serve = (s: ProvisioningService | undefined): void => {
    current = s;
    sessionId = undefined;
    // drop the connections when this service closes, unless another one is served by then
    s?.onClose(() => {
      if (current === s) server.closeAllConnections();
    });
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > HTTP_MAX_BODY) tooBig = true;
      else chunks.push(c);
    });
    req.on("end", () => {
      const fail = (code: number, why: string): void => {
        res.writeHead(code, { "Content-Type": "text/plain", Connection: "keep-alive" });
        res.end(why);
      };
      const svc = current;
      if (svc === undefined || svc.closed) {
        res.writeHead(503, { "Content-Type": "text/plain", Connection: "close" });
        res.end("provisioning closed");
        return;
      }
      if (req.method !== "POST") return fail(405, "POST only");
      const endpoint = decodeURIComponent((req.url ?? "/").replace(/^\//, "").split("?")[0]!);
      if (endpoint !== "proto-ver" && endpoint !== "prov-session" && !svc.endpoints.some((e) => e.name === endpoint)) return fail(404, "no such endpoint");
      if (tooBig || size === 0) return fail(400, "Content-Length must be 1..4096");
      const cookie = /(?:^|;\s*)session=(\d+)/.exec(req.headers.cookie ?? "")?.[1];
      const headers: Record<string, string> = { "Content-Type": "application/octet-stream" };
      const sameCookie = cookie !== undefined && sessionId !== undefined && Number(cookie) === sessionId && svc.hasSession(sessionId);
      const sameSocket = cookie === undefined && sessionId !== undefined && sessionSocket === req.socket && svc.hasSession(sessionId);
      if (!sameCookie && !sameSocket) {
        sessionId = randomInt(1, 2 ** 32 - 1);
        sessionSocket = req.socket;
        svc.openSession(sessionId);
        headers["Set-Cookie"] = `session=${sessionId}`;
      }
      try {
        const out = svc.handle(sessionId!, endpoint, new Uint8Array(Buffer.concat(chunks)));
        const send = (): void => {
          if (res.destroyed) return;
          res.writeHead(200, headers);
          res.end(Buffer.from(out));
        };
        // a blocking CmdScanStart is answered once its scan has finished (bounded), as on Espressif's device
        if (endpoint === "prov-scan" && svc.blockingScanPending) holdUntil(() => !svc.blockingScanPending || svc.closed, BLOCKING_SCAN_MAX_MS, send);
        else send();
      } catch (e) {
        if (e instanceof ProtocommError) return e.kind === "closed" ? fail(503, "provisioning closed") : fail(500, "handler error");
        throw e;
      }
    });
  });
  server.maxConnections = 4;
  server.keepAliveTimeout = 0; // no idle limit: the window's own timeout bounds the connection
  serve(service);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    host: options.host ?? "127.0.0.1",
    port,
    server,
    setService: serve,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export class HttpStatusError extends Error {
  override readonly name = "HttpStatusError";
  constructor(readonly status: number, readonly endpoint: string) {
    super(`HTTP ${status} from /${endpoint}`);
  }
}

/** The client half, behaving like esp_prov's transport_http.py (headers, cookie copy, one keep-alive socket). */
export class HttpProtocommTransport implements ProtocommTransport {
  #cookie: string | undefined;
  readonly #agent = new Agent({ keepAlive: true, maxSockets: 1 });
  readonly stats = { requests: 0, bytesSent: 0, bytesReceived: 0 };

  constructor(readonly host: string, readonly port: number) {}

  send(endpoint: string, data: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { "Content-Type": "application/x-www-form-urlencoded", Accept: "text/plain", "Content-Length": data.length };
      if (this.#cookie !== undefined) headers.Cookie = this.#cookie;
      const req = request({ host: this.host, port: this.port, method: "POST", path: `/${endpoint}`, headers, agent: this.#agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const setCookie = res.headers["set-cookie"]?.[0];
          if (setCookie !== undefined) this.#cookie = setCookie.split(";")[0];
          if (res.statusCode !== 200) return reject(new HttpStatusError(res.statusCode ?? 0, endpoint));
          const body = new Uint8Array(Buffer.concat(chunks));
          this.stats.requests++;
          this.stats.bytesSent += data.length;
          this.stats.bytesReceived += body.length;
          resolve(body);
        });
      });
      req.on("error", reject);
      req.end(Buffer.from(data));
    });
  }

  /** Forget the cookie (the next request starts a new session). */
  resetSession(): void {
    this.#cookie = undefined;
  }

  close(): void {
    this.#agent.destroy();
  }
}
