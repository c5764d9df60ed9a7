// The HTTP/1.1 response parser, fed a reply as the network delivers it: in pieces. Input: the
// first byte seeds how the rest is split into chunks. Properties: only HttpError escapes; the
// same bytes give the same outcome (response or error code) whether pushed whole, split at the
// seeded points, or one byte at a time; a parser that failed keeps failing the same way.
import { toHex, utf8 } from "../../../src/bytes/bytes.js";
import { HttpError, ResponseParser, type HttpResponse } from "../../../src/http/codec.js";
import { Rand } from "../rand.js";
import { expect, FuzzFailure, type FuzzTarget } from "../target.js";

type Outcome = string;

function describe(response: HttpResponse): Outcome {
  return JSON.stringify({ status: response.status, reason: response.reason, headers: response.headers, body: toHex(response.body) });
}

/** Push the chunks, then end() if the parser still waits: the outcome as a comparable string. */
function parse(chunks: readonly Uint8Array[]): Outcome {
  const parser = new ResponseParser({ maxHeaderBytes: 1024, maxBodyBytes: 2048 });
  try {
    let response: HttpResponse | undefined;
    for (const chunk of chunks) response ??= parser.push(chunk) ?? undefined;
    response ??= parser.end();
    return describe(response);
  } catch (e) {
    if (!(e instanceof HttpError)) throw e;
    // sticky: a failed parser keeps failing with the same error
    let again: unknown;
    try { parser.push(new Uint8Array(1)); } catch (e2) { again = e2; }
    if (again !== e) throw new FuzzFailure(`after ${e.code}, push did not rethrow the same error`);
    return `error:${e.code}`;
  }
}

function splitAt(bytes: Uint8Array, r: Rand): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; ) {
    const n = r.int(1, Math.max(1, Math.min(64, bytes.length - at)));
    out.push(bytes.subarray(at, at + n));
    if (r.bool(0.1)) out.push(new Uint8Array(0)); // an empty read
    at += n;
  }
  return out;
}

function sampleResponse(r: Rand): string {
  const status = r.pick(["200 OK", "201 Created", "404 Not Found", "429 Too Many Requests", "503 Service Unavailable", "204 No Content", "304 Not Modified", "100 Continue"]);
  const body = r.pick(["", "{}", "{\"client_id\":\"a\",\"client_secret\":\"b\"}", "x".repeat(r.int(0, 300))]);
  const headers = [r.bool() ? "Content-Type: application/json" : "Server: ref", r.bool(0.3) ? "Retry-After: 5" : "X-A:  b  "];
  const framing = r.int(0, 2);
  if (framing === 0) return `HTTP/1.1 ${status}\r\n${headers.join("\r\n")}\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  if (framing === 1) {
    let chunked = "";
    for (let at = 0; at < body.length; ) {
      const n = r.int(1, 50);
      const part = body.slice(at, at + n);
      chunked += `${part.length.toString(16)}${r.bool(0.2) ? ";ext=1" : ""}\r\n${part}\r\n`;
      at += n;
    }
    return `HTTP/1.1 ${status}\r\n${headers.join("\r\n")}\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}0\r\n${r.bool(0.3) ? "Trailer: x\r\n" : ""}\r\n`;
  }
  return `HTTP/1.${r.int(0, 1)} ${status}\r\n${headers.join("\r\n")}\r\nConnection: close\r\n\r\n${body}`;
}

export const httpResponseTarget: FuzzTarget = {
  name: "http-response",
  maxLength: 3000,
  seeds: (r) => Array.from({ length: 50 }, () => Uint8Array.from([r.int(0, 255), ...utf8(sampleResponse(r))])),
  generators: [
    // two responses back to back, or a response whose Content-Length lies
    (r) => Uint8Array.from([r.int(0, 255), ...utf8(sampleResponse(r) + sampleResponse(r))]),
    (r) => Uint8Array.from([r.int(0, 255), ...utf8(sampleResponse(r).replace(/Content-Length: \d+/, `Content-Length: ${r.pick(["0", "-1", "1e3", "99999999999", "5, 5", "5, 6", " 7 ", "0x10"])}`))]),
  ],
  run(input) {
    if (input.length === 0) return;
    const bytes = input.subarray(1);
    const whole = parse([bytes]);
    const split = parse(splitAt(bytes, new Rand(input[0]!)));
    expect(split === whole, `split differently, the same bytes parse differently: whole → ${whole.slice(0, 200)}; split → ${split.slice(0, 200)}`);
    if (bytes.length <= 600) {
      const single = parse(Array.from(bytes, (b) => Uint8Array.of(b)));
      expect(single === whole, `byte by byte, the same bytes parse differently: whole → ${whole.slice(0, 200)}; bytewise → ${single.slice(0, 200)}`);
    }
  },
};
