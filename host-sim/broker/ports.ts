// Loopback port helpers for brokers started as separate processes.
import { createServer, connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** A port that was free a moment ago (the OS picks it; there is a small race until it is bound). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolve(address.port);
        else reject(new Error("could not determine a free port"));
      });
    });
  });
}

function tryConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export interface WaitForPortOptions {
  tries?: number;
  intervalMs?: number;
  /** Checked between tries: stop early (e.g. the server process died). Returns a reason. */
  abort?: () => string | undefined;
}

/** Polls until a TCP connect to host:port succeeds; throws after a bounded number of tries. */
export async function waitForPort(host: string, port: number, opts: WaitForPortOptions = {}): Promise<void> {
  const tries = opts.tries ?? 200;
  const intervalMs = opts.intervalMs ?? 50;
  for (let i = 0; i < tries; i++) {
    const reason = opts.abort?.();
    if (reason) throw new Error(reason);
    if (await tryConnect(host, port)) return;
    await sleep(intervalMs);
  }
  throw new Error(`nothing accepted connections on ${host}:${port} after ${tries} tries`);
}
