// Fake of the SDK's HTTP server: the `Server` of "http" (modules/network/http/http.js, 8.2.3). It
// follows the order in which that file's server() calls the app's callback, with the connection's
// Request as `this`: 1 connection (from the Listener's callback), 2 status (path, method), 3 each
// header (lower-case name, trimmed value), 4 headers complete (ArrayBuffer = give me the body,
// false = discard it), 6 request complete (the body; undefined when it was discarded), 8 prepare
// response, 10 response complete; -1 on error. Its rules, enforced here:
//   - the body is read only when Content-Length parses (parseInt) to a non-zero number;
//   - an exception from the callback (inside server()'s try) makes it call the callback with -1
//     inside try/finally; an exception there, from 10 (try/finally too) or from 1 (the Listener's
//     callback, unguarded) escapes into the SDK: recorded in `httpWorld.aborts` (fxAbort on the board);
//   - every response says `connection: close` and the connection is closed after it;
//   - a Request closed by the app gets no further callback (close() deletes its callback).
import { onReset } from "./world.js";

type Callback = (this: Request, message: number, a?: unknown, b?: unknown) => unknown;

export class Request {
  socket: object | undefined = {};
  callback: Callback | undefined;
  server: Server | undefined;
  state = 1;
  closedByApp = false;
  close(): void {
    this.closedByApp = this.state !== 10 && this.state !== 11;
    this.socket = undefined;
    this.callback = undefined;
    this.server = undefined;
    this.state = 11;
  }
}

export class Server {
  static readonly connection = 1;
  static readonly status = 2;
  static readonly header = 3;
  static readonly headersComplete = 4;
  static readonly requestFragment = 5;
  static readonly requestComplete = 6;
  static readonly prepareResponse = 8;
  static readonly responseFragment = 9;
  static readonly responseComplete = 10;
  static readonly error = -1;

  connections: Request[] = [];
  callback: Callback | undefined;
  readonly port: number;
  listening = true;

  constructor(options: { port?: number } = {}) {
    this.port = options.port ?? 80;
    if (httpWorld.portsInUse.has(this.port)) throw new Error("listen failed"); // the Listener's constructor
    httpWorld.servers.push(this);
  }

  close(): void {
    for (const r of this.connections) r.close();
    this.connections = [];
    this.listening = false;
  }
}

export interface FakeResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

export const httpWorld = {
  servers: [] as Server[],
  portsInUse: new Set<number>(),
  aborts: [] as string[],
};
onReset.push(() => {
  httpWorld.servers.length = 0;
  httpWorld.portsInUse.clear();
  httpWorld.aborts.length = 0;
});

function done(server: Server, r: Request): void {
  const at = server.connections.indexOf(r);
  if (at >= 0) server.connections.splice(at, 1);
  r.close();
}

/** A client connects (the Listener's callback). */
export function connect(server: Server): Request {
  if (!server.listening) throw new Error("connection refused");
  const r = new Request();
  r.server = server;
  r.callback = server.callback;
  server.connections.push(r);
  try {
    r.callback?.call(r, Server.connection);
  } catch (e) {
    httpWorld.aborts.push(`connection: ${e instanceof Error ? e.message : String(e)}`);
  }
  return r;
}

/** server()'s catch: the error message, then the connection is gone. */
function failed(server: Server, r: Request): undefined {
  try {
    r.callback?.call(r, r.state === 10 ? Server.responseComplete : Server.error);
  } catch (e) {
    httpWorld.aborts.push(`error: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    done(server, r);
  }
  return undefined;
}

/** Status line and headers; the body is sent by `body()` (so a test can stop in between). */
export function head(r: Request, method: string, path: string, headers: readonly (readonly [string, string])[]): { total: number | undefined; wants: unknown } | undefined {
  const server = r.server;
  if (server === undefined || r.socket === undefined) return undefined;
  try {
    r.callback?.call(r, Server.status, path, method);
    if (r.socket === undefined) return undefined;
    let total: number | undefined;
    r.state = 2;
    for (const [name, value] of headers) {
      const n = name.trim().toLowerCase();
      const v = value.trim();
      if (n === "content-length") {
        const length = parseInt(v);
        if (length) total = length;
      }
      if (n === "transfer-encoding" && v.toLowerCase() === "chunked") throw new Error("chunked request body not implemented");
      r.callback?.call(r, Server.header, n, v);
    }
    const wants = r.callback?.call(r, Server.headersComplete);
    r.state = total === undefined ? 7 : 5;
    return { total, wants };
  } catch {
    return failed(server, r);
  }
}

/** The body (when the head announced one), then the response as the SDK would write it. */
export function finish(r: Request, headInfo: { total: number | undefined; wants: unknown }, body: Uint8Array): FakeResponse | undefined {
  const server = r.server;
  if (server === undefined || r.socket === undefined) return undefined;
  try {
    if (headInfo.total !== undefined) {
      const bytes = body.slice(0, headInfo.total);
      if (bytes.length < headInfo.total) return undefined; // the client stalls: nothing more happens
      const data = headInfo.wants === ArrayBuffer ? bytes.buffer : undefined;
      r.state = 7;
      r.callback?.call(r, Server.requestComplete, data);
      if (r.socket === undefined) return undefined;
    }
    const response = r.callback?.call(r, Server.prepareResponse) as { status?: number; headers?: string[]; body?: unknown } | undefined;
    const headers: Record<string, string> = { connection: "close" };
    for (let i = 0; response?.headers && i < response.headers.length; i += 2) headers[response.headers[i]!.toLowerCase()] = String(response.headers[i + 1]);
    let out = new Uint8Array(0);
    const b = response?.body;
    if (typeof b === "string") out = new Uint8Array([...b].map((c) => c.charCodeAt(0) & 0xff));
    else if (b instanceof ArrayBuffer) out = new Uint8Array(b.slice(0));
    else if (b !== undefined) throw new Error("fake: only string and ArrayBuffer bodies are modelled");
    r.state = 10;
    try {
      r.callback?.call(r, Server.responseComplete);
    } catch (e) {
      httpWorld.aborts.push(`responseComplete: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      done(server, r);
    }
    return { status: response?.status ?? 200, headers, body: out };
  } catch {
    return failed(server, r);
  }
}

/** One whole request on a new connection (every connection carries one: the server closes it after the response). */
export function post(server: Server, path: string, body: Uint8Array, extra: readonly (readonly [string, string])[] = [], method = "POST"): FakeResponse | undefined {
  const r = connect(server);
  const h = head(r, method, path, [["Content-Type", "application/x-www-form-urlencoded"], ["Content-Length", String(body.length)], ...extra]);
  return h === undefined ? undefined : finish(r, h, body);
}
