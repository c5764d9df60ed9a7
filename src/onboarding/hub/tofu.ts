// Learning the hub's key on first use: a TLS handshake that accepts any certificate, the key read
// at the first onWritable, and the connection closed without a byte written. The pairing request
// is signed over this key and sent on a second connection pinned to it.
import type { Io, Socket } from "../../io/io.js";

export type KeyProbeErrorCode =
  /** No TLS connection: refused, reset, timeout, handshake failed. */
  | "unreachable"
  /** The platform reported no key for the server (its I/O cannot see the certificate). */
  | "unsupported";

export class KeyProbeError extends Error {
  constructor(readonly code: KeyProbeErrorCode, message: string) {
    super(message);
  }
}

export function probeServerKey(io: Io, host: string, port: number, timeoutMs = 15_000): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let socket: Socket | undefined;
    const finish = (error: KeyProbeError | undefined, key?: Uint8Array) => {
      if (settled) return;
      settled = true;
      io.timers.clear(timer);
      socket?.close();
      if (error) reject(error);
      else resolve(key!);
    };
    const timer = io.timers.set(() => finish(new KeyProbeError("unreachable", `${host}:${port}: no TLS handshake in time`)), timeoutMs);
    try {
      socket = io.network.tls({
        host, port, trustOnFirstUse: true,
        onWritable: () => {
          const key = socket?.peerKey?.();
          if (key === undefined || key.length !== 32) finish(new KeyProbeError("unsupported", `${host}:${port}: the platform did not report the server's key`));
          else finish(undefined, key);
        },
        onReadable: () => { /* nothing is expected before we write */ },
        onError: (e) => finish(new KeyProbeError("unreachable", `${host}:${port}: ${e.kind}: ${e.message}`)),
      });
    } catch (e) {
      finish(new KeyProbeError("unreachable", e instanceof Error ? e.message : "cannot open a TLS socket"));
    }
  });
}
