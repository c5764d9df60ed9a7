// Fakes of the ECMA-419 sockets (mirrors modules/io/socket/lwip/tcp.js + tcp.c, udp.js + udp.c;
// TLS: examples/io/tcp/tlssocket/tlssocket.js) with the SDK's rules: TCP needs an IP address (lwIP does not
// resolve names), a write larger than the last onWritable count throws, nothing is delivered after
// close. The test plays the peer through `peers`.
import Timer from "./timer.js";
import { bytesOf, isIpv4 } from "./world.js";

interface StreamCallbacks {
  onReadable?: (count: number) => void;
  onWritable?: (count: number) => void;
  onError?: () => void;
}

export class FakePeer {
  readonly options: Record<string, unknown>;
  readonly kind: "tcp" | "tls";
  readonly sent: Uint8Array[] = [];
  #callbacks: StreamCallbacks;
  #inbox: Uint8Array[] = [];
  writable = 0;
  connected = false;
  closed = false;
  /** TLS only: the TCP transport the TLS socket built from TCP.io, and the peer behind it. */
  transport: { socket: TCP; peer: FakePeer } | undefined;
  /** TLS only: the next transport callback throws this, as the SDK's TLS does when it refuses a handshake. */
  sessionFault: string | undefined;

  constructor(kind: "tcp" | "tls", options: Record<string, unknown>, callbacks: StreamCallbacks) {
    this.kind = kind;
    this.options = options;
    this.#callbacks = callbacks;
  }

  /**
   * TLS only: play the SDK session's handshake with recorded bytes — the client's flights written
   * through the transport, the server's sent to it and read through it (what the glue's observer
   * sees) — then the TLS socket is up with `count` writable bytes.
   */
  handshake(flights: readonly { d: "client" | "server"; bytes: Uint8Array }[], count = 1000): void {
    const t = this.transport;
    if (!t) throw new Error("handshake: not a TLS peer");
    t.peer.accept(1 << 20);
    for (const f of flights) {
      if (f.d === "client") t.socket.write(f.bytes.slice().buffer);
      else {
        t.peer.send(f.bytes);
        t.socket.read();
      }
    }
    this.accept(count);
  }
  /** TLS only: the SDK's TLS throws inside its transport callback (ssl_handshake.js refusing a server). */
  throwInSession(message: string): void {
    const t = this.transport;
    if (!t) throw new Error("throwInSession: not a TLS peer");
    this.sessionFault = message;
    t.peer.send(Uint8Array.of(21, 3, 3, 0, 2, 2, 40));
  }

  /**
   * TLS only, after the handshake: the server's next flight carries `data` (an application record)
   * and behind it a record the SDK's session throws on — a fatal alert (ssl_alert.js
   * `throw new TLSError("alert: …")`, `message`). tlssocket.js decrypts the first record, holds it
   * (#data) and tells the app; the trailing bytes wait on the transport (`readable`) until the app
   * has read, then its own Timer (read(): `this.#doRead ??= Timer.set(…)`) runs the session on them.
   */
  sendThenFault(data: Uint8Array, message: string): void {
    const t = this.transport;
    if (!t) throw new Error("sendThenFault: not a TLS peer");
    this.#inbox.push(data.slice());
    this.sessionFault = message;
    t.peer.send(Uint8Array.of(21, 3, 3, 0, 2, 2, 40)); // held: the TLS socket still has #data
    this.#callbacks.onReadable?.(data.length);
  }
  /** TLS only: bytes the TLS layer decrypted and holds for the app (tlssocket.js #data). */
  get holding(): boolean { return this.#inbox.length > 0; }

  /** The connection is up and `count` bytes may be written. */
  accept(count: number): void {
    this.connected = true;
    this.grant(count);
  }
  grant(count: number): void {
    if (this.closed) return;
    this.writable = count;
    this.#callbacks.onWritable?.(count);
  }
  send(bytes: Uint8Array): void {
    if (this.closed) return;
    this.#inbox.push(bytes.slice());
    this.#callbacks.onReadable?.(bytes.length);
  }
  fail(): void {
    if (this.closed) return;
    this.#callbacks.onError?.();
  }
  sentBytes(): Uint8Array {
    let n = 0;
    for (const s of this.sent) n += s.length;
    const out = new Uint8Array(n);
    let o = 0;
    for (const s of this.sent) { out.set(s, o); o += s.length; }
    return out;
  }

  read(): ArrayBuffer | undefined {
    if (this.closed) throw new Error("read: closed");
    const next = this.#inbox.shift();
    return next ? next.slice().buffer : undefined;
  }
  write(data: unknown): void {
    if (this.closed) throw new Error("write: closed");
    if (!this.connected) throw new Error("write: not connected");
    const bytes = bytesOf(data, "write");
    if (bytes.length > this.writable) throw new Error("write: would block");
    this.writable -= bytes.length;
    this.sent.push(bytes);
  }
  close(): void {
    if (this.closed) throw new Error("close: already closed");
    this.closed = true;
  }
}

export const peers: FakePeer[] = [];

function checkStreamOptions(options: Record<string, unknown>, what: string): void {
  if (!isIpv4(options.address)) throw new Error(`${what}: address must be an IP address`);
  if (typeof options.port !== "number" || options.port <= 0 || options.port > 65535) throw new RangeError(`${what}: port`);
  if (options.format !== undefined && options.format !== "buffer") throw new RangeError(`${what}: format`);
}

/** The options as the fakes inspect them (any object: the checks below are the point). */
type AnyOptions = object & StreamCallbacks;
const fields = (options: AnyOptions) => options as Record<string, unknown> & StreamCallbacks;

export class TCP {
  readonly #peer: FakePeer;
  constructor(anyOptions: AnyOptions) {
    const options = fields(anyOptions);
    checkStreamOptions(options, "TCP");
    this.#peer = new FakePeer("tcp", options, options);
    peers.push(this.#peer);
  }
  // undefined when nothing waits, as at run time; typed as the SDK's typings say
  read(): ArrayBuffer { return this.#peer.read() as ArrayBuffer; }
  write(data: ArrayBuffer | ArrayBufferView): void { this.#peer.write(data); }
  close(): void { this.#peer.close(); }
  get remoteAddress(): string | undefined { return this.#peer.options.address as string; }
  get remotePort(): number | undefined { return this.#peer.options.port as number; }
}

export class TLSSocket {
  readonly #peer: FakePeer;
  constructor(anyOptions: AnyOptions) {
    const options = fields(anyOptions);
    checkStreamOptions(options, "TLSSocket");
    if (typeof options.host !== "string") throw new Error("TLSSocket: host required (SNI)");
    const secure = options.secure as Record<string, unknown> | undefined;
    if (typeof secure !== "object" || secure === null) throw new Error("TLSSocket: secure required");
    if (secure.certificate !== undefined && !(secure.certificate instanceof ArrayBuffer)) throw new TypeError("secure.certificate must be DER in an ArrayBuffer");
    if (secure.clientKey !== undefined && !(secure.clientKey instanceof ArrayBuffer)) throw new TypeError("secure.clientKey must be DER in an ArrayBuffer");
    const io = (options.TCP as { io?: unknown } | undefined)?.io;
    // The SDK's TLSSocket constructs whatever TCP.io is: the TCP class or a subclass of it.
    if (io !== TCP && !(typeof io === "function" && io.prototype instanceof TCP)) throw new Error("TLSSocket: TCP.io must be the TCP class or a subclass");
    this.#peer = new FakePeer("tls", options, options);
    peers.push(this.#peer);
    // As tlssocket.js: the session's transport is built from TCP.io with the TLS socket's own
    // callbacks, which run the session (and throw when it refuses the server).
    const peer = this.#peer;
    const Transport = io as typeof TCP;
    // As tlssocket.js, `readable` is a plain property the TLS socket keeps on its transport object.
    const socket = new Transport({
      ...options,
      onReadable: (count: number) => this.#onReadable(count),
      onWritable: () => undefined,
      onError: () => peer.fail(),
    } as AnyOptions) as TCP & { readable: number };
    socket.readable = 0;
    this.#socket = socket;
    const transportPeer = peers.pop()!; // reached through the TLS peer, not as a socket of its own
    peer.transport = { socket, peer: transportPeer };
  }
  readonly #socket: TCP & { readable: number };
  #doRead: ReturnType<typeof Timer.set> | undefined;
  /** tlssocket.js #onReadable: note the count; while the app has not read what it holds, wait. */
  #onReadable(count: number): void {
    this.#socket.readable = count;
    if (this.#peer.holding) return;
    this.#runSession();
  }
  /** The session reading the transport: a pending fault throws here, as ssl_alert.js / ssl_handshake.js do. */
  #runSession(): void {
    const fault = this.#peer.sessionFault;
    this.#peer.sessionFault = undefined;
    if (fault !== undefined) throw new Error(fault);
  }
  /** tlssocket.js: no count = everything waiting (the only form the glue uses). */
  read(count?: number | ArrayBufferLike): ArrayBuffer | undefined {
    if (count !== undefined) throw new Error("fake TLSSocket: the glue reads everything (no count)");
    const data = this.#peer.read();
    // tlssocket.js read(): once the held data is taken and the transport has bytes waiting, its own
    // Timer runs the session on them — outside any callback the glue gave (an exception there is fxAbort).
    if (data !== undefined && !this.#peer.holding && this.#socket.readable) {
      this.#doRead ??= Timer.set(() => {
        this.#doRead = undefined;
        if (this.#socket.readable) this.#onReadable(this.#socket.readable);
      });
    }
    return data;
  }
  write(data: ArrayBufferLike | ArrayBufferView): number { this.#peer.write(data); return bytesOf(data, "write").length; }
  close(): undefined {
    Timer.clear(this.#doRead);
    this.#doRead = undefined;
    this.#peer.close();
    const t = this.#peer.transport;
    if (t && !t.peer.closed) t.socket.close();
    return undefined;
  }
}

type Packet = ArrayBuffer & { readonly address: string; readonly port: number };

export class UDP {
  static readonly sockets: UDP[] = [];
  readonly options: { port?: number; onReadable?: (packets: number) => void; onError?: () => void };
  readonly outbox: { data: Uint8Array; address: string; port: number }[] = [];
  readonly #inbox: Packet[] = [];
  closed = false;
  constructor(options: { port?: number; format?: string; onReadable?: (packets: number) => void; onError?: () => void }) {
    if (options.format !== undefined && options.format !== "buffer") throw new RangeError("UDP: format");
    this.options = options;
    UDP.sockets.push(this);
  }
  deliver(data: Uint8Array, address: string, port: number): void {
    this.#inbox.push(Object.assign(data.slice().buffer, { address, port }));
    this.options.onReadable?.(this.#inbox.length);
  }
  // undefined when none waits, as at run time; typed as the SDK's typings say
  read(): Packet {
    if (this.closed) throw new Error("read: closed");
    return this.#inbox.shift() as Packet;
  }
  write(data: ArrayBuffer | ArrayBufferView, address: string, port: number): void {
    if (this.closed) throw new Error("write: closed");
    if (!isIpv4(address)) throw new Error("UDP write: address must be an IP address");
    this.outbox.push({ data: bytesOf(data, "UDP write"), address, port });
  }
  close(): void {
    this.closed = true;
  }
}
