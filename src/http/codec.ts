// HTTP/1.1 client codec, sans-I/O: a request encoder and an incremental response parser.
// Enough of RFC 9112 for talking to provisioning services: Content-Length and chunked bodies,
// or a body delimited by the connection closing. Every limit is explicit (the board has tens of
// kilobytes of heap) and every malformed reply is a typed HttpError, never a crash.
import { BOARD_LIMITS } from "../config/limits.js";
import { concat, fromUtf8, utf8 } from "../bytes/bytes.js";

export type HttpErrorCode =
  | "bad-request" // our own request is not encodable (CR/LF in a header, …)
  | "malformed-status"
  | "malformed-header"
  | "malformed-chunk"
  | "bad-content-length"
  | "unsupported-encoding"
  | "header-too-large"
  | "body-too-large"
  | "truncated" // the connection ended before the message did
  | "unreachable" // DNS, refused, reset, TLS: the driver's transport failures
  | "timeout"
  | "pin-mismatch" // the server's key is not the pinned one: nothing was sent
  | "pin-unavailable"; // the platform cannot tell the server's key

export class HttpError extends Error {
  constructor(readonly code: HttpErrorCode, message: string) {
    super(message);
  }
}

export interface HttpRequest {
  readonly method: "GET" | "POST" | "PUT" | "DELETE";
  /** Origin-form target: "/things/bootstrap/AA%3ABB". */
  readonly path: string;
  /** Host header value ("host:port"). */
  readonly host: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
}

export interface HttpResponse {
  readonly status: number;
  readonly reason: string;
  /** Lower-case names; repeated fields joined with ", " (RFC 9110 §5.3). */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

export interface HttpLimits {
  /** Status line plus all header lines. */
  readonly maxHeaderBytes: number;
  /** Decoded body. Bootstrap replies carry PEM certificates: several KB. */
  readonly maxBodyBytes: number;
}

/** The board's defaults (config/limits.ts: measured against recorded replies). */
export const DEFAULT_HTTP_LIMITS: HttpLimits = { maxHeaderBytes: BOARD_LIMITS.httpHeaderBytes, maxBodyBytes: BOARD_LIMITS.httpBodyBytes };

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const TARGET = /^\/[\x21-\x7e]*$/;

export function encodeRequest(request: HttpRequest): Uint8Array {
  if (!TARGET.test(request.path)) throw new HttpError("bad-request", "request target must be an origin-form path of visible ASCII");
  let head = `${request.method} ${request.path} HTTP/1.1\r\nHost: ${checkValue("host", request.host)}\r\n`;
  const headers = request.headers ?? {};
  for (const name of Object.keys(headers)) {
    if (!TOKEN.test(name)) throw new HttpError("bad-request", `header name ${JSON.stringify(name.slice(0, 40))} is not a token`);
    const lower = name.toLowerCase();
    if (lower === "host" || lower === "content-length" || lower === "transfer-encoding") {
      throw new HttpError("bad-request", `header ${name} is set by the codec`);
    }
    head += `${name}: ${checkValue(name, headers[name]!)}\r\n`;
  }
  if (request.body !== undefined || request.method === "POST" || request.method === "PUT") {
    head += `Content-Length: ${request.body?.length ?? 0}\r\n`;
  }
  head += "\r\n";
  return request.body ? concat(utf8(head), request.body) : utf8(head);
}

// A header value with CR or LF would let a value inject headers; the message names the header,
// never the value (it may be a key).
function checkValue(name: string, value: string): string {
  if (/[\r\n\0]/.test(value)) throw new HttpError("bad-request", `header ${name} contains a line break`);
  return value;
}

type Phase = "head" | "length" | "chunk-size" | "chunk-data" | "chunk-crlf" | "trailers" | "until-close" | "done";

/**
 * Feed received bytes with `push()`; it returns the response once complete. Call `end()` when the
 * connection closes: it completes a close-delimited body or throws "truncated".
 */
export class ResponseParser {
  readonly #limits: HttpLimits;
  readonly #headOnly: boolean;
  #phase: Phase = "head";
  #buffer: Uint8Array = new Uint8Array(0);
  #status = 0;
  #reason = "";
  #headers: Record<string, string> = {};
  #bodyParts: Uint8Array[] = [];
  #bodyLength = 0;
  #remaining = 0;
  #trailerBytes = 0;
  #failed: HttpError | undefined;

  constructor(limits: HttpLimits = DEFAULT_HTTP_LIMITS, options: { headRequest?: boolean } = {}) {
    this.#limits = limits;
    this.#headOnly = options.headRequest ?? false;
  }

  get done(): boolean { return this.#phase === "done"; }

  push(bytes: Uint8Array): HttpResponse | undefined {
    if (this.#failed) throw this.#failed;
    if (this.#phase === "done") return undefined; // bytes after the message: ignored (we sent Connection: close)
    this.#buffer = this.#buffer.length === 0 ? bytes.slice() : concat(this.#buffer, bytes);
    try {
      return this.#advance();
    } catch (e) {
      if (e instanceof HttpError) this.#failed = e;
      throw e;
    }
  }

  /** The peer closed the connection. */
  end(): HttpResponse {
    if (this.#failed) throw this.#failed;
    if (this.#phase === "until-close") {
      this.#phase = "done";
      return this.#response();
    }
    if (this.#phase === "done") return this.#response();
    this.#failed = new HttpError("truncated", `connection closed in the middle of the response (${this.#phase})`);
    throw this.#failed;
  }

  #advance(): HttpResponse | undefined {
    for (;;) {
      switch (this.#phase) {
        case "head": {
          const end = indexOfBlankLine(this.#buffer);
          if (end < 0) {
            if (this.#buffer.length > this.#limits.maxHeaderBytes) throw new HttpError("header-too-large", `response header exceeds ${this.#limits.maxHeaderBytes} bytes`);
            return undefined;
          }
          if (end > this.#limits.maxHeaderBytes) throw new HttpError("header-too-large", `response header exceeds ${this.#limits.maxHeaderBytes} bytes`);
          this.#parseHead(this.#buffer.subarray(0, end));
          this.#buffer = this.#buffer.slice(end + 4);
          break;
        }
        case "length": {
          const take = Math.min(this.#remaining, this.#buffer.length);
          this.#appendBody(this.#buffer.subarray(0, take));
          this.#buffer = this.#buffer.slice(take);
          this.#remaining -= take;
          if (this.#remaining > 0) return undefined;
          this.#phase = "done";
          break;
        }
        case "chunk-size": {
          const eol = indexOfCrlf(this.#buffer);
          if (eol < 0) {
            if (this.#buffer.length > 1024) throw new HttpError("malformed-chunk", "chunk size line too long");
            return undefined;
          }
          const line = latin1(this.#buffer.subarray(0, eol));
          this.#buffer = this.#buffer.slice(eol + 2);
          const match = /^([0-9A-Fa-f]{1,8})[ \t]*(;.*)?$/.exec(line);
          if (!match) throw new HttpError("malformed-chunk", "chunk size is not hexadecimal");
          const size = parseInt(match[1]!, 16);
          if (this.#bodyLength + size > this.#limits.maxBodyBytes) throw new HttpError("body-too-large", `response body exceeds ${this.#limits.maxBodyBytes} bytes`);
          this.#remaining = size;
          this.#phase = size === 0 ? "trailers" : "chunk-data";
          break;
        }
        case "chunk-data": {
          const take = Math.min(this.#remaining, this.#buffer.length);
          this.#appendBody(this.#buffer.subarray(0, take));
          this.#buffer = this.#buffer.slice(take);
          this.#remaining -= take;
          if (this.#remaining > 0) return undefined;
          this.#phase = "chunk-crlf";
          break;
        }
        case "chunk-crlf": {
          if (this.#buffer.length < 2) return undefined;
          if (this.#buffer[0] !== 13 || this.#buffer[1] !== 10) throw new HttpError("malformed-chunk", "chunk data not followed by CRLF");
          this.#buffer = this.#buffer.slice(2);
          this.#phase = "chunk-size";
          break;
        }
        case "trailers": {
          // Trailer fields are read and dropped; the blank line ends the message.
          const eol = indexOfCrlf(this.#buffer);
          if (eol < 0) {
            if (this.#trailerBytes + this.#buffer.length > this.#limits.maxHeaderBytes) throw new HttpError("header-too-large", "trailer section too large");
            return undefined;
          }
          this.#trailerBytes += eol + 2;
          if (this.#trailerBytes > this.#limits.maxHeaderBytes) throw new HttpError("header-too-large", "trailer section too large");
          this.#buffer = this.#buffer.slice(eol + 2);
          if (eol === 0) this.#phase = "done";
          break;
        }
        case "until-close":
          this.#appendBody(this.#buffer);
          this.#buffer = new Uint8Array(0);
          return undefined;
        case "done":
          return this.#response();
      }
    }
  }

  #parseHead(head: Uint8Array): void {
    const lines = latin1(head).split("\r\n");
    const status = /^HTTP\/1\.[01] (\d{3})(?: ([\t\x20-\x7e\x80-\xff]*))?$/.exec(lines[0] ?? "");
    if (!status) throw new HttpError("malformed-status", "response does not start with an HTTP/1.x status line");
    this.#status = Number(status[1]);
    this.#reason = status[2] ?? "";
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(":");
      const name = colon > 0 ? line.slice(0, colon) : "";
      if (!TOKEN.test(name)) throw new HttpError("malformed-header", `header line ${i} is not "name: value"`);
      const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
      if (/[\0-\x08\x0a-\x1f\x7f]/.test(value)) throw new HttpError("malformed-header", `header ${name} has control characters`);
      const key = name.toLowerCase();
      const previous = this.#headers[key];
      this.#headers[key] = previous === undefined ? value : `${previous}, ${value}`;
    }
    this.#chooseFraming();
  }

  // RFC 9112 §6.3: no body for HEAD/1xx/204/304; chunked wins over Content-Length (and we refuse
  // both together, a smuggling sign); else Content-Length; else read until close.
  #chooseFraming(): void {
    const te = this.#headers["transfer-encoding"];
    const cl = this.#headers["content-length"];
    if (this.#headOnly || (this.#status >= 100 && this.#status < 200) || this.#status === 204 || this.#status === 304) {
      this.#phase = "done";
      return;
    }
    if (te !== undefined) {
      if (cl !== undefined) throw new HttpError("bad-content-length", "both Transfer-Encoding and Content-Length present");
      if (te.toLowerCase() !== "chunked") throw new HttpError("unsupported-encoding", `transfer coding ${JSON.stringify(te.slice(0, 40))} is not supported`);
      this.#phase = "chunk-size";
      return;
    }
    if (cl !== undefined) {
      const values = cl.split(",").map((v) => v.trim());
      if (!values.every((v) => /^\d{1,10}$/.test(v) && v === values[0])) throw new HttpError("bad-content-length", "Content-Length is not one decimal number");
      const length = Number(values[0]);
      if (length > this.#limits.maxBodyBytes) throw new HttpError("body-too-large", `response body of ${length} bytes exceeds ${this.#limits.maxBodyBytes}`);
      this.#remaining = length;
      this.#phase = length === 0 ? "done" : "length";
      return;
    }
    this.#phase = "until-close";
  }

  #appendBody(part: Uint8Array): void {
    if (part.length === 0) return;
    if (this.#bodyLength + part.length > this.#limits.maxBodyBytes) throw new HttpError("body-too-large", `response body exceeds ${this.#limits.maxBodyBytes} bytes`);
    this.#bodyParts.push(part.slice());
    this.#bodyLength += part.length;
  }

  #response(): HttpResponse {
    const body = this.#bodyParts.length === 1 ? this.#bodyParts[0]! : concat(...this.#bodyParts);
    this.#bodyParts = [body];
    return { status: this.#status, reason: this.#reason, headers: { ...this.#headers }, body };
  }
}

/** The response body as JSON text; a typed error when it is not UTF-8 JSON. */
export function bodyText(response: HttpResponse): string {
  try {
    return fromUtf8(response.body);
  } catch {
    throw new HttpError("malformed-header", "response body is not UTF-8");
  }
}

/**
 * Retry-After (RFC 9110 §10.2.3) in milliseconds: delay-seconds, or an HTTP-date against `now`.
 * Undefined when absent or unparseable.
 */
export function retryAfterMs(response: HttpResponse, now: number): number | undefined {
  const value = response.headers["retry-after"];
  if (value === undefined) return undefined;
  if (/^\d{1,9}$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = parseHttpDate(value.trim());
  return date === undefined ? undefined : Math.max(0, date - now);
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** IMF-fixdate only ("Sun, 06 Nov 1994 08:49:37 GMT"), the form senders must generate. */
export function parseHttpDate(text: string): number | undefined {
  const m = /^[A-Z][a-z]{2}, (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/.exec(text);
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[2]!);
  if (month < 0) return undefined;
  return Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
}

function indexOfBlankLine(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) return i;
  }
  return -1;
}

function indexOfCrlf(bytes: Uint8Array): number {
  for (let i = 0; i + 1 < bytes.length; i++) if (bytes[i] === 13 && bytes[i + 1] === 10) return i;
  return -1;
}

// Header bytes are ASCII (obs-text tolerated as Latin-1); the body is never decoded here.
function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}
