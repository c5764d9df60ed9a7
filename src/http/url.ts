// "https://host[:port]/path" → parts. XS has no URL global on the board, and we need only this.
import { HttpError } from "./codec.js";
import { quoteUrl } from "../log/url-redaction.js";

export interface HttpUrl {
  readonly scheme: "http" | "https";
  readonly host: string;
  readonly port: number;
  /** Origin-form path, "/" at least (query included). */
  readonly path: string;
  /** Host header value: the port appears only when it is not the scheme's default. */
  readonly authority: string;
}

export function parseHttpUrl(url: string): HttpUrl {
  const m = /^(https?):\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?(\/[\x21-\x7e]*)?$/.exec(url);
  if (!m) throw new HttpError("bad-request", `URL must look like https://host[:port]/path (got ${quoteUrl(url)})`);
  const scheme = m[1] as "http" | "https";
  const fallback = scheme === "https" ? 443 : 80;
  const port = m[3] === undefined ? fallback : Number(m[3]);
  if (port < 1 || port > 65535) throw new HttpError("bad-request", `port ${port} is out of range`);
  const host = m[2]!.replace(/^\[|\]$/g, "");
  return { scheme, host, port, path: m[4] ?? "/", authority: port === fallback ? m[2]! : `${m[2]!}:${port}` };
}

/** Joins a base URL and a path segment list, percent-encoding each segment. */
export function joinPath(base: string, ...segments: string[]): string {
  return base.replace(/\/+$/, "") + segments.map((s) => "/" + encodeURIComponent(s)).join("");
}
