// A cancellable view of the I/O object for work the lifecycle may have to abandon half-way (the
// onboarding chain: an HTTP exchange, a back-off sleep). Everything started through the scope is
// tracked; cancel() clears its timers and closes its sockets, so nothing of it runs afterwards and
// no timer or socket is left behind. Strategies and the chain need no cancellation code of their
// own: a cancelled run simply never resumes (a timer or socket asked for afterwards never fires).
import type { Io, Network, Socket, SocketError, TimerId, Timers, UdpSocket } from "../io/io.js";

export interface IoScope {
  readonly io: Io;
  readonly cancelled: boolean;
  /** Timers and sockets started through the scope that are still alive. */
  readonly live: number;
  cancel(): void;
}

const deadSocket = (): Socket => ({ read: () => undefined, write: () => undefined, close: () => undefined });
const deadUdp = (): UdpSocket => ({ read: () => undefined, write: () => undefined, close: () => undefined });

export function scopeIo(io: Io): IoScope {
  let cancelled = false;
  const timers = new Set<TimerId>();
  const sockets = new Set<{ close(): void }>();

  const scopedTimers: Timers = {
    set(callback, ms) {
      if (cancelled) return -1; // never fires: throwing would only surface as a stray rejection
      const id = io.timers.set(() => {
        timers.delete(id);
        if (!cancelled) callback();
      }, ms);
      timers.add(id);
      return id;
    },
    clear(id) {
      if (!timers.delete(id)) return;
      io.timers.clear(id);
    },
  };

  // A socket leaves the list when its user closes it or it finishes (onError).
  function track<O extends { readonly onError?: (e: SocketError) => void }, S extends { close(): void }>(
    options: O, open: (o: O) => S, dead: () => S, wrap: (s: S, forget: () => void) => S,
  ): S {
    if (cancelled) return dead();
    let socket: S | undefined;
    const forget = () => { if (socket) sockets.delete(socket); };
    const onError = options.onError;
    const handlers: O = onError === undefined ? options : { ...options, onError: (e: SocketError) => { forget(); if (!cancelled) onError(e); } };
    socket = wrap(open(handlers), forget);
    sockets.add(socket);
    return socket;
  }
  const wrapStream = (s: Socket, forget: () => void): Socket => ({
    read: () => s.read(),
    write: (data) => s.write(data),
    close: () => { forget(); s.close(); },
    // The hub strategy pins the server's key: a wrapper must not hide it.
    ...(s.peerKey !== undefined ? { peerKey: () => s.peerKey!() } : {}),
    ...(s.tlsVerified !== undefined ? { tlsVerified: () => s.tlsVerified!() } : {}),
  });
  const wrapUdp = (s: UdpSocket, forget: () => void): UdpSocket => ({
    read: () => s.read(),
    write: (data, address, port) => s.write(data, address, port),
    close: () => { forget(); s.close(); },
  });
  const network: Network = {
    tcp: (o) => track(o, (h) => io.network.tcp(h), deadSocket, wrapStream),
    tls: (o) => track(o, (h) => io.network.tls(h), deadSocket, wrapStream),
    udp: (o) => track(o, (h) => io.network.udp(h), deadUdp, wrapUdp),
  };

  return {
    io: { ...io, timers: scopedTimers, network },
    get cancelled() { return cancelled; },
    get live() { return timers.size + sockets.size; },
    cancel() {
      if (cancelled) return;
      cancelled = true;
      for (const id of timers) io.timers.clear(id);
      timers.clear();
      for (const s of [...sockets]) {
        try {
          s.close();
        } catch {
          // already finished on the platform's side: nothing left to release
        }
      }
      sockets.clear();
    },
  };
}
