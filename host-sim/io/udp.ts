// node:dgram behind the I/O object's `UdpSocket`: datagrams queue up, onReadable(count) says how
// many wait, read() hands out one at a time. Bound on 0.0.0.0 with broadcast allowed, because
// hub discovery falls back to UDP broadcast.
import { createSocket, type Socket as DgramSocket } from "node:dgram";
import type { Datagram, SocketError, UdpOptions, UdpSocket } from "../../src/io/io.js";

export class NodeUdpSocket implements UdpSocket {
  readonly #options: UdpOptions;
  readonly #socket: DgramSocket;
  readonly #queue: Datagram[] = [];
  readonly #onFinished: (() => void) | undefined;
  #closed = false;

  constructor(options: UdpOptions, onFinished?: () => void) {
    this.#options = options;
    this.#onFinished = onFinished;
    this.#socket = createSocket({ type: "udp4", reuseAddr: options.port !== undefined && options.port !== 0 });
    this.#socket.on("message", (data, from) => this.#received({ data: new Uint8Array(data), address: from.address, port: from.port }));
    this.#socket.on("error", (e: NodeJS.ErrnoException) => this.#failed(e));
    this.#socket.bind(options.port ?? 0, "0.0.0.0", () => this.#socket.setBroadcast(true));
  }

  read(): Datagram | undefined {
    return this.#queue.shift();
  }

  write(data: Uint8Array, address: string, port: number): void {
    if (this.#closed) throw new Error("UDP socket is closed");
    this.#socket.send(Buffer.from(data), port, address, (e) => {
      if (e) this.#failed(e as NodeJS.ErrnoException);
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onFinished?.();
    this.#socket.close();
  }

  /** The local port actually bound (after the first turn of the event loop). */
  get localPort(): number | undefined {
    try {
      return this.#socket.address().port;
    } catch {
      return undefined; // not bound yet
    }
  }

  #received(datagram: Datagram): void {
    if (this.#closed) return;
    this.#queue.push(datagram);
    this.#options.onReadable(this.#queue.length);
  }

  /** A failed send does not end a UDP socket; a failed bind does (nothing can arrive). */
  #failed(e: NodeJS.ErrnoException): void {
    if (this.#closed) return;
    const error: SocketError = { kind: e.code === "ENOTFOUND" || e.code === "EAI_AGAIN" ? "dns" : "io", message: `udp: ${e.message}` };
    if (e.syscall === "bind") this.close();
    this.#options.onError?.(error);
  }
}
