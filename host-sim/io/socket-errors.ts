// Node socket and TLS errors → the I/O object's SocketError. Messages name the peer and the
// reason in words a firmware engineer can act on; they are built from error codes and
// certificate fields only, never from key material.
import type { SocketError } from "../../src/io/io.js";

/** A refusal decided by host-sim itself (board-profile limits, device-clock dates). */
export class TlsRefusal extends Error {
  override readonly name = "TlsRefusal";
}

export interface ErrorContext {
  readonly where: string; // "host:port"
  readonly secure: boolean;
  /** True once the TLS handshake completed (or, for TCP, once connected). */
  readonly established: boolean;
  readonly boardProfile: boolean;
}

const UNTRUSTED = new Set([
  "UNABLE_TO_GET_ISSUER_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN", "DEPTH_ZERO_SELF_SIGNED_CERT", "CERT_UNTRUSTED", "CERT_SIGNATURE_FAILURE",
  "CERT_REJECTED", "INVALID_CA",
]);

/** Handshake failures that, on the board profile, mean "the ESP32's TLS stack cannot talk to this server". */
const NEGOTIATION = /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|NO_PROTOCOLS|HANDSHAKE_FAILURE|NO_SHARED|WRONG_VERSION_NUMBER|NO_SUITABLE|INSUFFICIENT_SECURITY|NO_CIPHER/;

const BOARD_HINT = " (board profile: the ESP32's TLS stack offers TLS 1.2 only, AES-128/256 GCM/CBC suites, P-256, RSA/ECDSA with SHA-256)";

export function tlsError(where: string, detail: string): SocketError {
  return { kind: "tls", message: `${where}: ${detail}` };
}

export function classifyError(error: unknown, ctx: ErrorContext): SocketError {
  const err = error as NodeJS.ErrnoException & { reason?: string };
  if (error instanceof TlsRefusal) return tlsError(ctx.where, error.message);
  const code = typeof err?.code === "string" ? err.code : "";
  const network = networkError(code, ctx);
  if (network) return network;
  if (ctx.secure) {
    const tls = tlsDetail(code, err, ctx);
    if (tls) return tlsError(ctx.where, tls);
  }
  return { kind: "io", message: `${ctx.where}: ${code ? `${code}: ` : ""}${err?.message ?? String(error)}` };
}

function networkError(code: string, ctx: ErrorContext): SocketError | undefined {
  const at = ctx.where;
  switch (code) {
    case "ECONNREFUSED":
      return { kind: "refused", message: `${at}: connection refused` };
    case "ECONNRESET":
    case "EPIPE":
      // A server that hangs up mid-handshake is refusing this client's TLS, not dropping a session.
      if (ctx.secure && !ctx.established) return tlsError(at, "the server closed the connection during the TLS handshake (it may refuse this client's TLS version, suites or certificate)");
      return { kind: "reset", message: `${at}: connection reset by peer` };
    case "ETIMEDOUT":
      return { kind: "timeout", message: `${at}: timed out` };
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "EAI_NODATA":
    case "EAI_FAIL":
      return { kind: "dns", message: `${at}: cannot resolve the host name (${code})` };
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return { kind: "io", message: `${at}: network unreachable (${code})` };
    default:
      return undefined;
  }
}

function tlsDetail(code: string, err: { message?: string; reason?: string }, ctx: ErrorContext): string | undefined {
  if (UNTRUSTED.has(code)) return `certificate not trusted (unknown CA) [${code}]`;
  if (code === "CERT_NOT_YET_VALID") return "certificate not yet valid per the host clock [CERT_NOT_YET_VALID]";
  if (code === "CERT_HAS_EXPIRED") return "certificate expired per the host clock [CERT_HAS_EXPIRED]";
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return `host name mismatch: ${err.reason ?? err.message ?? "the certificate is not for this name"}`;
  if (code.startsWith("ERR_SSL_") || code.startsWith("ERR_OSSL_")) {
    const reason = code.replace(/^ERR_(SSL|OSSL)_/, "").toLowerCase().replace(/_/g, " ");
    return `TLS handshake failed: ${reason}${ctx.boardProfile && NEGOTIATION.test(code) ? BOARD_HINT : ""}`;
  }
  if (/^[A-Z_]+$/.test(code) && code.includes("CERT")) return `certificate rejected [${code}]`;
  if (!ctx.established) return `TLS handshake failed: ${err.message ?? "unknown error"}`;
  return undefined;
}
