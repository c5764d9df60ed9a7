// A TCP proxy on loopback that stands between a device and its broker: it delays every chunk
// (half the injected round-trip latency each way), counts round trips as the direction of the
// traffic turns, and can cut, refuse or black-hole connections at a chosen protocol step.
// Used by the bench (latency), the fault tests (cuts at every step) and the fleet (counting).
import { createServer, connect, type Server, type Socket } from "node:net";

export type Direction = "up" | "down"; // up: device → broker

/** What to do with a chunk about to be forwarded: pass it, or cut the connection instead. */
export type ChunkVerdict = "forward" | "cut" | "hold";

export interface ProxyConnectionInfo {
  readonly id: number;
  /** Chunks forwarded so far in each direction. */
  readonly chunks: { up: number; down: number };
  /** Flights: runs of chunks in one direction; a new flight starts when the direction turns. */
  readonly flights: { up: number; down: number };
}

export interface TcpProxyOptions {
  readonly target: { readonly host: string; readonly port: number };
  /** Injected round-trip latency: each chunk waits half of it. Default 0. */
  readonly latencyMs?: number;
  /** Decides per chunk; "hold" swallows it and every later one (a black hole). Default: forward. */
  readonly onChunk?: (connection: ProxyConnectionInfo, direction: Direction, chunk: Buffer) => ChunkVerdict;
  /** Decides per new connection: false closes it at once (as if the port were dead). */
  readonly onConnection?: (id: number) => boolean;
}

export interface ProxyStats {
  connections: number;
  refused: number;
  cuts: number;
  bytes: { up: number; down: number };
}

export interface TcpProxy {
  readonly host: string;
  readonly port: number;
  readonly stats: ProxyStats;
  /** Live connections, for their flight counts. */
  readonly connections: ReadonlyMap<number, ProxyConnectionInfo>;
  latencyMs: number;
  /** Refuse (close at once) every new connection while true. */
  refuseNew: boolean;
  /** Cut every live connection now (both sides see a reset/close). */
  cutAll(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const stats: ProxyStats = { connections: 0, refused: 0, cuts: 0, bytes: { up: 0, down: 0 } };
  const live = new Map<number, { info: ProxyConnectionInfo; cut(): void }>();
  const infos = new Map<number, ProxyConnectionInfo>();
  let nextId = 1;
  const proxy = {
    host: "127.0.0.1",
    port: 0,
    stats,
    connections: infos,
    latencyMs: options.latencyMs ?? 0,
    refuseNew: false,
    cutAll() {
      for (const c of [...live.values()]) c.cut();
    },
    close: async () => {},
  };

  const server: Server = createServer((device: Socket) => {
    const id = nextId++;
    stats.connections++;
    if (proxy.refuseNew || options.onConnection?.(id) === false) {
      stats.refused++;
      device.resetAndDestroy();
      return;
    }
    const info = { id, chunks: { up: 0, down: 0 }, flights: { up: 0, down: 0 } };
    let last: Direction | undefined;
    let held = false;
    const broker = connect(options.target.port, options.target.host);
    broker.setNoDelay(true);
    device.setNoDelay(true);
    const cut = () => {
      if (!live.delete(id)) return;
      infos.delete(id);
      stats.cuts++;
      device.resetAndDestroy();
      broker.resetAndDestroy();
    };
    const end = () => {
      if (!live.delete(id)) return;
      infos.delete(id);
      device.destroy();
      broker.destroy();
    };
    live.set(id, { info, cut });
    infos.set(id, info);
    const pipe = (from: Socket, to: Socket, direction: Direction) => {
      from.on("data", (chunk: Buffer) => {
        if (held) return;
        if (last !== direction) info.flights[direction]++;
        last = direction;
        const verdict = options.onChunk?.(info, direction, chunk) ?? "forward";
        if (verdict === "cut") return cut();
        if (verdict === "hold") { held = true; return; }
        info.chunks[direction]++;
        stats.bytes[direction] += chunk.length;
        const delay = proxy.latencyMs / 2;
        if (delay <= 0) to.write(chunk);
        else setTimeout(() => { if (!to.destroyed) to.write(chunk); }, delay);
      });
      from.on("end", () => setTimeout(end, proxy.latencyMs / 2));
      from.on("error", end);
      from.on("close", () => setTimeout(end, proxy.latencyMs / 2));
    };
    pipe(device, broker, "up");
    pipe(broker, device, "down");
  });
  server.on("error", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (!address || typeof address !== "object") throw new Error("proxy: no address");
  proxy.port = address.port;
  proxy.close = () => new Promise<void>((resolve) => {
    proxy.cutAll();
    server.close(() => resolve());
  });
  return proxy;
}
