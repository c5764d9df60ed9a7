// Runs INSIDE the XS engine: an Io whose every operation is a synchronous call to the Node host
// (issueCommand), and the dispatcher for the events the host delivers (handleCommand). Only
// ECMAScript and our own src/ helpers are used here, like on the board.
import type { Datagram, Io, Socket, SocketHandlers, TimerId, UdpOptions, UdpSocket } from "../../../src/io/io.js";
import type { LogRecord } from "../../../src/log/logger.js";
import { fromBase64, fromUtf8, toBase64, utf8 } from "../../../src/bytes/bytes.js";
import { jsCrypto } from "../../../src/crypto/js-provider.js";
import type { FlashControl, SimDevice } from "../../../test/scenarios/harness.js";
import type { GuestRequest, HostEvent, HostReply } from "../protocol.js";
import { verifiedTls, type TransportTap } from "../../../src/tls/verified-tls.js";

declare const issueCommand: (request: ArrayBuffer) => ArrayBuffer;

interface NativeCodecs {
  TextEncoder: new () => { encode(text: string): Uint8Array };
  TextDecoder: new () => { decode(bytes: Uint8Array): string };
  Base64: { encode(buffer: ArrayBuffer): string; decode(text: string): ArrayBuffer };
  gc?: () => void;
}

// The worker's native codecs, kept aside by board-prelude.js for the bridge only; the pure
// JavaScript ones from src/bytes are the fallback (and what the core itself uses).
const native = (globalThis as unknown as Record<symbol, NativeCodecs | undefined>)[Symbol.for("onboarding.xs-bridge")];
const encoder = native && new native.TextEncoder();
const decoder = native && new native.TextDecoder();
const encodeText = (text: string): Uint8Array => (encoder ? encoder.encode(text) : utf8(text));
const decodeText = (bytes: Uint8Array): string => (decoder ? decoder.decode(bytes) : fromUtf8(bytes));
const encode64 = (bytes: Uint8Array): string =>
  native ? native.Base64.encode(bytes.slice().buffer as ArrayBuffer) : toBase64(bytes);
const decode64 = (text: string): Uint8Array => (native ? new Uint8Array(native.Base64.decode(text)) : fromBase64(text));

/** Thrown in XS for a simulated power cut or another storage failure reported by the host. */
export class HostStorageError extends Error {
  constructor(readonly kind: "power-cut" | "storage", readonly code: string | undefined, message: string) {
    super(message);
  }
}

export function call(request: GuestRequest): unknown {
  const bytes = encodeText(JSON.stringify(request));
  const reply = JSON.parse(decodeText(new Uint8Array(issueCommand(bytes.buffer as ArrayBuffer)))) as HostReply;
  if (reply.error) {
    if (reply.error.type === "host") throw new Error(`host: ${reply.error.message}`);
    throw new HostStorageError(reply.error.type, reply.error.code, reply.error.message);
  }
  return reply.ok;
}

/** XS's own collector (kept aside by the prelude); the host runs it as a command of its own. */
export function collectGarbage(): void {
  native?.gc?.();
}

const heapWaiters = new Map<number, (slots: number) => void>();
let nextHeapSample = 1;

/** Live XS heap in slots after a full collection, run by the host between commands. */
export function sampleHeap(label: string): Promise<number> {
  const id = nextHeapSample++;
  return new Promise((resolve) => {
    heapWaiters.set(id, resolve);
    call({ op: "heap.sample", id, label });
  });
}

const sockets = new Map<number, SocketHandlers>();
const taps = new Map<number, TransportTap>();
const datagrams = new Map<number, UdpOptions>();
const timers = new Map<number, () => void>();

/** Deliver one host event; the caller (handleCommand) returns once the promise queue drains. */
export function dispatch(event: HostEvent): void {
  switch (event.ev) {
    case "socket.writable":
      sockets.get(event.socket)?.onWritable?.(event.count);
      break;
    case "socket.readable":
      sockets.get(event.socket)?.onReadable(event.count);
      break;
    case "socket.tap":
      taps.get(event.socket)?.(event.direction, decode64(event.data));
      break;
    case "socket.error": {
      const handlers = sockets.get(event.socket);
      sockets.delete(event.socket);
      taps.delete(event.socket);
      handlers?.onError({ kind: event.kind, message: event.message });
      break;
    }
    case "udp.readable":
      datagrams.get(event.socket)?.onReadable(event.count);
      break;
    case "timer": {
      const callback = timers.get(event.timer);
      timers.delete(event.timer);
      callback?.();
      break;
    }
    case "heap.sampled": {
      const resolve = heapWaiters.get(event.id);
      heapWaiters.delete(event.id);
      resolve?.(event.slots);
      break;
    }
    case "gc":
      collectGarbage();
      break;
    case "run":
    case "list":
      break; // handled by main.ts
  }
}

export function bridgedDevice(device: number): SimDevice {
  const logs: LogRecord[] = [];
  const io: Io = {
    network: {
      tcp: (options) => openSocket(device, "tcp", options, {}),
      // TLS is decided here, inside XS, by the core's verifier with our JavaScript signature
      // primitives, on the transport bytes the host's (unchecked) TLS exchanged.
      tls: (options) => verifiedTls(options, (o, tap) => openSocket(device, "tls", o, {
        ...(o.serverName !== undefined ? { serverName: o.serverName } : {}),
        ...(o.clientCertificate !== undefined ? { clientCertificate: o.clientCertificate } : {}),
        ...(o.clientKey !== undefined ? { clientKey: o.clientKey.revealString() } : {}),
        ...(o.alpn !== undefined ? { alpn: [...o.alpn] } : {}),
        ...(o.trustOnFirstUse ? { trustOnFirstUse: true } : {}),
      }, tap), { clock: io.clock, crypto: jsCrypto, log: (record) => io.log(record) }),
      udp: (options) => openUdp(device, options),
    },
    storage: {
      read(key) {
        const value = call({ op: "kv.read", device, key }) as string | null;
        return value === null ? undefined : decode64(value);
      },
      write(key, value) {
        call({ op: "kv.write", device, key, value: encode64(value) });
      },
      delete(key) {
        call({ op: "kv.delete", device, key });
      },
    },
    timers: {
      set(callback, ms): TimerId {
        const timer = call({ op: "timer.set", device, ms }) as number;
        timers.set(timer, callback);
        return timer;
      },
      clear(timer) {
        if (timers.delete(timer)) call({ op: "timer.clear", device, timer });
      },
    },
    clock: {
      now: () => call({ op: "clock.now", device }) as number,
      monotonic: () => call({ op: "clock.monotonic", device }) as number,
    },
    random(into) {
      into.set(decode64(call({ op: "random", device, length: into.length }) as string));
    },
    crypto: jsCrypto,
    device: {
      mac: () => (call({ op: "device.mac", device }) as string | null) ?? undefined,
      restart: () => void call({ op: "device.restart", device }),
    },
    log(record) {
      logs.push(record);
      call({ op: "log", device, record });
    },
  };
  const flash: FlashControl = {
    cutPowerAt: (write, byte) => void call({ op: "flash.cut", device, write, byte }),
    get writeCount() {
      return call({ op: "flash.count", device }) as number;
    },
  };
  return {
    io,
    flash,
    logs,
    reboot: () => bridgedDevice(call({ op: "device.reboot", device }) as number),
  };
}

function openSocket(device: number, kind: "tcp" | "tls", options: SocketHandlers & { host: string; port: number }, extra: object, tap?: TransportTap): Socket {
  const socket = call({ op: "socket.open", device, kind, options: { host: options.host, port: options.port, ...extra } }) as number;
  sockets.set(socket, options);
  if (tap) taps.set(socket, tap);
  return {
    read() {
      const data = call({ op: "socket.read", socket }) as string | null;
      return data === null ? undefined : decode64(data);
    },
    write(data) {
      call({ op: "socket.write", socket, data: encode64(data) });
    },
    close() {
      sockets.delete(socket);
      taps.delete(socket);
      call({ op: "socket.close", socket });
    },
  };
}

function openUdp(device: number, options: UdpOptions): UdpSocket {
  const socket = call({ op: "udp.open", device, ...(options.port !== undefined ? { port: options.port } : {}) }) as number;
  datagrams.set(socket, options);
  return {
    read(): Datagram | undefined {
      const d = call({ op: "udp.read", socket }) as { data: string; address: string; port: number } | null;
      return d === null ? undefined : { data: decode64(d.data), address: d.address, port: d.port };
    },
    write(data, address, port) {
      call({ op: "udp.write", socket, data: encode64(data), address, port });
    },
    close() {
      datagrams.delete(socket);
      call({ op: "udp.close", socket });
    },
  };
}
