// emoncms' discovery beacon: the 12 ASCII bytes "emonpi.local" sent over UDP (port 5005 on a LAN,
// to the broadcast address); the receiver takes the sender's address as the hub. The reference
// hub sends to a configurable list of targets so tests can use loopback ports.
import { createSocket, type Socket } from "node:dgram";

export const ANNOUNCEMENT = "emonpi.local";

export interface Announcer {
  /** Send one announcement to every target now. */
  announce(): void;
  readonly sent: number;
  close(): Promise<void>;
}

export async function startAnnouncer(targets: readonly { host: string; port: number }[], intervalMs: number): Promise<Announcer> {
  const socket: Socket = createSocket({ type: "udp4" });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, () => { socket.off("error", reject); resolve(); });
  });
  socket.setBroadcast(true);
  socket.on("error", () => {}); // an unreachable target must not stop the hub
  let sent = 0;
  const payload = Buffer.from(ANNOUNCEMENT, "ascii");
  const announce = () => {
    for (const t of targets) {
      socket.send(payload, t.port, t.host, () => {});
      sent += 1;
    }
  };
  const timer = setInterval(announce, intervalMs);
  timer.unref();
  announce();
  return {
    announce,
    get sent() { return sent; },
    close: () => new Promise<void>((resolve) => { clearInterval(timer); socket.close(() => resolve()); }),
  };
}
