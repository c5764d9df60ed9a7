// Messages between the core running inside XS (guest) and the Node process that owns the real
// I/O (host). XS calls the host synchronously (issueCommand) for every I/O operation; the host
// delivers asynchronous events (socket readable, timer fired, …) as commands, one at a time,
// and XS runs until its promise queue is empty before answering. Bytes travel as base64.
import type { LogRecord } from "../../src/log/logger.js";
import type { SocketErrorKind } from "../../src/io/io.js";

export type GuestRequest =
  | { op: "device.new" }
  | { op: "device.reboot"; device: number }
  | { op: "flash.cut"; device: number; write: number; byte: number }
  | { op: "flash.count"; device: number }
  | { op: "kv.read"; device: number; key: string }
  | { op: "kv.write"; device: number; key: string; value: string }
  | { op: "kv.delete"; device: number; key: string }
  | { op: "socket.open"; device: number; kind: "tcp" | "tls"; options: SocketOpenOptions }
  | { op: "socket.read"; socket: number }
  | { op: "socket.write"; socket: number; data: string }
  | { op: "socket.close"; socket: number }
  | { op: "udp.open"; device: number; port?: number }
  | { op: "udp.read"; socket: number }
  | { op: "udp.write"; socket: number; data: string; address: string; port: number }
  | { op: "udp.close"; socket: number }
  | { op: "timer.set"; device: number; ms: number }
  | { op: "timer.clear"; device: number; timer: number }
  | { op: "clock.now"; device: number }
  | { op: "clock.monotonic"; device: number }
  | { op: "random"; device: number; length: number }
  | { op: "device.mac"; device: number }
  | { op: "device.restart"; device: number }
  | { op: "log"; device: number; record: LogRecord }
  | { op: "scenario.done"; run: number; error?: string }
  /** Collect garbage between commands and report the live heap (answered by a "heap.sampled" event). */
  | { op: "heap.sample"; id: number; label: string };

/** For kind "tls" the host opens Node's TLS with its checks off and taps it: the verifier runs inside XS. */
export interface SocketOpenOptions {
  host: string;
  port: number;
  ca?: string;
  serverName?: string;
  clientCertificate?: string;
  /** The PEM key crosses the pipe revealed: this is the device handing it to its own TLS stack. */
  clientKey?: string;
  alpn?: string[];
  trustOnFirstUse?: boolean;
}

/** Every reply is one of these; `error` carries a storage or socket failure to rethrow in XS. */
export interface HostReply {
  ok?: unknown;
  error?: { type: "power-cut" | "storage" | "host"; code?: string; message: string };
}

export type HostEvent =
  | { ev: "list" }
  | { ev: "run"; run: number; scenario: string; broker?: unknown }
  | { ev: "socket.writable"; socket: number; count: number }
  | { ev: "socket.readable"; socket: number; count: number }
  /** TLS: transport bytes for the core's handshake observer inside XS, until the handshake is done. */
  | { ev: "socket.tap"; socket: number; direction: "client" | "server"; data: string }
  | { ev: "socket.error"; socket: number; kind: SocketErrorKind; message: string }
  | { ev: "udp.readable"; socket: number; count: number }
  | { ev: "timer"; timer: number }
  | { ev: "gc" }
  | { ev: "heap.sampled"; id: number; slots: number };
