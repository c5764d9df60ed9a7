// The thin driver: one HTTP/1.1 exchange over io.network (TLS for https, TCP for http), the
// codec doing all parsing. One request per connection ("Connection: close"): provisioning calls
// are rare, and it keeps the board's heap free between them.
import type { Io, Socket } from "../io/io.js";
import { equalBytes, toHex, utf8 } from "../bytes/bytes.js";
import type { Secret } from "../secrets/secret.js";
import { DEFAULT_HTTP_LIMITS, encodeRequest, HttpError, ResponseParser, type HttpLimits, type HttpResponse } from "./codec.js";
import { parseHttpUrl } from "./url.js";

export interface FetchOptions {
  readonly method?: "GET" | "POST" | "PUT" | "DELETE";
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
  /** JSON body (sets Content-Type). */
  readonly json?: unknown;
  /** Trust anchors (PEM) for https; absent = the platform's root store. */
  readonly ca?: string;
  readonly serverName?: string;
  readonly clientCertificate?: string;
  readonly clientKey?: Secret;
  /**
   * https only: trust the server by its key instead of a CA (TLS trust on first use). The key
   * (SHA-256 of the leaf's SubjectPublicKeyInfo) is checked before any request byte is written:
   * `seen` hears it, and a key other than `expected` (when given) fails with "pin-mismatch".
   */
  readonly pin?: { readonly expected?: Uint8Array; seen?(key: Uint8Array): void };
  /** Whole exchange, connect to last byte. Default 15 s. */
  readonly timeoutMs?: number;
  readonly limits?: HttpLimits;
}

export function httpFetch(io: Io, url: string, options: FetchOptions = {}): Promise<HttpResponse> {
  const target = parseHttpUrl(url);
  const headers: Record<string, string> = { Connection: "close", ...(options.headers ?? {}) };
  let body = options.body;
  if (options.json !== undefined) {
    body = utf8(JSON.stringify(options.json));
    headers["Content-Type"] = "application/json";
  }
  const request = encodeRequest({
    method: options.method ?? (body ? "POST" : "GET"),
    path: target.path,
    host: target.authority,
    headers,
    ...(body ? { body } : {}),
  });
  const parser = new ResponseParser(options.limits ?? DEFAULT_HTTP_LIMITS);

  return new Promise<HttpResponse>((resolve, reject) => {
    let settled = false;
    let socket: Socket | undefined;
    const finish = (error: HttpError | undefined, response?: HttpResponse) => {
      if (settled) return;
      settled = true;
      io.timers.clear(timer);
      socket?.close();
      if (error) reject(error);
      else resolve(response!);
    };
    const timer = io.timers.set(() => finish(new HttpError("timeout", `no complete reply from ${target.host}:${target.port} in time`)), options.timeoutMs ?? 15_000);
    let sent = false;
    const handlers = {
      onWritable: () => {
        if (sent || settled) return;
        if (options.pin && pinRefusal(socket!, options.pin, target.host, target.port, finish)) return;
        sent = true;
        socket!.write(request);
      },
      onReadable: () => {
        if (settled) return;
        const bytes = socket!.read();
        if (!bytes) return;
        try {
          const response = parser.push(bytes);
          if (response) finish(undefined, response);
        } catch (e) {
          finish(e instanceof HttpError ? e : new HttpError("malformed-status", "unparseable reply"));
        }
      },
      onError: (error: { kind: string; message: string }) => {
        if (settled) return;
        if (error.kind === "closed" && sent) {
          try {
            finish(undefined, parser.end());
          } catch (e) {
            finish(e instanceof HttpError ? e : new HttpError("truncated", "reply cut short"));
          }
          return;
        }
        finish(new HttpError("unreachable", `${target.host}:${target.port}: ${error.kind}: ${error.message}`));
      },
    };
    try {
      socket = target.scheme === "https"
        ? io.network.tls({
          host: target.host, port: target.port, ...handlers,
          ...(options.pin ? { trustOnFirstUse: true } : {}),
          ...(options.ca !== undefined ? { ca: options.ca } : {}),
          ...(options.serverName !== undefined ? { serverName: options.serverName } : {}),
          ...(options.clientCertificate !== undefined ? { clientCertificate: options.clientCertificate } : {}),
          ...(options.clientKey !== undefined ? { clientKey: options.clientKey } : {}),
        })
        : options.pin
          ? undefined
          : io.network.tcp({ host: target.host, port: target.port, ...handlers });
      if (!socket) finish(new HttpError("bad-request", "a pinned key needs https"));
    } catch (e) {
      finish(new HttpError("unreachable", `${target.host}:${target.port}: ${e instanceof Error ? e.message : "socket failed"}`));
    }
  });
}

/** True (and the exchange finished) when the server's key must not get our request. */
function pinRefusal(
  socket: Socket,
  pin: NonNullable<FetchOptions["pin"]>,
  host: string,
  port: number,
  finish: (error: HttpError) => void,
): boolean {
  const key = socket.peerKey?.();
  if (key === undefined || key.length !== 32) {
    finish(new HttpError("pin-unavailable", `${host}:${port}: the platform did not report the server's key: cannot pin it`));
    return true;
  }
  pin.seen?.(key);
  if (pin.expected !== undefined && !equalBytes(key, pin.expected)) {
    // Public key hashes, not secrets: both go in the message so a person can compare.
    finish(new HttpError("pin-mismatch", `${host}:${port}: server key ${toHex(key)} is not the pinned ${toHex(pin.expected)}: nothing sent`));
    return true;
  }
  return false;
}
