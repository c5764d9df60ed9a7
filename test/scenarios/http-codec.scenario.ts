// HTTP/1.1 client codec with bytes alone: framing (Content-Length, chunked, close-delimited),
// byte-at-a-time delivery, limits, and a typed error for every malformed reply.
import { fromUtf8, utf8 } from "../../src/bytes/bytes.js";
import { encodeRequest, HttpError, parseHttpDate, ResponseParser, retryAfterMs, type HttpErrorCode, type HttpResponse } from "../../src/http/codec.js";
import { joinPath, parseHttpUrl } from "../../src/http/url.js";
import { check, checkEqual, checkThrows, type Scenario } from "./harness.js";

/** Feeds `text` in pieces of `step` bytes; returns the response or the typed error code. */
function parse(text: string, step = text.length, limits = { maxHeaderBytes: 512, maxBodyBytes: 64 }, close = false): HttpResponse | HttpErrorCode {
  const parser = new ResponseParser(limits);
  const bytes = utf8(text);
  try {
    for (let i = 0; i < bytes.length; i += step) {
      const r = parser.push(bytes.subarray(i, i + step));
      if (r) return r;
    }
    if (close) return parser.end();
    return "truncated";
  } catch (e) {
    if (e instanceof HttpError) return e.code;
    throw e;
  }
}

function body(r: HttpResponse | HttpErrorCode): string {
  check(typeof r !== "string", `expected a response, got error ${String(r)}`);
  return fromUtf8(r.body);
}

export const scenarios: Scenario[] = [
  {
    name: "http codec: request encoding (Host, Content-Length, no header injection)",
    run() {
      const get = fromUtf8(encodeRequest({ method: "GET", path: "/things/bootstrap/AA%3ABB", host: "cloud:8443", headers: { Authorization: "Thing k" } }));
      checkEqual(get, "GET /things/bootstrap/AA%3ABB HTTP/1.1\r\nHost: cloud:8443\r\nAuthorization: Thing k\r\n\r\n", "GET");
      const post = fromUtf8(encodeRequest({ method: "POST", path: "/register", host: "h", headers: { "Content-Type": "application/json" }, body: utf8('{"serial":"1"}') }));
      checkEqual(post, 'POST /register HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{"serial":"1"}', "POST");
      const injected = checkThrows(() => encodeRequest({ method: "GET", path: "/", host: "h", headers: { Authorization: "k\r\nX-Evil: 1" } }), HttpError, "CRLF in a value");
      checkEqual(injected.code, "bad-request", "typed");
      check(!injected.message.includes("X-Evil"), "the value (maybe a key) is not in the message");
      checkThrows(() => encodeRequest({ method: "GET", path: "/a b", host: "h" }), HttpError, "space in the target");
      checkThrows(() => encodeRequest({ method: "GET", path: "/", host: "h", headers: { "Content-Length": "3" } }), HttpError, "framing header set by hand");
    },
  },
  {
    name: "http codec: Content-Length, chunked and close-delimited bodies, in one piece and byte by byte",
    run() {
      const cl = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\":\"bc\"}\n";
      const chunked = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\nx-a: 2\r\n\r\n4;ext=1\r\n{\"a\"\r\n7\r\n:\"bc\"}\n\r\n0\r\nTrailer: t\r\n\r\n";
      for (const step of [1, 3, 1000]) {
        const a = parse(cl, step);
        checkEqual(body(a), '{"a":"bc"}\n', `content-length, step ${step}`);
        const b = parse(chunked, step);
        checkEqual(body(b), '{"a":"bc"}\n', `chunked, step ${step}`);
        check(typeof b !== "string" && b.status === 201 && b.reason === "Created" && b.headers["x-a"] === "1, 2", "status, reason and joined headers");
      }
      checkEqual(body(parse("HTTP/1.0 200 OK\r\n\r\nuntil close", 4, undefined, true)), "until close", "close-delimited body completes on end()");
      const empty = parse("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n");
      check(typeof empty !== "string" && empty.status === 204 && empty.body.length === 0, "204 has no body");
      // Bytes after a complete message are ignored, not parsed as a second response.
      const parser = new ResponseParser();
      check(parser.push(utf8("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokGARBAGE")) !== undefined, "complete");
      checkEqual(parser.push(utf8("more")), undefined, "trailing bytes ignored");
    },
  },
  {
    name: "http codec: malformed and oversized replies are typed errors",
    run() {
      const cases: [string, HttpErrorCode, boolean?][] = [
        ["SSH-2.0-OpenSSH\r\n\r\n", "malformed-status"],
        ["HTTP/1.1 2000 OK\r\n\r\n", "malformed-status"],
        ["HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed-header"],
        ["HTTP/1.1 200 OK\r\n: empty name\r\n\r\n", "malformed-header"],
        ["HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad-content-length"],
        ["HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n", "bad-content-length"],
        ["HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "bad-content-length"],
        ["HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported-encoding"],
        ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "malformed-chunk"],
        ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", "malformed-chunk"],
        ["HTTP/1.1 200 OK\r\nContent-Length: 65\r\n\r\n", "body-too-large"],
        ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n41\r\n", "body-too-large"],
        ["HTTP/1.1 200 OK\r\n\r\n" + "x".repeat(65), "body-too-large", true],
        ["HTTP/1.1 200 OK\r\nX: " + "y".repeat(600) + "\r\n\r\n", "header-too-large"],
        ["HTTP/1.1 200 OK\r\nX: " + "y".repeat(600), "header-too-large"],
        ["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "truncated", true],
        ["HTTP/1.1 200 OK\r\nContent-Le", "truncated", true],
      ];
      for (const [text, code, close] of cases) {
        for (const step of [1, text.length]) {
          checkEqual(parse(text, step, undefined, close ?? false), code, `${JSON.stringify(text.slice(0, 50))} step ${step}`);
        }
      }
      // A failed parser stays failed.
      const parser = new ResponseParser();
      checkThrows(() => parser.push(utf8("nonsense\r\n\r\n")), HttpError, "first");
      checkThrows(() => parser.push(utf8("HTTP/1.1 200 OK\r\n\r\n")), HttpError, "sticky");
    },
  },
  {
    name: "http codec: Retry-After (seconds and IMF-fixdate) and URL parsing",
    run() {
      const reply = (v: string): HttpResponse => ({ status: 429, reason: "", headers: { "retry-after": v }, body: new Uint8Array(0) });
      const now = Date.UTC(2026, 0, 1, 0, 0, 0);
      checkEqual(retryAfterMs(reply("120"), now), 120_000, "seconds");
      checkEqual(retryAfterMs(reply("Thu, 01 Jan 2026 00:00:30 GMT"), now), 30_000, "date");
      checkEqual(retryAfterMs(reply("soon"), now), undefined, "unparseable");
      checkEqual(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777000, "RFC 9110 example");
      checkEqual(parseHttpUrl("https://cloud.example:8443/things/bootstrap"), { scheme: "https", host: "cloud.example", port: 8443, path: "/things/bootstrap", authority: "cloud.example:8443" }, "https url");
      checkEqual(parseHttpUrl("http://[::1]/").port, 80, "default port");
      checkThrows(() => parseHttpUrl("ftp://x/"), HttpError, "scheme");
      checkEqual(joinPath("https://h/things/bootstrap/", "AA:BB"), "https://h/things/bootstrap/AA%3ABB", "segment encoded");
    },
  },
];
