// Sockets from the SDK's ECMA-419 modules, adapted to the core's Network.
//
// What the adapter adds, and why:
//   - names: the lwIP TCP socket takes an IP address only, so names go through System.resolve
//     first (failure → "dns").
//   - buffering: an ECMA-419 socket refuses a write larger than the space its last onWritable
//     reported; the core may write a whole MQTT packet at once. Writes are queued and sent as
//     space is reported, and the core hears onWritable only once the queue is empty.
//   - errors: ECMA-419's onError carries no reason. Before the first onWritable it is reported as
//     "refused", after it as "closed".
//   - TLS verified by the firmware (issue #13): the SDK's TLS session runs with its own
//     verification off (it accepts a forged leaf before the real CA and unsigned ECDHE keys, and
//     refuses leaf-only chains) and without session resumption (`cache: false`: a resumed session
//     shows no certificate); every byte it writes to and reads from the TCP transport is shown to
//     the core's handshake observer, and the core's verifier (src/tls/verified-tls.ts, signatures
//     from the SDK's native arithmetic) decides before the caller hears onWritable.
//   - an exception thrown inside the SDK's TLS callbacks (its handshake refusing a server, a fatal
//     alert, a bad record) would abort XS and restart the chip: the transport's callbacks are
//     guarded and the exception becomes this socket's "tls" error. tlssocket.js also runs its
//     session from a Timer of its own after a read (bytes left waiting on the transport); the glue
//     takes that re-read over and runs it guarded (transportFor, takeOverReRead).
import TCP from "embedded:io/socket/tcp";
// @ts-ignore -- on a board build mcconfig maps this specifier to the SDK example's JavaScript
// (examples/io/tcp/tlssocket), which ships no declarations; CI checks it against types/sockets.d.ts.
import TLSSocket from "embedded:io/socket/tcp/tls";
import UDP from "embedded:io/socket/udp";
import Timer from "timer";
import type {
  Clock, Datagram, LogSink, Network, Socket, SocketError, SocketHandlers, TcpOptions, TlsOptions, UdpOptions, UdpSocket,
} from "../../io/io.js";
import type { CryptoProvider } from "../../crypto/provider.js";
import { concat } from "../../bytes/bytes.js";
import { verifiedTls, type TransportTap } from "../../tls/verified-tls.js";
import { BoardError } from "./errors.js";
import { pemToDer, toArrayBuffer } from "./pem.js";

/** Options of the SDK's TLS session (modules/crypt/ssl) as the glue sets them. */
export interface SecureOptions {
  certificate?: ArrayBuffer;
  serverName?: string;
  clientKey?: ArrayBuffer;
  clientCertificates?: ArrayBuffer[];
  applicationLayerProtocolNegotiation?: string[];
  /** The SDK's own chain check: always false, the firmware verifies (src/tls/). */
  verify?: boolean;
  /** Session resumption: always false, every handshake must show its certificate. */
  cache?: boolean;
}

/** What TCP and TLSSocket have in common. */
interface RawStream {
  read(): ArrayBuffer | undefined;
  write(data: ArrayBuffer): void;
  close(): void;
}

interface RawCallbacks {
  onReadable(count: number): void;
  onWritable(count: number): void;
  onError(): void;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function isIpv4(host: string): boolean {
  const m = IPV4.exec(host);
  return m !== null && m.slice(1).every((part) => Number(part) <= 255);
}

/** Resolve `host` to an IPv4 address; `done(undefined)` when it does not resolve. */
export function resolveHost(host: string, done: (address: string | undefined) => void): void {
  if (isIpv4(host)) return done(host);
  System.resolve(host, (_name, address) => done(address === undefined || address === "" ? undefined : address));
}

class StreamSocket implements Socket {
  readonly #handlers: SocketHandlers;
  #raw: RawStream | undefined;
  #finished = false;
  #connected = false;
  #writable = 0;
  readonly #queue: Uint8Array[] = [];

  constructor(handlers: SocketHandlers) {
    this.#handlers = handlers;
  }

  /** The callbacks to give the SDK socket. */
  callbacks(): RawCallbacks {
    return {
      onReadable: (count) => { if (!this.#finished) this.#handlers.onReadable(count); },
      onWritable: (count) => this.#onWritable(count),
      onError: () => this.fail(this.#connected
        ? { kind: "closed", message: "connection ended" }
        : { kind: "refused", message: "connection failed" }),
    };
  }

  attach(raw: RawStream): void {
    if (this.#finished) raw.close();
    else this.#raw = raw;
  }

  get finished(): boolean { return this.#finished; }

  fail(error: SocketError): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#drop();
    this.#handlers.onError(error);
  }

  read(): Uint8Array | undefined {
    if (!this.#raw) return undefined;
    const parts: Uint8Array[] = [];
    for (;;) {
      const chunk = this.#raw.read();
      if (chunk === undefined || chunk.byteLength === 0) break;
      parts.push(new Uint8Array(chunk));
    }
    if (parts.length === 0) return undefined;
    return parts.length === 1 ? parts[0] : concat(...parts);
  }

  write(data: Uint8Array): void {
    if (this.#finished) throw new BoardError("socket-finished", "write on a finished socket");
    if (data.length === 0) return;
    this.#queue.push(data.slice());
    this.#flush();
  }

  close(): void {
    this.#finished = true;
    this.#drop();
  }

  #drop(): void {
    const raw = this.#raw;
    this.#raw = undefined;
    this.#queue.length = 0;
    try {
      raw?.close();
    } catch {
      // already closed by the SDK after its error
    }
  }

  #onWritable(count: number): void {
    if (this.#finished) return;
    this.#connected = true;
    this.#writable = count;
    this.#flush();
    if (this.#queue.length === 0 && !this.#finished) this.#handlers.onWritable?.(this.#writable);
  }

  #flush(): void {
    while (this.#raw && this.#connected && this.#writable > 0 && this.#queue.length > 0) {
      const head = this.#queue[0]!;
      const n = Math.min(head.length, this.#writable);
      try {
        this.#raw.write(toArrayBuffer(head.subarray(0, n)));
      } catch (e) {
        this.fail({ kind: "io", message: `write failed: ${e instanceof Error ? e.message : "unknown"}` });
        return;
      }
      this.#writable -= n;
      if (n === head.length) this.#queue.shift();
      else this.#queue[0] = head.subarray(n);
    }
  }
}

/**
 * The TCP transport the SDK's TLS session runs over: every byte it writes and reads is shown to
 * `tap` (the core's handshake observer), and its callbacks — the SDK's TLS code — run guarded: an
 * exception there goes to `fault` instead of aborting XS. The ECMA-419 read(buffer) form returns
 * the count it filled.
 */
/**
 * The transport class for one TLS socket, and `takeOverReRead()`, to call after each read from the
 * TLS socket. tlssocket.js read(): once the app has taken the record it held, bytes still waiting
 * on the transport are run through the session from the SDK's own `Timer.set` — outside every
 * callback guarded here, so a fatal alert or a bad record there (ssl_alert.js, ssl_record.js throw)
 * would be fxAbort. takeOverReRead() hides the waiting count from that Timer (it finds `readable`
 * 0 and does nothing) and runs the same re-read from a guarded timer of its own.
 */
interface Transport {
  readonly io: typeof TCP;
  takeOverReRead(): void;
  stop(): void;
}

function transportFor(tap: TransportTap, fault: (error: unknown) => void): Transport {
  // tlssocket.js keeps the count of waiting bytes as a plain `readable` property on the transport
  let instance: (TCP & { readable?: number }) | undefined;
  let onReadable: ((count: number) => void) | undefined;
  let stopped = false;
  let reads = 0;
  let reRead: ReturnType<typeof Timer.set> | undefined;
  const guard = <A extends unknown[]>(fn: ((...args: A) => void) | undefined) => (fn === undefined ? undefined : (...args: A): void => {
    try {
      fn(...args);
    } catch (e) {
      fault(e);
    }
  });
  const see = (direction: "client" | "server", bytes: Uint8Array): void => {
    try {
      tap(direction, bytes);
    } catch {
      // the observer keeps its own errors; nothing may escape into the SDK
    }
  };
  class ObservedTcp extends TCP {
    constructor(options: ConstructorParameters<typeof TCP>[0]) {
      const readable = guard(options.onReadable);
      super({ ...options, onReadable: readable, onWritable: guard(options.onWritable), onError: guard(options.onError) });
      onReadable = readable;
    }

    override read(byteLength?: number): number | ArrayBuffer;
    override read(buffer: ByteBuffer): void;
    override read(into?: number | ByteBuffer): number | ArrayBuffer | void {
      reads += 1;
      const result = (TCP.prototype.read as (this: TCP, into?: unknown) => number | ArrayBuffer).call(this, into);
      const view = into as unknown;
      if (ArrayBuffer.isView(view)) see("server", new Uint8Array(view.buffer, view.byteOffset, typeof result === "number" ? Math.min(result, view.byteLength) : view.byteLength));
      else if (result instanceof ArrayBuffer) see("server", new Uint8Array(result));
      return result;
    }

    override write(data: number | ByteBuffer): void {
      instance = this; // the session's first write (ClientHello) names the transport
      const d = data as unknown;
      if (ArrayBuffer.isView(d)) see("client", new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      else if (d instanceof ArrayBuffer) see("client", new Uint8Array(d));
      (TCP.prototype.write as (this: TCP, data: unknown) => void).call(this, data);
    }
  }
  return {
    io: ObservedTcp,
    takeOverReRead(): void {
      const waiting = instance?.readable;
      if (stopped || instance === undefined || onReadable === undefined || typeof waiting !== "number" || waiting <= 0) return;
      instance.readable = 0;
      const seen = reads;
      reRead ??= Timer.set(() => {
        reRead = undefined;
        // a transport onReadable since then carried the current count and the session read it
        if (stopped || instance === undefined || reads !== seen) return;
        instance.readable = waiting;
        onReadable?.(waiting);
      }, 0);
    },
    stop(): void {
      stopped = true;
      if (reRead !== undefined) Timer.clear(reRead);
      reRead = undefined;
      // nothing of the closed SDK socket is kept
      instance = undefined;
      onReadable = undefined;
    },
  };
}

/**
 * The SDK TLS session's options from the core's TlsOptions (PEM → DER). No trust anchor: the SDK
 * verifies nothing (`verify: false`), the core checks the chain against `options.ca`.
 */
export function secureOptions(options: TlsOptions): SecureOptions {
  const secure: SecureOptions = { serverName: options.serverName ?? options.host, verify: false, cache: false };
  if (options.clientCertificate !== undefined) {
    secure.clientCertificates = pemToDer(options.clientCertificate, ["CERTIFICATE"]).map(toArrayBuffer);
  }
  if (options.clientKey !== undefined) {
    const [key] = pemToDer(options.clientKey.revealString(), ["PRIVATE KEY"]);
    if (!key) throw new BoardError("pem", "client key is not a PKCS#8 PRIVATE KEY");
    secure.clientKey = toArrayBuffer(key);
  }
  if (options.alpn !== undefined) secure.applicationLayerProtocolNegotiation = [...options.alpn];
  return secure;
}

export interface BoardNetworkDeps {
  readonly clock: Clock;
  readonly crypto: CryptoProvider;
  readonly log: LogSink;
}

export class BoardNetwork implements Network {
  readonly #deps: BoardNetworkDeps;

  constructor(deps: BoardNetworkDeps) {
    this.#deps = deps;
  }

  tcp(options: TcpOptions): Socket {
    const socket = new StreamSocket(options);
    this.#dial(socket, options.host, (address) => {
      const tcp = new TCP({ address, port: options.port, nodelay: true, format: "buffer", ...socket.callbacks() });
      // format "buffer": read() gives an ArrayBuffer, or undefined when nothing waits (the SDK's
      // typings also allow the number that format "number" returns)
      return { read: () => tcp.read() as ArrayBuffer | undefined, write: (data) => tcp.write(data), close: () => tcp.close() };
    });
    return socket;
  }

  /** TLS verified by the core; PEM errors surface to the caller synchronously (code "pem"). */
  tls(options: TlsOptions): Socket {
    return verifiedTls(options, (o, tap) => this.#uncheckedTls(o, tap), this.#deps);
  }

  /** The SDK's TLS with its verification off, over a transport the core's observer reads. */
  #uncheckedTls(options: TlsOptions, tap: TransportTap): Socket {
    const secure = secureOptions(options);
    const socket = new StreamSocket(options);
    const transport = transportFor(tap, (e) => {
      // thrown by the SDK's TLS inside a socket callback: a refused handshake, not a reboot
      socket.fail({ kind: "tls", message: `the TLS stack stopped: ${e instanceof Error ? e.message : "error"}` });
    });
    this.#dial(socket, options.host, (address): RawStream => {
      // Not a fresh literal: the SDK's typings (tls.d.ts) do not list the TCP option tlssocket.js reads.
      const tlsOptions = { address, host: options.host, port: options.port, nodelay: true, format: "buffer" as const, secure, TCP: { io: transport.io }, ...socket.callbacks() };
      const tls = new TLSSocket(tlsOptions);
      // read() without a count returns everything waiting (tlssocket.js); the SDK's typings require a count.
      const readAll = tls.read as unknown as (this: TLSSocket) => ArrayBuffer | undefined;
      return {
        read: () => {
          const data = readAll.call(tls);
          transport.takeOverReRead();
          return data;
        },
        write: (data) => void tls.write(data),
        close: () => {
          transport.stop();
          tls.close();
        },
      };
    });
    return socket;
  }

  udp(options: UdpOptions): UdpSocket {
    let finished = false;
    const udp = new UDP({
      ...(options.port ? { port: options.port } : {}),
      format: "buffer",
      onReadable: (count) => { if (!finished) options.onReadable(count); },
      onError: () => {
        if (finished) return;
        finished = true;
        options.onError?.({ kind: "io", message: "UDP socket failed" });
      },
    });
    return {
      read(): Datagram | undefined {
        const packet = udp.read() as ReturnType<typeof udp.read> | undefined; // undefined when none waits
        if (packet === undefined) return undefined;
        return { data: new Uint8Array(packet.slice(0)), address: packet.address, port: packet.port };
      },
      write(data: Uint8Array, address: string, port: number): void {
        if (finished) throw new BoardError("socket-finished", "write on a finished UDP socket");
        udp.write(toArrayBuffer(data), address, port);
      },
      close(): void {
        finished = true;
        // present at run time (modules/io/socket/lwip/udp.js), missing from the SDK's typings
        (udp as unknown as { close(): void }).close();
      },
    };
  }

  #dial(socket: StreamSocket, host: string, open: (address: string) => RawStream): void {
    // Failures are reported from a fresh turn: the caller has its socket before any handler runs.
    const fail = (error: SocketError) => { Timer.set(() => socket.fail(error), 0); };
    resolveHost(host, (address) => {
      if (socket.finished) return;
      if (address === undefined) return fail({ kind: "dns", message: `cannot resolve ${host}` });
      try {
        socket.attach(open(address));
      } catch (e) {
        fail({ kind: "io", message: `cannot open socket: ${e instanceof Error ? e.message : "unknown"}` });
      }
    });
  }
}
