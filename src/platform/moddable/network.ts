// Sockets from the SDK's ECMA-419 modules, adapted to the core's Network.
//
// What the adapter adds, and why:
//   - names: the lwIP TCP socket takes an IP address only, so names go through System.resolve
//     first (failure → "dns").
//   - buffering: an ECMA-419 socket refuses a write larger than the space its last onWritable
//     reported; the core may write a whole MQTT packet at once. Writes are queued and sent as
//     space is reported, and the core hears onWritable only once the queue is empty.
//   - errors: ECMA-419's onError carries no reason. Before the first onWritable it is reported as
//     "refused", after it as "closed". A TLS handshake the SDK rejects ends the same way
//     (the SDK's TLS socket gives no separate signal).
import TCP from "embedded:io/socket/tcp";
// @ts-ignore -- on a board build mcconfig maps this specifier to the SDK example's JavaScript
// (examples/io/tcp/tlssocket), which ships no declarations; CI checks it against types/sockets.d.ts.
import TLSSocket from "embedded:io/socket/tcp/tls";
import UDP from "embedded:io/socket/udp";
import Timer from "timer";
import { Digest } from "crypt";
import type {
  Datagram, Network, Socket, SocketError, SocketHandlers, TcpOptions, TlsOptions, UdpOptions, UdpSocket,
} from "../../io/io.js";
import { concat } from "../../bytes/bytes.js";
import { BoardError } from "./errors.js";
import { pemToDer, toArrayBuffer } from "./pem.js";
import { ServerCertificateTap, subjectPublicKeyInfo } from "../../tls/server-certificate.js";

/** Options of the SDK's TLS session (modules/crypt/ssl) as the glue sets them. */
export interface SecureOptions {
  certificate?: ArrayBuffer;
  serverName?: string;
  clientKey?: ArrayBuffer;
  clientCertificates?: ArrayBuffer[];
  applicationLayerProtocolNegotiation?: string[];
  /** Default true; false only for trust on first use, where the glue pins the key itself. */
  verify?: boolean;
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
  #peerKey: (() => Uint8Array | undefined) | undefined;

  constructor(handlers: SocketHandlers) {
    this.#handlers = handlers;
  }

  peerKeyFrom(source: () => Uint8Array | undefined): void {
    this.#peerKey = source;
  }

  /** SHA-256 of the server's SubjectPublicKeyInfo (trust-on-first-use sockets only). */
  peerKey(): Uint8Array | undefined {
    try {
      return this.#peerKey?.();
    } catch {
      return undefined; // a certificate we cannot parse has no key to pin: the caller refuses
    }
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
 * TCP whose reads a tap sees. The SDK's TLS session reads records into views it passes to read();
 * the ECMA-419 read(buffer) form returns the count it filled.
 */
function tappedTcp(tap: ServerCertificateTap): typeof TCP {
  return class TappedTcp extends TCP {
    override read(byteLength?: number): number | ArrayBuffer;
    override read(buffer: ByteBuffer): void;
    override read(into?: number | ByteBuffer): number | ArrayBuffer | void {
      const result = (TCP.prototype.read as (this: TCP, into?: unknown) => number | ArrayBuffer).call(this, into);
      const view = into as unknown;
      if (!tap.done) {
        if (ArrayBuffer.isView(view)) tap.feed(new Uint8Array(view.buffer, view.byteOffset, typeof result === "number" ? Math.min(result, view.byteLength) : view.byteLength));
        else if (result instanceof ArrayBuffer) tap.feed(new Uint8Array(result));
      }
      return result;
    }
  };
}

function sha256(data: Uint8Array): Uint8Array {
  const digest = new Digest("SHA256");
  digest.write(toArrayBuffer(data));
  return new Uint8Array(digest.close());
}

/** The SDK TLS session's options from the core's TlsOptions (PEM → DER). */
export function secureOptions(options: TlsOptions): SecureOptions {
  const secure: SecureOptions = { serverName: options.serverName ?? options.host };
  if (options.ca !== undefined) {
    // The SDK's certificate manager registers one trust anchor per session: the first one.
    const [anchor] = pemToDer(options.ca, ["CERTIFICATE"]);
    if (!anchor) throw new BoardError("pem", "no CERTIFICATE in the CA");
    secure.certificate = toArrayBuffer(anchor);
  }
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

export class BoardNetwork implements Network {
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

  tls(options: TlsOptions): Socket {
    const secure = secureOptions(options); // PEM errors surface to the caller, synchronously
    const socket = new StreamSocket(options);
    let transport: typeof TCP = TCP;
    if (options.trustOnFirstUse) {
      // The SDK's TLS verifies the chain inside the handshake and keeps no certificate; with
      // verification off, we read the server's certificate off the handshake bytes the session
      // reads (TLS 1.2 sends it in clear) and report its key for the core to compare.
      const tap = new ServerCertificateTap();
      secure.verify = false;
      transport = tappedTcp(tap);
      socket.peerKeyFrom(() => (tap.leaf === undefined ? undefined : sha256(subjectPublicKeyInfo(tap.leaf))));
    }
    this.#dial(socket, options.host, (address): RawStream => {
      // Not a fresh literal: the SDK's typings (tls.d.ts) do not list the TCP option tlssocket.js reads.
      const tlsOptions = { address, host: options.host, port: options.port, nodelay: true, format: "buffer" as const, secure, TCP: { io: transport }, ...socket.callbacks() };
      const tls = new TLSSocket(tlsOptions);
      // read() without a count returns everything waiting (tlssocket.js); the SDK's typings require a count.
      const readAll = tls.read as unknown as (this: TLSSocket) => ArrayBuffer | undefined;
      return { read: () => readAll.call(tls), write: (data) => void tls.write(data), close: () => tls.close() };
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
