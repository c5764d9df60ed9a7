// A Node stream socket (node:net or node:tls) behind the I/O object's ECMA-419-shaped `Socket`:
// the core is told when it may write and when bytes wait, and reads them on demand.
//
// Guarantees the core relies on (src/io/io.ts):
//   - no handler runs during the constructor call (even a refusal decided up front is delivered
//     on a later turn);
//   - onWritable once connected (after the TLS handshake for TLS), and again after each drain;
//   - onReadable(count) with count = bytes waiting; read() returns all of them at once;
//   - onError exactly once when the socket finishes for any reason other than close();
//   - after close(), no handler runs at all.
import type { Socket as NodeSocket } from "node:net";
import type { Socket, SocketError, SocketHandlers } from "../../src/io/io.js";
import { classifyError, tlsError } from "./socket-errors.js";

/** How long close() waits for queued bytes to reach the peer before dropping the connection. */
const CLOSE_GRACE_MS = 5_000;

export interface StreamSocketOptions {
  /** "host:port", for messages. */
  readonly where: string;
  readonly secure: boolean;
  readonly boardProfile: boolean;
  /** Connect + handshake must finish within this time (real time, not the device's timers). */
  readonly connectTimeoutMs: number;
  /** Opens the Node socket, or returns why it must not be opened (e.g. a client key the board cannot use). */
  readonly open: () => NodeSocket | SocketError;
  /** Called once the socket is ready, before onWritable (TLS diagnostics). */
  readonly onReady?: (socket: NodeSocket) => void;
  /** Called when the socket is finished for good (the network forgets it). */
  readonly onFinished?: () => void;
}

export class StreamSocket implements Socket {
  readonly #handlers: SocketHandlers;
  readonly #options: StreamSocketOptions;
  #node: NodeSocket | undefined;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #established = false;
  #finished = false; // onError delivered, or close() called: no more handlers
  #closed = false; // close() called
  #connectTimer: NodeJS.Timeout | undefined;

  constructor(handlers: SocketHandlers, options: StreamSocketOptions) {
    this.#handlers = handlers;
    this.#options = options;
    let opened: NodeSocket | SocketError;
    try {
      opened = options.open();
    } catch (e) {
      opened = classifyError(e, this.#context());
    }
    if ("kind" in opened) {
      const refusal = opened;
      setImmediate(() => this.#fail(refusal));
      return;
    }
    this.#node = opened;
    this.#attach(opened);
  }

  read(): Uint8Array | undefined {
    if (this.#buffered === 0) return undefined;
    const out = new Uint8Array(this.#buffered);
    let at = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, at);
      at += chunk.length;
    }
    this.#chunks = [];
    this.#buffered = 0;
    return out;
  }

  write(data: Uint8Array): void {
    if (this.#finished || this.#node === undefined) throw new Error(`socket to ${this.#options.where} is closed`);
    this.#node.write(Buffer.from(data)); // a copy: the core may reuse its buffer
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#finish();
    const node = this.#node;
    if (node === undefined || node.destroyed) return;
    if (!this.#established) {
      node.destroy();
      return;
    }
    // Like lwIP's tcp_close: queued bytes (an MQTT DISCONNECT, say) still go out before the FIN.
    node.end();
    setTimeout(() => node.destroy(), CLOSE_GRACE_MS).unref();
  }

  #attach(node: NodeSocket): void {
    node.setNoDelay(true); // small MQTT packets go out at once, instead of waiting on Nagle + delayed ACK
    this.#connectTimer = setTimeout(() => this.#timeout(), this.#options.connectTimeoutMs);
    this.#connectTimer.unref();
    node.once(this.#options.secure ? "secureConnect" : "connect", () => this.#ready(node));
    node.on("data", (chunk: Buffer) => this.#received(chunk));
    node.on("drain", () => this.#writable(node));
    node.on("end", () => this.#fail(this.#peerClosed()));
    node.on("error", (e) => this.#fail(classifyError(e, this.#context())));
    node.on("close", () => this.#fail({ kind: "closed", message: `${this.#options.where}: connection closed` }));
  }

  #ready(node: NodeSocket): void {
    clearTimeout(this.#connectTimer);
    this.#established = true;
    if (this.#finished) return;
    this.#options.onReady?.(node);
    this.#writable(node);
  }

  #writable(node: NodeSocket): void {
    if (this.#finished || !this.#established) return;
    this.#handlers.onWritable?.(Math.max(0, node.writableHighWaterMark - node.writableLength));
  }

  #received(chunk: Buffer): void {
    if (this.#finished) return;
    this.#chunks.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    this.#buffered += chunk.length;
    this.#handlers.onReadable(this.#buffered);
  }

  /** An orderly close, unless it cut a TLS handshake short (then the server refused us). */
  #peerClosed(): SocketError {
    if (this.#options.secure && !this.#established) {
      return tlsError(this.#options.where, "the server closed the connection during the TLS handshake");
    }
    return { kind: "closed", message: `${this.#options.where}: closed by the peer` };
  }

  #timeout(): void {
    this.#fail({ kind: "timeout", message: `${this.#options.where}: no connection within ${this.#options.connectTimeoutMs} ms` });
    this.#node?.destroy();
  }

  /** Delivers the one onError, unless the socket already finished (close() or an earlier error). */
  #fail(error: SocketError): void {
    if (this.#finished) return;
    this.#finish();
    this.#node?.destroy();
    this.#handlers.onError(error);
  }

  #finish(): void {
    this.#finished = true;
    clearTimeout(this.#connectTimer);
    this.#options.onFinished?.();
  }

  #context() {
    return { where: this.#options.where, secure: this.#options.secure, established: this.#established, boardProfile: this.#options.boardProfile };
  }
}
