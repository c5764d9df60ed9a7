// A minimal driver for Moddable's XS engine as built by the npm package @agoric/xsnap.
// We speak the worker's pipe protocol ourselves (netstrings on file descriptors 3 and 4) rather
// than use the package's JavaScript API, because that API requires SES to lock down the Node
// process first. Protocol, as implemented by xsnap-worker:
//   to XS:   "e<source>" evaluate a script, "?<bytes>" deliver a command to globalThis.handleCommand,
//            "/<bytes>" the reply to a query XS issued
//   from XS: ".<meter json>\x01<reply>" done, "!<message>" uncaught error, "?<bytes>" a query
//            (XS called issueCommand and blocks until we answer)
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { Readable, Writable } from "node:stream";

export interface MeterUsage {
  compute?: number | null;
  allocate?: number | null;
  currentHeapCount?: number | null;
}

export interface WorkerOptions {
  /** Answers XS's synchronous issueCommand(); must not be async: XS is blocked meanwhile. */
  onQuery(request: Uint8Array): Uint8Array;
  /** Compute budget per delivery; 0 (the default here) disables metering: a long scenario or
   *  benchmark must not be killed by xsnap's own crank limit. */
  meteringLimit?: number;
  name?: string;
}

export class XsError extends Error {}

/** xsnap-worker's exit codes (its own documentation of them is @agoric/xsnap's api.js). */
const EXIT_REASONS: Record<number, string> = {
  1: "bad usage", 2: "I/O error", 11: "not enough memory", 12: "stack overflow",
  15: "unhandled exception", 16: "property name space exhausted", 17: "too much computation",
};

export function xsnapBinary(): string {
  const require = createRequire(import.meta.url);
  const pkg = dirname(require.resolve("@agoric/xsnap/package.json"));
  return join(pkg, "xsnap-native", "xsnap", "build", "bin", "lin", "release", "xsnap-worker");
}

export class XsWorker {
  readonly #child: ChildProcess;
  readonly #toXs: Writable;
  readonly #onQuery: (request: Uint8Array) => Uint8Array;
  #buffer = Buffer.alloc(0);
  #waiting: { resolve(reply: { reply: Uint8Array; meter: MeterUsage }): void; reject(e: Error): void } | undefined;
  #exited: Error | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: WorkerOptions) {
    const args = [options.name ?? "xs-core"];
    args.push("-l", String(options.meteringLimit ?? 0));
    this.#onQuery = options.onQuery;
    this.#child = spawn(xsnapBinary(), args, {
      stdio: ["ignore", "inherit", "inherit", "pipe", "pipe", "ignore", "ignore", "ignore", "ignore"],
    });
    this.#toXs = this.#child.stdio[3] as Writable;
    // A worker that died leaves its pipe closed: report that as the exit, not as an unhandled
    // "write after end" that would take the test process down.
    this.#toXs.on("error", (e: Error) => {
      this.#waiting?.reject(this.#exited ?? new XsError(`XS worker pipe failed: ${e.message}`));
      this.#waiting = undefined;
    });
    const fromXs = this.#child.stdio[4] as Readable;
    fromXs.on("data", (chunk: Buffer) => this.#onData(chunk));
    fromXs.on("error", () => {}); // the exit handler reports a dead worker, with its exit code
    this.#child.on("exit", (code, signal) => {
      const why = code === null ? `signal ${signal}` : `code ${code}${EXIT_REASONS[code] ? `: ${EXIT_REASONS[code]}` : ""}`;
      this.#exited = new XsError(`XS worker exited (${why})`);
      this.#waiting?.reject(this.#exited);
      this.#waiting = undefined;
    });
  }

  /** Evaluate a script (sloppy global code). */
  evaluate(source: string): Promise<{ reply: Uint8Array; meter: MeterUsage }> {
    return this.#send(Buffer.concat([Buffer.from("e"), Buffer.from(source, "utf8")]));
  }

  /** Call globalThis.handleCommand(bytes) inside XS; resolves once XS is idle again. */
  command(bytes: Uint8Array): Promise<{ reply: Uint8Array; meter: MeterUsage }> {
    return this.#send(Buffer.concat([Buffer.from("?"), bytes]));
  }

  /** Write a snapshot of the machine to `path` (xsnap's "w"; XS collects garbage first); its size in bytes. */
  async snapshot(path: string): Promise<number> {
    const { reply } = await this.#send(Buffer.concat([Buffer.from("w"), Buffer.from(path, "utf8")]));
    return Number(Buffer.from(reply).toString("ascii"));
  }

  async close(): Promise<void> {
    if (this.#exited) return;
    const gone = new Promise<void>((resolve) => this.#child.once("exit", () => resolve()));
    this.#toXs.end();
    this.#child.kill();
    await gone;
  }

  #send(message: Buffer): Promise<{ reply: Uint8Array; meter: MeterUsage }> {
    const run = () =>
      new Promise<{ reply: Uint8Array; meter: MeterUsage }>((resolve, reject) => {
        if (this.#exited) return reject(this.#exited);
        this.#waiting = { resolve, reject };
        this.#writeNetstring(message);
      });
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => undefined);
    return result;
  }

  #writeNetstring(payload: Buffer): void {
    this.#toXs.write(Buffer.concat([Buffer.from(`${payload.length}:`), payload, Buffer.from(",")]));
  }

  #onData(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const colon = this.#buffer.indexOf(0x3a);
      if (colon < 0) return;
      const length = Number(this.#buffer.subarray(0, colon).toString("ascii"));
      if (!Number.isInteger(length)) throw new XsError("xsnap protocol error: bad netstring length");
      if (this.#buffer.length < colon + 1 + length + 1) return;
      const message = this.#buffer.subarray(colon + 1, colon + 1 + length);
      this.#buffer = this.#buffer.subarray(colon + 1 + length + 1);
      this.#onMessage(Buffer.from(message));
    }
  }

  #onMessage(message: Buffer): void {
    const kind = message[0];
    if (kind === 0x3f /* ? */) {
      let answer: Uint8Array;
      try {
        answer = this.#onQuery(message.subarray(1));
      } catch (e) {
        answer = Buffer.from(JSON.stringify({ hostError: String((e as Error)?.message ?? e) }));
      }
      this.#writeNetstring(Buffer.concat([Buffer.from("/"), answer]));
      return;
    }
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (!waiting) throw new XsError("xsnap protocol error: reply with nothing pending");
    if (kind === 0x2e /* . */) {
      const sep = message.indexOf(1, 1);
      const meter = sep >= 0 ? (JSON.parse(message.subarray(1, sep).toString("utf8")) as MeterUsage) : {};
      waiting.resolve({ reply: new Uint8Array(message.subarray(sep >= 0 ? sep + 1 : 1)), meter });
    } else if (kind === 0x21 /* ! */) {
      waiting.reject(new XsError(`uncaught exception in XS: ${message.subarray(1).toString("utf8")}`));
    } else {
      waiting.reject(new XsError(`xsnap protocol error: unknown message ${message.subarray(0, 40).toString("utf8")}`));
    }
  }
}
