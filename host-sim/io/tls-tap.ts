// A TCP connection whose bytes a tap sees in both directions, for Node's TLS client to run over:
// the core's handshake observer reads the same records Node's TLS writes and reads.
import { connect as netConnect, type Socket as NodeSocket } from "node:net";
import { Duplex } from "node:stream";
import type { Direction } from "../../src/tls/observer.js";

export type TransportTap = (direction: Direction, bytes: Uint8Array) => void;

export class TappedTransport extends Duplex {
  readonly raw: NodeSocket;
  readonly #tap: TransportTap;

  constructor(host: string, port: number, tap: TransportTap) {
    super();
    this.#tap = tap;
    this.raw = netConnect({ host, port });
    this.raw.setNoDelay(true);
    this.raw.on("data", (chunk: Buffer) => {
      this.#tap("server", new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
      if (!this.push(chunk)) this.raw.pause();
    });
    this.raw.on("end", () => this.push(null));
    this.raw.on("error", (e) => this.destroy(e));
    this.raw.on("close", () => { if (!this.destroyed) this.destroy(); });
  }

  override _read(): void {
    this.raw.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.#tap("client", new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    this.raw.write(chunk, done);
  }

  override _final(done: (error?: Error | null) => void): void {
    this.raw.end(done);
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.raw.destroy();
    done(error);
  }
}
