// The Node side of the XS test bridge: bundles the core with the scenarios, loads it into an
// XS worker after the board prelude, answers the worker's I/O calls with host-sim's real I/O
// (sockets, flash with power cuts, timers) and delivers socket/timer events back into XS.
import { build } from "esbuild";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Socket, UdpSocket } from "../../src/io/io.js";
import { Secret } from "../../src/secrets/secret.js";
import type { BrokerEnv } from "../../test/scenarios/harness.js";
import { createSimDevice, isPowerCut, isStorageError, type HostSimDevice } from "../sim-device.js";
import type { GuestRequest, HostEvent, HostReply } from "./protocol.js";
import { XsWorker, type MeterUsage } from "./worker.js";

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, "..", "..");

/** All engine-neutral scenario files, in a stable order. */
export function scenarioFiles(dir = join(repoRoot, "test", "scenarios")): string[] {
  return readdirSync(dir).filter((f) => f.endsWith(".scenario.ts")).sort().map((f) => join(dir, f));
}

/** Every module of the firmware core (src/ without the board glue), in a stable order. */
export function coreModuleFiles(dir = join(repoRoot, "src")): string[] {
  const out: string[] = [];
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) {
        if (path !== join(dir, "platform", "moddable")) walk(path);
      } else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) {
        out.push(path);
      }
    }
  };
  walk(dir);
  return out;
}

/**
 * Bundle the scenarios and every core module into one script for XS, so that each module of
 * src/ is loaded by the engine even if no scenario reaches it yet. platform "neutral" makes any
 * Node built-in imported from src/ a build error.
 */
export async function bundleScenarios(files: readonly string[], core: readonly string[] = coreModuleFiles()): Promise<string> {
  const entry = [
    `import { start } from ${JSON.stringify(join(here, "guest", "main.ts"))};`,
    ...files.map((f, i) => `import * as m${i} from ${JSON.stringify(f)};`),
    ...core.map((f, i) => `import * as c${i} from ${JSON.stringify(f)};`),
    `start([${files.map((_f, i) => `m${i}`).join(", ")}], [${core.map((_f, i) => `c${i}`).join(", ")}]);`,
  ].join("\n");
  const result = await build({
    stdin: { contents: entry, resolveDir: repoRoot, sourcefile: "xs-entry.ts", loader: "ts" },
    bundle: true,
    write: false,
    format: "iife",
    banner: { js: '"use strict";' }, // the board runs modules, and modules are strict
    platform: "neutral",
    mainFields: ["module", "main"],
    conditions: ["import", "default"],
    target: "es2022",
    logLevel: "silent",
  });
  return result.outputFiles[0]!.text;
}

export interface XsRunResult {
  readonly name: string;
  readonly error?: string;
  readonly meter?: MeterUsage;
  /** Live heap after a full collection, at each point the scenario asked (heap-probe.ts). */
  readonly heapSamples?: readonly HeapSample[];
}

export interface HeapSample {
  readonly label: string;
  /** Slots in use right after XS's collector ran (xsnap meter currentHeapCount). */
  readonly slots: number;
  /** Bytes XS has taken from the system so far (xsnap meter allocate): slots and chunks, never given back. */
  readonly allocatedBytes: number;
  /** With `snapshotSamples`: size of an XS snapshot taken right after (live slots and chunks, serialised). */
  readonly snapshotBytes?: number;
}

export interface XsHostOptions {
  /** How `ctx.device()` devices are made on the host (default createSimDevice()): e.g. on a ManualClock. */
  readonly createDevice?: () => HostSimDevice;
  /** Also write an XS snapshot at each heap sample and record its size (slower). */
  readonly snapshotSamples?: boolean;
}

/** Deliveries into XS so far, for a driver that waits until the guest is quiet. */
export interface XsActivity {
  readonly delivered: number;
  readonly socketEvents: number;
  readonly inFlight: number;
  /** Sockets opened whose connection (TLS handshake included) has not completed or failed yet. */
  readonly connecting: number;
}

export class XsScenarioHost {
  readonly #worker: XsWorker;
  readonly #devices = new Map<number, HostSimDevice>();
  readonly #sockets = new Map<number, Socket>();
  readonly #udp = new Map<number, UdpSocket>();
  readonly #timers = new Map<number, { device: HostSimDevice; id: number }>();
  #nextHandle = 1;
  #running: { run: number; done(error?: string): void } | undefined;
  #runCounter = 0;
  #broker: BrokerEnv | undefined;
  #lastMeter: MeterUsage = {};
  #peakHeap = 0;
  #heapSamples: HeapSample[] = [];
  readonly #createDevice: () => HostSimDevice;
  readonly #snapshotSamples: boolean;
  readonly #activity = { delivered: 0, socketEvents: 0, inFlight: 0 };
  readonly #connecting = new Set<number>();

  private constructor(options: XsHostOptions) {
    this.#worker = new XsWorker({ onQuery: (bytes) => this.#onQuery(bytes), meteringLimit: 0 });
    this.#createDevice = options.createDevice ?? (() => createSimDevice());
    this.#snapshotSamples = options.snapshotSamples ?? false;
  }

  static async start(files: readonly string[] = scenarioFiles(), options: XsHostOptions = {}): Promise<XsScenarioHost> {
    const host = new XsScenarioHost(options);
    await host.#worker.evaluate(readFileSync(join(here, "guest", "board-prelude.js"), "utf8"));
    await host.#worker.evaluate(await bundleScenarios(files));
    return host;
  }

  async list(): Promise<string[]> {
    const { reply } = await this.#worker.command(encode({ ev: "list" }));
    return (JSON.parse(Buffer.from(reply).toString("utf8")) as { scenarios: string[] }).scenarios;
  }

  /** How many core modules XS evaluated, and how many exports they have in all. */
  async coreModules(): Promise<{ modules: number; exports: number }> {
    const { reply } = await this.#worker.command(encode({ ev: "list" }));
    return (JSON.parse(Buffer.from(reply).toString("utf8")) as { core: { modules: number; exports: number } }).core;
  }

  /** Run one scenario to completion inside XS. Rejects if it fails or takes longer than `timeoutMs`. */
  async run(name: string, options: { broker?: BrokerEnv; timeoutMs?: number } = {}): Promise<XsRunResult> {
    const run = ++this.#runCounter;
    this.#broker = options.broker;
    this.#peakHeap = 0;
    this.#heapSamples = [];
    const finished = new Promise<string | undefined>((resolveRun, reject) => {
      const timer = setTimeout(() => reject(new Error(`scenario "${name}" did not finish on XS within ${options.timeoutMs ?? 120_000} ms`)), options.timeoutMs ?? 120_000);
      this.#running = { run, done: (error) => { clearTimeout(timer); resolveRun(error); } };
    });
    await this.#deliver({ ev: "run", run, scenario: name, ...(options.broker ? { broker: options.broker } : {}) });
    try {
      const error = await finished;
      return { name, ...(error !== undefined ? { error } : {}), meter: { ...this.#lastMeter, currentHeapCount: this.#peakHeap }, heapSamples: this.#heapSamples };
    } finally {
      this.#running = undefined;
      this.#releaseAll();
    }
  }

  async close(): Promise<void> {
    this.#releaseAll();
    await this.#worker.close();
  }

  /** What has been delivered into XS so far (a virtual-clock driver waits for quiet). */
  get activity(): XsActivity {
    return { ...this.#activity, connecting: this.#connecting.size };
  }

  /** Run XS's collector now, between deliveries; the live heap afterwards. */
  async collectGarbage(): Promise<{ slots: number; allocatedBytes: number }> {
    const { meter } = await this.#worker.command(encode({ ev: "gc" } satisfies HostEvent));
    return { slots: meter.currentHeapCount ?? NaN, allocatedBytes: meter.allocate ?? NaN };
  }

  /** Size in bytes of an XS snapshot of the machine now (written to a temporary file, then removed). */
  async snapshotBytes(): Promise<number> {
    const dir = mkdtempSync(join(tmpdir(), "xs-snapshot-"));
    try {
      return await this.#worker.snapshot(join(dir, "machine.xss"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  async #deliver(event: HostEvent): Promise<MeterUsage> {
    this.#activity.inFlight++;
    try {
      const { meter } = await this.#worker.command(encode(event));
      this.#lastMeter = meter;
      this.#peakHeap = Math.max(this.#peakHeap, meter.currentHeapCount ?? 0);
      return meter;
    } finally {
      this.#activity.inFlight--;
      this.#activity.delivered++;
      if (event.ev.startsWith("socket.") || event.ev.startsWith("udp.")) this.#activity.socketEvents++;
    }
  }

  #post(event: HostEvent): void {
    void this.#deliver(event).catch((e: unknown) => {
      if (this.#running) this.#running.done(`XS failed while handling ${event.ev}: ${(e as Error).message}`);
    });
  }

  #onQuery(bytes: Uint8Array): Uint8Array {
    const request = JSON.parse(Buffer.from(bytes).toString("utf8")) as GuestRequest;
    let reply: HostReply;
    try {
      reply = { ok: this.#handle(request) ?? null };
    } catch (e) {
      if (isPowerCut(e)) reply = { error: { type: "power-cut", message: (e as Error).message } };
      else if (isStorageError(e)) reply = { error: { type: "storage", code: (e as { code?: string }).code, message: (e as Error).message } };
      else reply = { error: { type: "host", message: (e as Error)?.message ?? String(e) } };
    }
    return encode(reply);
  }

  #device(id: number): HostSimDevice {
    const device = this.#devices.get(id);
    if (!device) throw new Error(`unknown device ${id}`);
    return device;
  }

  #handle(r: GuestRequest): unknown {
    switch (r.op) {
      case "device.new": return this.#register(this.#createDevice());
      case "device.reboot": return this.#register(this.#device(r.device).reboot());
      case "flash.cut": return this.#device(r.device).flash.cutPowerAt(r.write, r.byte);
      case "flash.count": return this.#device(r.device).flash.writeCount;
      case "kv.read": {
        const value = this.#device(r.device).io.storage.read(r.key);
        return value === undefined ? null : Buffer.from(value).toString("base64");
      }
      case "kv.write": return this.#device(r.device).io.storage.write(r.key, new Uint8Array(Buffer.from(r.value, "base64")));
      case "kv.delete": return this.#device(r.device).io.storage.delete(r.key);
      case "socket.open": return this.#openSocket(r);
      case "socket.read": {
        const data = this.#sockets.get(r.socket)?.read();
        return data === undefined ? null : Buffer.from(data).toString("base64");
      }
      case "socket.write": return this.#sockets.get(r.socket)?.write(new Uint8Array(Buffer.from(r.data, "base64")));
      case "socket.close": {
        this.#connecting.delete(r.socket);
        this.#sockets.get(r.socket)?.close();
        return this.#sockets.delete(r.socket);
      }
      case "udp.open": {
        const handle = this.#nextHandle++;
        this.#udp.set(handle, this.#device(r.device).io.network.udp({
          ...(r.port !== undefined ? { port: r.port } : {}),
          onReadable: (count) => this.#post({ ev: "udp.readable", socket: handle, count }),
        }));
        return handle;
      }
      case "udp.read": {
        const d = this.#udp.get(r.socket)?.read();
        return d === undefined ? null : { data: Buffer.from(d.data).toString("base64"), address: d.address, port: d.port };
      }
      case "udp.write": return this.#udp.get(r.socket)?.write(new Uint8Array(Buffer.from(r.data, "base64")), r.address, r.port);
      case "udp.close": {
        this.#udp.get(r.socket)?.close();
        return this.#udp.delete(r.socket);
      }
      case "timer.set": {
        const handle = this.#nextHandle++;
        const device = this.#device(r.device);
        const id = device.io.timers.set(() => {
          if (this.#timers.delete(handle)) this.#post({ ev: "timer", timer: handle });
        }, r.ms);
        this.#timers.set(handle, { device, id });
        return handle;
      }
      case "timer.clear": {
        const t = this.#timers.get(r.timer);
        this.#timers.delete(r.timer);
        if (t) t.device.io.timers.clear(t.id);
        return null;
      }
      case "clock.now": return this.#device(r.device).io.clock.now();
      case "clock.monotonic": return this.#device(r.device).io.clock.monotonic();
      case "random": {
        const bytes = new Uint8Array(r.length);
        this.#device(r.device).io.random(bytes);
        return Buffer.from(bytes).toString("base64");
      }
      case "device.mac": return this.#device(r.device).io.device.mac() ?? null;
      case "device.restart": return this.#device(r.device).io.device.restart();
      case "log": return this.#device(r.device).io.log(r.record);
      case "heap.sample": {
        // After this delivery ends: XS is between commands, only live objects remain reachable.
        const { id, label } = r;
        this.#activity.inFlight++; // the gc is due: a quiet-waiting driver must not move on
        void this.#deliver({ ev: "gc" }).then(async (meter) => {
          const slots = meter.currentHeapCount ?? NaN;
          const snapshotBytes = this.#snapshotSamples ? await this.snapshotBytes() : undefined;
          this.#heapSamples.push({ label, slots, allocatedBytes: meter.allocate ?? NaN, ...(snapshotBytes !== undefined ? { snapshotBytes } : {}) });
          this.#post({ ev: "heap.sampled", id, slots });
        }, (e: unknown) => {
          if (this.#running) this.#running.done(`XS failed while collecting garbage: ${(e as Error).message}`);
        }).finally(() => { this.#activity.inFlight--; });
        return null;
      }
      case "scenario.done": {
        if (this.#running?.run === r.run) this.#running.done(r.error);
        return null;
      }
    }
  }

  #register(device: HostSimDevice): number {
    const handle = this.#nextHandle++;
    this.#devices.set(handle, device);
    return handle;
  }

  #openSocket(r: Extract<GuestRequest, { op: "socket.open" }>): number {
    const handle = this.#nextHandle++;
    const device = this.#device(r.device);
    const o = r.options;
    let tapping = r.kind === "tls";
    const handlers = {
      host: o.host,
      port: o.port,
      onWritable: (count: number) => {
        tapping = false; // the handshake is over: what follows is encrypted application data
        this.#connecting.delete(handle);
        this.#post({ ev: "socket.writable", socket: handle, count });
      },
      onReadable: (count: number) => this.#post({ ev: "socket.readable", socket: handle, count }),
      // The socket stays registered: XS may still read what arrived before the error.
      onError: (error: { kind: import("../../src/io/io.js").SocketErrorKind; message: string }) => {
        tapping = false;
        this.#connecting.delete(handle);
        this.#post({ ev: "socket.error", socket: handle, kind: error.kind, message: error.message });
      },
    };
    // TLS: Node negotiates with its checks off and shows every transport byte to the core's
    // verifier, which runs inside XS (guest/bridge.ts) — the same split as on the board.
    const socket = r.kind === "tcp"
      ? device.io.network.tcp(handlers)
      : device.io.network.uncheckedTls({
          ...handlers,
          ...(o.serverName !== undefined ? { serverName: o.serverName } : {}),
          ...(o.clientCertificate !== undefined ? { clientCertificate: o.clientCertificate } : {}),
          ...(o.clientKey !== undefined ? { clientKey: Secret.fromString(o.clientKey) } : {}),
          ...(o.alpn !== undefined ? { alpn: o.alpn } : {}),
          ...(o.trustOnFirstUse ? { trustOnFirstUse: true } : {}),
        }, (direction, bytes) => {
          if (tapping) this.#post({ ev: "socket.tap", socket: handle, direction, data: Buffer.from(bytes).toString("base64") });
        });
    this.#sockets.set(handle, socket);
    this.#connecting.add(handle);
    return handle;
  }

  /** After a scenario: close what it left open so nothing leaks into the next one. */
  #releaseAll(): void {
    for (const socket of this.#sockets.values()) socket.close();
    for (const socket of this.#udp.values()) socket.close();
    for (const { device, id } of this.#timers.values()) device.io.timers.clear(id);
    this.#sockets.clear();
    this.#connecting.clear();
    this.#udp.clear();
    this.#timers.clear();
    this.#devices.clear();
  }
}

function encode(value: unknown): Uint8Array {
  return new Uint8Array(Buffer.from(JSON.stringify(value), "utf8"));
}
