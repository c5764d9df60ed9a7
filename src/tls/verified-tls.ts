// The core's TLS gate. A platform opens its TLS socket with its own certificate checks off and
// reports every transport byte of both directions; this socket feeds them to the handshake
// observer and, when the platform says the handshake is done (the first onWritable), decides with
// verify.ts before the caller hears anything. A refusal closes the platform socket and reaches the
// caller as onError — the caller never gets to write a byte (MQTT CONNECT, HTTP request) to an
// unverified peer. The same code runs on the board, on Node and inside XS.
import type { Clock, LogSink, Socket, SocketError, TlsOptions } from "../io/io.js";
import type { CryptoProvider } from "../crypto/provider.js";
import { Logger } from "../log/logger.js";
import { HandshakeObserver, type Direction } from "./observer.js";
import { parseCertificatesPem } from "./pem.js";
import { refusalSoFar, TlsVerificationError, verifyHandshake, type Verdict, type VerifyOptions } from "./verify.js";
import type { Certificate } from "./x509.js";

export type TransportTap = (direction: Direction, bytes: Uint8Array) => void;

/**
 * The platform's TLS client with its own verification off (no chain, name or date check, no
 * session resumption), calling `tap` with every byte it writes to and reads from the transport,
 * in order, before it acts on them.
 */
export type OpenUncheckedTls = (options: TlsOptions, tap: TransportTap) => Socket;

export interface TlsVerifierDeps {
  readonly clock: Clock;
  /** The signature primitives and SHA-256 (for the key pin, `peerKey`): the Io's crypto provider. */
  readonly crypto: Pick<CryptoProvider, "verifyRsaPkcs1v15" | "verifyEcdsa" | "sha256">;
  readonly log: LogSink;
  /** Trust anchors (PEM) when TlsOptions.ca is absent; absent here = nothing is trusted without a CA. */
  readonly defaultAnchors?: () => string | undefined;
}

/** TLS through `open`, verified by the core. Throws TlsConfigError (code "pem") synchronously for an unreadable CA. */
export function verifiedTls(options: TlsOptions, open: OpenUncheckedTls, deps: TlsVerifierDeps): Socket {
  const anchorsPem = options.trustOnFirstUse ? undefined : options.ca ?? deps.defaultAnchors?.();
  // parsed per connection: no module-level cache (module state is read-only once preloaded on the board)
  const anchors = anchorsPem === undefined ? [] : parseCertificatesPem(anchorsPem);
  return new VerifiedSocket(options, anchors, open, deps);
}

type State = "handshake" | "open" | "finished";

class VerifiedSocket implements Socket {
  readonly #options: TlsOptions;
  readonly #anchors: readonly Certificate[];
  readonly #deps: TlsVerifierDeps;
  readonly #log: Logger;
  readonly #observer = new HandshakeObserver();
  readonly #inner: Socket;
  #state: State = "handshake";
  #verdict: Verdict | undefined;

  constructor(options: TlsOptions, anchors: readonly Certificate[], open: OpenUncheckedTls, deps: TlsVerifierDeps) {
    this.#options = options;
    this.#anchors = anchors;
    this.#deps = deps;
    this.#log = new Logger(deps.log, () => deps.clock.now(), "tls");
    this.#inner = open({
      ...options,
      onWritable: (count) => this.#writable(count),
      onReadable: (count) => this.#readable(count),
      onError: (error) => this.#failed(error),
    }, (direction, bytes) => this.#tap(direction, bytes));
  }

  read(): Uint8Array | undefined {
    return this.#state === "open" ? this.#inner.read() : undefined;
  }

  write(data: Uint8Array): void {
    if (this.#state === "finished") throw new TlsVerificationError("handshake-incomplete", `socket to ${this.#options.host}:${this.#options.port} is closed`);
    if (this.#state !== "open") throw new TlsVerificationError("handshake-incomplete", "write before the server was verified");
    this.#inner.write(data);
  }

  close(): void {
    this.#state = "finished";
    this.#inner.close();
  }

  peerKey(): Uint8Array | undefined {
    return this.#verdict ? this.#deps.crypto.sha256(this.#verdict.leaf.spki) : undefined;
  }

  tlsVerified(): boolean {
    return this.#verdict?.verified === true;
  }

  #tap(direction: Direction, bytes: Uint8Array): void {
    try {
      this.#observer.feed(direction, bytes);
    } catch {
      // kept as observer.error: the verdict refuses a malformed handshake
    }
  }

  #writable(count: number): void {
    if (this.#state === "handshake" && !this.#decide()) return;
    if (this.#state === "open") this.#options.onWritable?.(count);
  }

  #readable(count: number): void {
    if (this.#state === "handshake" && !this.#decide()) return;
    if (this.#state === "open") this.#options.onReadable(count);
  }

  #failed(error: SocketError): void {
    if (this.#state === "finished") return;
    const wasHandshake = this.#state === "handshake";
    this.#state = "finished";
    if (wasHandshake && error.kind === "tls") {
      // the platform's TLS stopped first: report the firmware's own reason when it has one
      const refusal = safely(() => refusalSoFar(this.#observer, this.#verifyOptions()));
      if (refusal) {
        this.#log.warn("refused", { where: this.#where, reason: refusal.code, detail: refusal.message });
        this.#options.onError({ kind: "tls", reason: refusal.code, message: `${this.#where}: ${refusal.code}: ${refusal.message} (${error.message})` });
        return;
      }
    }
    this.#options.onError(error);
  }

  get #where(): string {
    return `${this.#options.host}:${this.#options.port}`;
  }

  #verifyOptions(): VerifyOptions {
    return {
      anchors: this.#anchors,
      serverName: this.#options.serverName ?? this.#options.host,
      now: this.#deps.clock.now(),
      signatures: this.#deps.crypto,
      mode: this.#options.trustOnFirstUse ? "pin" : "chain",
    };
  }

  /** True when the handshake is accepted; otherwise the socket is closed and the caller told why. */
  #decide(): boolean {
    const where = this.#where;
    try {
      this.#verdict = verifyHandshake(this.#observer, this.#verifyOptions());
      this.#state = "open";
      this.#log.debug("verified", { where, suite: this.#verdict.cipherSuite, chain: this.#verdict.verified });
      return true;
    } catch (e) {
      const reason = e instanceof TlsVerificationError ? e.code : "malformed-handshake";
      const detail = e instanceof Error ? e.message : "verification failed";
      this.#log.warn("refused", { where, reason, detail });
      this.#state = "finished";
      this.#inner.close();
      this.#options.onError({ kind: "tls", reason, message: `${where}: ${reason}: ${detail}` });
      return false;
    }
  }
}

/** A verifier bug must not escape into a socket callback (on the board that aborts XS). */
function safely<T>(fn: () => T | undefined): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}
