// The debugger end of the xsbug protocol, just enough to run a debug build of the firmware
// headless: the SDK's simulator (mcsim) connects to XSBUG_HOST:XSBUG_PORT, sends its trace()
// output as <log> elements and, every second, its instrumentation as <samples> (chunk and slot
// heap in use, stack peak, GC count …, described once by <instruments>). We answer <login> and
// every <break> with <go/> so it never stops (xsbug does the same for a machine it only logs).
import { createServer, type Server, type Socket } from "node:net";

export interface Instruments {
  /** Names in sample order, e.g. "Chunk used", "Slot used", "Stack used". */
  readonly names: readonly string[];
}

export interface XsbugEvents {
  onLog?(text: string): void;
  onSample?(values: Readonly<Record<string, number>>): void;
  onBreak?(text: string): void;
  onLogin?(name: string): void;
}

const ENTITIES: Readonly<Record<string, string>> = { "&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": '"', "&apos;": "'" };
const unescape = (s: string): string => s.replace(/&(lt|gt|amp|quot|apos|#x?[0-9a-fA-F]+);/g, (m) => {
  if (ENTITIES[m] !== undefined) return ENTITIES[m]!;
  const code = m[2] === "x" ? parseInt(m.slice(3, -1), 16) : parseInt(m.slice(2, -1), 10);
  return Number.isFinite(code) ? String.fromCodePoint(code) : m;
});

export class XsbugServer {
  readonly #server: Server;
  readonly #events: XsbugEvents;
  readonly #sockets = new Set<Socket>();
  #names: string[] = [];

  private constructor(server: Server, events: XsbugEvents) {
    this.#server = server;
    this.#events = events;
    server.on("connection", (socket) => this.#accept(socket));
  }

  static async listen(events: XsbugEvents): Promise<XsbugServer> {
    const server = createServer();
    const x = new XsbugServer(server, events);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return x;
  }

  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  /** Ask the connected machine to run its garbage collector? The protocol has no such command; see sim-run. */
  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: Socket): void {
    this.#sockets.add(socket);
    socket.setEncoding("utf8");
    let buffer = "";
    socket.on("data", (chunk: string) => {
      buffer += chunk;
      for (;;) {
        const end = buffer.indexOf("</xsbug>");
        if (end < 0) break;
        const start = buffer.indexOf("<xsbug>");
        const message = buffer.slice(start + 7, end);
        buffer = buffer.slice(end + 8);
        this.#handle(socket, message);
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => this.#sockets.delete(socket));
  }

  #handle(socket: Socket, message: string): void {
    const go = () => socket.write("\r\n<go/>\r\n");
    const login = /<login name="([^"]*)"/.exec(message);
    if (login) {
      this.#events.onLogin?.(unescape(login[1]!));
      socket.write("\r\n<set-all-breakpoints></set-all-breakpoints>\r\n");
      go();
    }
    for (const m of message.matchAll(/<instrument name="([^"]*)" value="[^"]*"\/>/g)) {
      if (this.#names.length === 0 || m.index === message.indexOf("<instrument ")) this.#names = [];
      this.#names.push(unescape(m[1]!));
    }
    for (const m of message.matchAll(/<log[^>]*>([\s\S]*?)<\/log>/g)) this.#events.onLog?.(unescape(m[1]!));
    for (const m of message.matchAll(/<samples>([^<]*)<\/samples>/g)) {
      const values = m[1]!.split(",").map((v) => Number(v));
      const named: Record<string, number> = {};
      this.#names.forEach((name, i) => { named[name] = values[i]!; });
      this.#events.onSample?.(named);
    }
    const broke = /<break[^>]*>([\s\S]*?)<\/break>/.exec(message);
    if (broke) {
      // the frames say where: the function, file and line of each level of the stack
      const at = /<break path="([^"]*)" line="(\d+)"/.exec(message);
      const frames = [...message.matchAll(/<frame name="([^"]*)" value="[^"]*"(?: path="([^"]*)" line="(\d+)")?/g)]
        .map((f) => `${unescape(f[1]!)}${f[2] !== undefined ? ` (${unescape(f[2])}:${f[3]})` : ""}`);
      this.#events.onBreak?.(`${unescape(broke[1]!)}${at ? ` at ${unescape(at[1]!)}:${at[2]}` : ""}${frames.length > 0 ? ` stack: ${frames.join(" <- ")}` : ""}`);
      go();
    }
  }
}
