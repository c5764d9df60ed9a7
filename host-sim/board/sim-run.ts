// npm run sim:run — the board firmware on the Moddable SDK's own runtime: built for the SDK's Linux
// simulator (mcsim) and run headless under Xvfb against Debian's Mosquitto over TLS (the host-sim
// PKI: leaf + intermediate, as the SDK's TLS requires) and the reference cloud. Needs an SDK the
// user installed ($MODDABLE, host tools built), Xvfb, mosquitto and openssl; says what is missing
// otherwise. Not part of CI.
//
// Runs (each a build with its own factory config and its own flash: a folder for the firmware's
// key files, src/platform/moddable/storage-files.ts):
//   bootstrap  identity made on first boot → bootstrap (external ID = node ID: the simulator has no
//              MAC) → online → telemetry acknowledged (QoS 1) → restart: online again with 0 flash
//              writes → Mosquitto restarted: back online → 1,000 publishes (memory)
//   register   self-registration with the node ID as serial → online → telemetry acknowledged
//   shared     the device class's shared login, client ID "esp" + node ID → online → telemetry acknowledged
//   hub        the local hub (secure mode, fixed address, key pinned): paired, Allow given, credentials
//              released → online → telemetry acknowledged
//   wrong-ca   the bootstrap server's CA is an unrelated one: a typed refusal, the machine lives on
//   tls-faults the bootstrap server fails in the TLS layer, one way per connection: a fatal alert
//              (handshake_failure), the real server's handshake cut mid-way, a record of an unknown
//              type. The SDK's TLS throws inside its transport callbacks for each (ssl_alert.js,
//              ssl_record.js). Each must be a typed failure and a retry, never an XS abort.
//   tls-junk   the broker (through a proxy) answers CONNECT with its CONNACK and, in the same TCP
//              segment, a record that does not decrypt: tlssocket.js runs the session on it from its
//              own re-read Timer, outside the glue's guarded callbacks (issue 12 item 6).
//   provision-http  the provisioning window over Espressif's HTTP transport (the simulator has no
//              BLE), driven by our CLI: Security 2, scan, Wi-Fi config, user mapping; then 503
//              (host-sim/board/sim-provision.ts, also `npm run sim:provision` alone)
//   SIM_RUN_ONLY=<run>,… runs only those (wrong-ca, tls-faults, tls-junk, bootstrap, register, shared, hub, provision-http, fit-…); =fit the fit runs.
// The XS instrumentation (chunk and slot heap in use, stack peak) is sampled every second through
// the xsbug protocol; the report (build/sim-run/report.md) lists it per phase.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, connect, type Socket as NetSocket } from "node:net";
import { join } from "node:path";
import { generateTestPki } from "../certs/pki.js";
import { startCloud, type Cloud } from "../cloud/cloud.js";
import { startHub } from "../hub/hub.js";
import { repoRoot } from "./bundle.js";
import { fail, sdkOrExplain } from "./sdk.js";
import { XsbugServer } from "./xsbug.js";

const work = join(repoRoot, "build", "sim-run");
const EXTERNAL_KEY = "sim-run-external-key";

// ---- prerequisites
function onPath(tool: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" }).status === 0;
}
const path = sdkOrExplain();
const missing = [["Xvfb", "xvfb"], ["mosquitto", "mosquitto"], ["openssl", "openssl"]].filter(([tool]) => !onPath(tool!));
if (missing.length > 0) {
  fail([`sim:run needs ${missing.map(([t, p]) => `${t} (Debian package ${p})`).join(", ")} on PATH.`,
    "mcsim itself needs Debian's libgtk-3-dev to build; Xvfb lets it run without a display."]);
}
const moddable = process.env.MODDABLE!;
const mcsim = join(moddable, "build", "bin", process.platform === "darwin" ? "mac" : "lin", "release", "mcsim");
if (!existsSync(mcsim)) fail([`${mcsim} is missing: build the SDK's simulator (cd $MODDABLE/build/makefiles/lin && make).`]);

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

// ---- report
interface Check { readonly run: string; readonly what: string; readonly ok: boolean; readonly detail: string }
interface MemoryRow {
  readonly phase: string; readonly chunk: number; readonly slots: number; readonly stack: number; readonly gcs: number;
  readonly lowChunk: number; readonly lowSlots: number; readonly peakChunk: number; readonly peakSlots: number; readonly peakStack: number;
}
const checks: Check[] = [];
const memory: MemoryRow[] = [];
function record(run: string, what: string, ok: boolean, detail: string): void {
  checks.push({ run, what, ok, detail });
  console.log(`${ok ? "PASS" : "FAIL"} [${run}] ${what}: ${detail}`);
}

// ---- the simulator
interface Sample { readonly chunk: number; readonly slots: number; readonly stack: number; readonly gcs: number }
class SimRun {
  readonly logs: string[] = [];
  readonly samples: Sample[] = [];
  readonly output: string[] = [];
  #proc: ChildProcess | undefined;
  #exited: number | null | undefined;
  #waiters: (() => void)[] = [];
  #mark = { samples: 0 };

  constructor(readonly label: string, readonly so: string, readonly display: string, readonly xsbug: XsbugServer) {}

  start(): void {
    this.#exited = undefined;
    // SIM_RUN_GDB=1: mcsim under gdb (batch), so a native crash prints its backtrace into the run's log
    const gdb = process.env.SIM_RUN_GDB === "1";
    const proc = spawn(gdb ? "gdb" : mcsim, gdb ? ["-q", "-batch", "-ex", "run", "-ex", "bt 30", "--args", mcsim, this.so] : [this.so], {
      env: { ...process.env, DISPLAY: `:${this.display}`, XSBUG_HOST: "127.0.0.1", XSBUG_PORT: String(this.xsbug.port) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    proc.stdout!.on("data", (d: Buffer) => this.#out(String(d)));
    proc.stderr!.on("data", (d: Buffer) => this.#out(String(d)));
    proc.on("exit", (code, signal) => {
      this.#exited = code;
      this.output.push(`\n[mcsim exited: ${signal ?? `code ${code}`}]\n`);
      this.#wake();
    });
    this.#proc = proc;
  }

  get alive(): boolean {
    return this.#proc !== undefined && this.#exited === undefined;
  }

  log(text: string): void {
    for (const line of text.split("\n")) if (line.trim() !== "") this.logs.push(line.trim());
    this.#wake();
  }

  sample(values: Readonly<Record<string, number>>): void {
    this.samples.push({ chunk: values["Chunk used"] ?? 0, slots: values["Slot used"] ?? 0, stack: values["Stack used"] ?? 0, gcs: values["Garbage collections"] ?? 0 });
    this.#wake();
  }

  #out(text: string): void {
    this.output.push(text);
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Wait until a log line after `from` matches; returns it (and its index), or undefined on timeout. */
  async waitFor(pattern: RegExp, timeoutMs: number, from = 0): Promise<{ line: string; index: number } | undefined> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const index = this.logs.findIndex((l, i) => i >= from && pattern.test(l));
      if (index >= 0) return { line: this.logs[index]!, index };
      // mcsim stays up after XS aborts (its window lives on): an abort ends the wait too
      if (Date.now() >= end || !this.alive || this.aborted() !== undefined) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(500, end - Date.now()));
        this.#waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  async waitSamples(n: number): Promise<void> {
    const target = this.samples.length + n;
    while (this.samples.length < target && this.alive && this.aborted() === undefined) await new Promise((r) => setTimeout(r, 200));
  }

  /** Start a memory phase: the samples from here on. */
  markPhase(): void {
    this.#mark = { samples: this.samples.length };
  }

  /** Memory over the samples since markPhase(): the last one (settled) and the highest seen. */
  phase(name: string): void {
    const s = this.samples.slice(this.#mark.samples);
    if (s.length === 0) return;
    const last = s[s.length - 1]!;
    memory.push({
      phase: `${this.label}: ${name}`, chunk: last.chunk, slots: last.slots, stack: last.stack, gcs: last.gcs,
      lowChunk: Math.min(...s.map((x) => x.chunk)),
      lowSlots: Math.min(...s.map((x) => x.slots)),
      peakChunk: Math.max(...s.map((x) => x.chunk)), peakSlots: Math.max(...s.map((x) => x.slots)), peakStack: Math.max(...s.map((x) => x.stack)),
    });
  }

  /** The firmware's log (xsbug, with any break's stack) and mcsim's own output, kept beside the report. */
  save(): void {
    const name = this.label.replace(/[^\w-]+/g, "_");
    writeFileSync(join(work, `${name}.log`), `${this.logs.join("\n")}\n\n---- mcsim output\n${this.output.join("")}`);
  }

  async stop(): Promise<void> {
    this.save();
    const proc = this.#proc;
    if (proc === undefined || this.#exited !== undefined) return;
    proc.kill("SIGTERM");
    const killed = await Promise.race([new Promise<boolean>((r) => proc.once("exit", () => r(true))), new Promise<boolean>((r) => setTimeout(() => r(false), 5_000))]);
    if (!killed) proc.kill("SIGKILL");
  }

  aborted(): string | undefined {
    const all = this.output.join("") + "\n" + this.logs.join("\n");
    return /XS abort[^\n]*/.exec(all)?.[0];
  }
}

// ---- building one firmware per run
function absolutize(value: unknown): unknown {
  if (typeof value === "string") return value.startsWith("./") ? join(repoRoot, value.slice(2)) : value;
  if (Array.isArray(value)) return value.map(absolutize);
  if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, absolutize(v)]));
  return value;
}

/** Builds asynchronously: a blocking build would starve the cloud's broker sessions (keep-alives). */
async function build(label: string, factory: Record<string, unknown>, device: Record<string, unknown>, heap?: { chunkBytes: number; slots: number }): Promise<void> {
  const manifest = JSON.parse(readFileSync(join(repoRoot, "manifest.json"), "utf8")) as Record<string, unknown> & { config: Record<string, unknown>; creation: Record<string, unknown> };
  // A fixed XS heap (no growth): the simulator honours creation's chunk and slot sizes, so a run
  // that stays up in it fits in that much (slots count the same on the board, at 16 bytes).
  if (heap) manifest.creation = { ...manifest.creation, chunk: { initial: heap.chunkBytes, incremental: 0 }, heap: { initial: heap.slots, incremental: 0 } };
  const flash = join(work, label, "flash");
  mkdirSync(flash, { recursive: true });
  // The firmware's config is fixed at build time: this run's factory config, and the unit's flash
  // (the firmware's key files; the SDK's Preference file for factory data) in a folder of its own, not the shared /tmp.
  const config = { ...manifest.config, sntp: "", device: { ...(manifest.config.device as object), ...device }, factory, file: { root: `${flash}/` } };
  const file = join(work, label, "manifest.json");
  writeFileSync(file, JSON.stringify({ ...(absolutize(manifest) as object), config }, null, "\t"));
  // One output folder for every run: after the first build only the config module and the link
  // are redone; each run keeps a copy of its mc.so.
  const out = join(work, "mc");
  mkdirSync(out, { recursive: true });
  console.log(`building the ${label} firmware (mcconfig -d -m -t build -p lin)…`);
  const child = spawn("mcconfig", ["-d", "-m", "-t", "build", "-p", "lin", "-o", out, file], { cwd: repoRoot, env: { ...process.env, PATH: path }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => { output = (output + String(d)).slice(-8000); });
  child.stderr!.on("data", (d: Buffer) => { output = (output + String(d)).slice(-8000); });
  const status = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  if (status !== 0) throw new Error(`build of ${label} failed:\n${output}`);
  const so = spawnSync("find", [join(out, "bin"), "-name", "mc.so"], { encoding: "utf8" }).stdout.trim().split("\n")[0];
  if (!so) throw new Error(`no mc.so under ${out}`);
  copyFileSync(so, join(work, label, "mc.so"));
}

const soPath = (label: string): string => join(work, label, "mc.so");

/** A telemetry publish and the broker's PUBACK for its message ID, both after log line `from`. */
async function telemetryAcked(sim: SimRun, from: number): Promise<string | undefined> {
  const sent = await sim.waitFor(/telemetry seq=\d+ messageId=\d+/, 20_000, from);
  if (sent === undefined) return undefined;
  const id = /messageId=(\d+)/.exec(sent.line)![1]!;
  const acked = await sim.waitFor(new RegExp(`delivered messageId=${id} `), 20_000, sent.index);
  return acked === undefined ? undefined : `${sent.line.slice(25)} → ${acked.line.slice(25)}`;
}

type Found = { line: string; index: number } | undefined;

/** Builds nothing: starts the run's firmware (`label`'s mc.so) under mcsim; the xsbug log goes to it. */
function launch(label: string, name = label): SimRun {
  const sim = new SimRun(name, soPath(label), display, xsbug);
  runs.push(sim);
  current = sim;
  sim.start();
  return sim;
}

const nodeIdOf = (boot: Found): string => (boot ? /nodeId=(\w+)/.exec(boot.line)![1]! : "");

/**
 * A strategy run after its first boot: persisted → online → telemetry acknowledged, the phase's
 * memory, then PASS when all happened and `also` holds (its detail first), and the abort check.
 */
async function onboardsOnline(sim: SimRun, strategy: string, what: string, phase: string, also?: () => { ok: boolean; detail: string }): Promise<void> {
  sim.markPhase();
  const persisted = await sim.waitFor(new RegExp(`persisted strategy=${strategy}\\b`), 60_000);
  const online = await sim.waitFor(/online sessionPresent/, 60_000);
  const delivered = await telemetryAcked(sim, online?.index ?? 0);
  await sim.waitSamples(1);
  sim.phase(phase);
  const extra = also?.();
  record(sim.label, what, persisted !== undefined && online !== undefined && delivered !== undefined && (extra?.ok ?? true),
    [...(extra ? [extra.detail] : []), persisted?.line ?? "not persisted", online?.line ?? "not online", delivered ?? "no telemetry ack"].join(" | "));
  await sim.stop();
  record(sim.label, "no XS abort", sim.aborted() === undefined, sim.aborted() ?? "none");
}

/** A fit run's ending: 1,000 publishes after `online`; PASS only if the unit got there without an abort ("memory full"). */
async function thousandPublishes(sim: SimRun, what: string, phase: string, boot: Found, online: Found): Promise<void> {
  sim.markPhase();
  const thousand = await sim.waitFor(/telemetry seq=1000\b/, 240_000, online?.index ?? 0);
  await sim.waitSamples(1);
  sim.phase(phase);
  const abort = sim.aborted();
  const reached = sim.logs.filter((l) => / (INFO|WARN|ERROR|DEBUG) /.test(l)).slice(-2).map((l) => l.slice(25)).join(" → ");
  record(sim.label, what, boot !== undefined && online !== undefined && thousand !== undefined && abort === undefined,
    abort !== undefined ? `${abort} after: ${reached}` : thousand?.line ?? online?.line ?? boot?.line ?? "did not boot");
  await sim.stop();
}

/**
 * The unit's flash as it stands: every file's name, modification time and bytes (the firmware's keys
 * are one file each, src/platform/moddable/storage-files.ts). Any write, even of the same bytes, changes it.
 */
function digest(folder: string): string {
  if (!existsSync(folder)) return "absent";
  const hash = createHash("sha256");
  for (const name of readdirSync(folder).sort()) {
    const file = join(folder, name);
    hash.update(`${name}\0${statSync(file, { bigint: true }).mtimeNs}\0`).update(readFileSync(file));
  }
  return hash.digest("hex");
}

// ---- services
const npmBundle = spawnSync(process.execPath, ["--import", "tsx", join(repoRoot, "host-sim", "board", "build.ts"), "npm"], { cwd: repoRoot, stdio: "inherit" });
if (npmBundle.status !== 0) fail(["bundling the npm modules failed"]);
const pki = generateTestPki(join(work, "pki"));
const cloud: Cloud = await startCloud({ tls: { key: pki.serverKeyPem, cert: pki.serverCertPem, ca: pki.caPem }, mosquitto: pki });
cloud.generation = "client";
const runs: SimRun[] = [];
let current: SimRun | undefined;
const xsbug = await XsbugServer.listen({
  onLog: (t) => current?.log(t),
  onSample: (s) => current?.sample(s),
  onBreak: (t) => current?.log(`BREAK ${t}`),
});
const xvfb = spawn("Xvfb", ["-displayfd", "3", "-screen", "0", "320x240x24", "-nolisten", "tcp"], { stdio: ["ignore", "ignore", "pipe", "pipe"] });
const display = await new Promise<string>((resolve, reject) => {
  (xvfb.stdio[3] as NodeJS.ReadableStream).once("data", (d) => resolve(String(d).trim()));
  xvfb.once("exit", () => reject(new Error("Xvfb exited")));
});

// Xvfb outlived earlier runs (an exception before cleanup, or SIGTERM not honoured): kill it on any exit.
process.on("exit", () => { xvfb.kill("SIGKILL"); });

async function cleanup(): Promise<void> {
  for (const r of runs) await r.stop();
  await tlsFaults.close();
  await junkBroker.close();
  xvfb.kill("SIGKILL");
  await xsbug.close();
  await hub.close();
  await cloud.close();
}

// IP literals: the SDK's simulator cannot resolve "localhost" (the certificates name 127.0.0.1 too).
const local = (url: string): string => url.replace("//localhost:", "//127.0.0.1:");
const httpUrl = local(cloud.httpUrl);

/**
 * A bootstrap "server" that fails in the TLS layer, a different way per connection (in this order,
 * then again): the ClientHello answered with a fatal alert; the real server's handshake forwarded
 * up to 300 bytes (mid-ServerHello/Certificate) and then both ends closed; a record of content type
 * 99. `seen` lists the modes served, in order.
 */
const TLS_FAULTS = ["alert", "closed mid-handshake", "unknown record type"] as const;
async function startTlsFaults(upstreamPort: number): Promise<{ close(): Promise<void>; url: string; seen: string[] }> {
  const seen: string[] = [];
  const sockets = new Set<NetSocket>();
  const server = createServer((device) => {
    sockets.add(device);
    device.on("close", () => sockets.delete(device));
    device.on("error", () => {});
    const mode = TLS_FAULTS[seen.length % TLS_FAULTS.length]!;
    seen.push(mode);
    if (mode === "closed mid-handshake") {
      const upstream = connect(upstreamPort, "127.0.0.1");
      upstream.on("error", () => device.destroy());
      let forwarded = 0;
      device.on("data", (d: Buffer) => upstream.write(d));
      upstream.on("data", (d: Buffer) => {
        const part = d.subarray(0, Math.max(0, 300 - forwarded));
        forwarded += part.length;
        device.write(part);
        if (forwarded >= 300) { upstream.destroy(); device.end(); }
      });
      return;
    }
    device.once("data", () => {
      // TLS 1.2 record: type, version 3.3, length 2, then the body
      if (mode === "alert") device.write(Buffer.from([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 40])); // fatal handshake_failure
      else device.write(Buffer.from([0x63, 0x03, 0x03, 0x00, 0x04, 1, 2, 3, 4]));
      // the server keeps the connection open: the device must end it
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const close = (): Promise<void> => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { close, url: `https://127.0.0.1:${port}`, seen };
}
const tlsFaults = await startTlsFaults(Number(new URL(httpUrl).port));

/**
 * A proxy to the real broker that, on every connection, forwards the broker's records until its
 * first application record (the CONNACK), sends that record and, in the same TCP write, an
 * application record of junk the device cannot decrypt (ssl_record.js throws "auth failed"), then
 * drops the broker. tlssocket.js holds the CONNACK for the app and leaves the junk on the transport;
 * once the app has read, its own re-read Timer (tlssocket.js read(): `Timer.set`) runs the session
 * on it — outside every callback the glue guards. `connections` counts the devices served.
 */
async function startJunkAfterConnack(upstreamPort: number): Promise<{ close(): Promise<void>; url: string; connections: () => number }> {
  let connections = 0;
  const sockets = new Set<NetSocket>();
  const server = createServer((device) => {
    connections += 1;
    sockets.add(device);
    device.on("close", () => sockets.delete(device));
    device.on("error", () => {});
    const upstream = connect(upstreamPort, "127.0.0.1");
    sockets.add(upstream);
    upstream.on("close", () => { sockets.delete(upstream); });
    upstream.on("error", () => device.destroy());
    device.on("data", (d: Buffer) => { if (!upstream.destroyed) upstream.write(d); });
    device.on("close", () => upstream.destroy());
    let pending = Buffer.alloc(0);
    upstream.on("data", (d: Buffer) => {
      pending = Buffer.concat([pending, d]);
      while (pending.length >= 5) {
        const size = 5 + pending.readUInt16BE(3);
        if (pending.length < size) return;
        const record = pending.subarray(0, size);
        pending = pending.subarray(size);
        if (record[0] === 23) {
          const junk = Buffer.concat([Buffer.from([23, 3, 3, 0, 48]), Buffer.alloc(48, 0xa5)]);
          device.write(Buffer.concat([record, junk]));
          upstream.destroy(); // the device must end the connection itself
          return;
        }
        device.write(record);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const close = (): Promise<void> => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { close, url: `mqtts://127.0.0.1:${port}`, connections: () => connections };
}
const junkBroker = await startJunkAfterConnack(Number(new URL(cloud.brokerUrl.replace("mqtts:", "http:")).port));
/** One run: an exception (a service that did not answer) is a failed check, and the next run goes on. */
async function guarded(run: string, body: () => Promise<void>): Promise<void> {
  if (!wanted(run)) return;
  try {
    await body();
  } catch (e) {
    record(run, "run completed", false, e instanceof Error ? e.message.split("\n")[0]! : String(e));
    for (const r of runs) await r.stop();
  }
}

const broker = { url: local(cloud.brokerUrl), ca: pki.caPem };
const retry = { attempts: 3, initialMs: 1000, maxMs: 4000 };
const bootstrapFactory = { chain: ["stored", "bootstrap"], broker, retry, bootstrap: { url: httpUrl, generation: "client", externalId: "node-id", externalKey: EXTERNAL_KEY, ca: pki.caPem } };
const registerFactory = { chain: ["stored", "register"], broker, retry, register: { url: `${httpUrl}/register`, ca: pki.caPem, serial: "node-id" } };
// one login for the device class, the unit told apart by "esp" + its node ID (the simulator has no MAC)
const SHARED = { username: "sim-class", password: "sim-class-password" };
const sharedFactory = { chain: ["stored", "shared"], broker, retry, shared: { ...SHARED, clientIdPrefix: "esp", clientId: "node-id" } };
cloud.addSharedAccount(SHARED.username, SHARED.password);
await cloud.settled();
// the local hub (emoncms-style approval, secure mode): reached at a fixed address (the simulator has
// no mDNS multicast), its key pinned at the factory; a person's Allow is given through the hub's own
// decision path (what its page's form calls) as soon as a unit waits
const hub = await startHub({ stateDir: join(work, "hub"), password: "sim-run-hub-password", cloud, brokerCa: pki.caPem, brokerUrl: local(cloud.brokerUrl), pollMs: 1000 });
hub.events.on("request", (e) => { if (e.outcome === "pending") hub.decide(e.key, "allow", "sim-run"); });
const hubFactory = { chain: ["stored", "hub"], retry, hub: { address: "127.0.0.1", port: hub.port, pollIntervalMs: 1000, hubKey: hub.keyHash } };
const factoryOf = { bootstrap: bootstrapFactory, register: registerFactory, shared: sharedFactory, hub: hubFactory } as const;
/**
 * Fixed heaps for the fit runs, each with every onboarding strategy (bootstrap, register, shared,
 * hub). The default is
 * the smallest size found to fit (48 KB chunk + 3,072 slots = 96 KB on an ESP32, chunk + slots × 16 B;
 * 40 KB chunk or 2,048 slots abort in the bootstrap TLS handshake): the targets are peak ≤ 160 KB and
 * live ≤ 96 KB once online, so this shows the peak within the live target.
 */
const fitSizes = (process.env.SIM_RUN_FITS ?? "48:3072").split(",").map((pair) => pair.split(":").map(Number) as [number, number]);
const FITS = fitSizes.flatMap(([chunkKb, slots]) => (["bootstrap", "register", "shared", "hub"] as const).map((strategy) => ({
  label: `fit-${strategy === "bootstrap" ? "" : `${strategy}-`}${chunkKb}k-${slots}`, strategy, chunkBytes: chunkKb * 1024, slots,
  what: `${chunkKb} KB chunk + ${slots.toLocaleString("en")} slots = ${chunkKb + (slots * 16) / 1024} KB on an ESP32`,
})));
/**
 * Fixed heaps for "live once online": a unit that already holds its credentials (the first fit run's
 * flash, copied) boots, goes online and publishes 1,000 times without onboarding's transient, so
 * the smallest heap it stays up in bounds what is live once online, reconnect handshakes included
 * (40 KB chunk + 2,048 slots = 72 KB passes; 32 KB + 2,048 aborts in the broker TLS handshake).
 * SIM_RUN_ONLINE_FITS overrides.
 */
const ONLINE_FITS = (process.env.SIM_RUN_ONLINE_FITS ?? "40:2048").split(",").map((pair) => pair.split(":").map(Number) as [number, number]).map(([chunkKb, slots]) => ({
  label: `fit-online-${chunkKb}k-${slots}`, chunkBytes: chunkKb * 1024, slots,
  what: `${chunkKb} KB chunk + ${slots.toLocaleString("en")} slots = ${chunkKb + (slots * 16) / 1024} KB on an ESP32`,
}));
/** SIM_RUN_ONLY=fit: only the fixed-heap runs (SIM_RUN_FITS="chunkKB:slots,…"), to look for the size that fits. */
const onlyFits = process.env.SIM_RUN_ONLY === "fit";
/** SIM_RUN_ONLY=wrong-ca,tls-faults (run labels): only those runs, to reproduce one phase. */
const onlyRuns = process.env.SIM_RUN_ONLY !== undefined && !onlyFits ? process.env.SIM_RUN_ONLY.split(",") : undefined;
const wanted = (label: string): boolean => (onlyFits ? label.startsWith("fit-") : onlyRuns === undefined || onlyRuns.includes(label));

try {
  // every firmware first (each with its factory config), so no build competes with a running simulator
  if (wanted("bootstrap")) await build("bootstrap", { chain: ["stored", "bootstrap"], broker, retry, bootstrap: { url: httpUrl, generation: "client", externalId: "node-id", externalKey: EXTERNAL_KEY, ca: pki.caPem } }, { telemetryIntervalMs: 1000 });
  if (wanted("publish-1000")) await build("publish-1000", { chain: ["stored", "bootstrap"], broker, retry, bootstrap: { url: httpUrl, generation: "client", externalId: "node-id", externalKey: EXTERNAL_KEY, ca: pki.caPem } }, { telemetryIntervalMs: 20 });
  if (wanted("register")) await build("register", registerFactory, { telemetryIntervalMs: 1000 });
  for (const fit of FITS) if (wanted(fit.label) || onlyFits) await build(fit.label, factoryOf[fit.strategy], { telemetryIntervalMs: 20 }, fit);
  for (const fit of ONLINE_FITS) if (wanted(fit.label) || onlyFits) await build(fit.label, bootstrapFactory, { telemetryIntervalMs: 20 }, fit);
  if (wanted("shared")) await build("shared", sharedFactory, { telemetryIntervalMs: 1000 });
  if (wanted("hub")) await build("hub", hubFactory, { telemetryIntervalMs: 1000 });
  if (wanted("tls-faults")) await build("tls-faults", { chain: ["stored", "bootstrap"], broker, retry, bootstrap: { url: tlsFaults.url, generation: "client", externalId: "node-id", externalKey: EXTERNAL_KEY, ca: pki.caPem } }, { telemetryIntervalMs: 1000 });
  if (wanted("tls-junk")) await build("tls-junk", { chain: ["stored", "bootstrap"], broker: { ...broker, url: junkBroker.url }, retry, bootstrap: { url: httpUrl, generation: "client", externalId: "node-id", externalKey: EXTERNAL_KEY, ca: pki.caPem } }, { telemetryIntervalMs: 1000 });
  if (wanted("wrong-ca")) await build("wrong-ca", { chain: ["stored", "bootstrap"], broker, retry, bootstrap: { url: httpUrl, generation: "client", externalId: "node-id", externalKey: EXTERNAL_KEY, ca: pki.wrongCaPem } }, { telemetryIntervalMs: 1000 });

  // ================= bootstrap
  await guarded("bootstrap", async () => {
    const label = "bootstrap";
    const flash = join(work, label, "flash");
    const sim = launch(label);
    const boot = await sim.waitFor(/device: boot nodeId=(\w+) firstBoot=true/, 30_000);
    record(label, "identity made on first boot", boot !== undefined, boot?.line ?? "no boot line");
    const nodeId = nodeIdOf(boot);
    sim.markPhase(); // from the first boot line: earlier samples are the machine before the firmware ran
    await sim.waitSamples(2);
    sim.phase("boot (first boot, identity made)");
    // the fleet registers the unit under its node ID (the simulator has no MAC)
    cloud.addBootstrapConfig({ externalId: nodeId, externalKey: EXTERNAL_KEY });
    await cloud.settled();
    sim.markPhase();
    const persisted = await sim.waitFor(/persisted strategy=bootstrap/, 60_000);
    record(label, "bootstrap over the SDK's TLS, credentials persisted", persisted !== undefined, persisted?.line ?? sim.logs.slice(-5).join(" | "));
    const online = await sim.waitFor(/online sessionPresent/, 60_000);
    record(label, "online on Mosquitto over TLS", online !== undefined, online?.line ?? sim.logs.slice(-5).join(" | "));
    await sim.waitSamples(1);
    sim.phase("bootstrap → online");
    const delivered = await telemetryAcked(sim, online?.index ?? 0);
    record(label, "telemetry acknowledged (QoS 1 PUBACK)", delivered !== undefined, delivered ?? "no telemetry acknowledged");

    // restart: a second boot goes online from flash and writes nothing
    await sim.stop();
    const before = digest(flash);
    sim.logs.length = 0;
    sim.markPhase();
    sim.start();
    const second = await sim.waitFor(/device: boot nodeId=\w+ firstBoot=false credentials=stored/, 30_000);
    sim.markPhase();
    record(label, "credentials persisted across a restart", second !== undefined && second.line.includes(nodeId), second?.line ?? sim.logs.slice(0, 6).join(" | "));
    const online2 = await sim.waitFor(/online sessionPresent/, 60_000);
    const delivered2 = await telemetryAcked(sim, online2?.index ?? 0);
    const after = digest(flash);
    record(label, "second boot online with 0 flash writes", online2 !== undefined && delivered2 !== undefined && before === after && !sim.logs.some((l) => /persisted/.test(l)),
      `online: ${online2 !== undefined}, telemetry acked: ${delivered2 !== undefined}, flash (${readdirSync(flash).join(", ")}) sha256 before ${before.slice(0, 12)} after ${after.slice(0, 12)}`);
    await sim.waitSamples(1);
    sim.phase("restart → online (stored credentials)");

    // 1,000 publishes: memory after a long online stretch (telemetry every second is too slow; the
    // count is what matters, so the firmware is rebuilt with a 20 ms interval for this phase)
    await sim.stop();
    record(label, "no XS abort", sim.aborted() === undefined, sim.aborted() ?? "none");
  });

  await guarded("publish-1000", async () => {
    const label = "publish-1000";
    const sim = launch(label);
    const boot = await sim.waitFor(/device: boot nodeId=(\w+)/, 30_000);
    const nodeId = nodeIdOf(boot);
    cloud.addBootstrapConfig({ externalId: nodeId, externalKey: EXTERNAL_KEY });
    await cloud.settled();
    const online = await sim.waitFor(/online sessionPresent/, 90_000);
    sim.markPhase();
    const thousand = await sim.waitFor(/telemetry seq=1000\b/, 180_000, online?.index ?? 0);
    await sim.waitSamples(2);
    sim.phase("online, 1,000 publishes");
    record(label, "1,000 telemetry messages published", thousand !== undefined, thousand?.line ?? sim.logs.slice(-3).join(" | "));
    await sim.stop();
  });

  // ================= register
  await guarded("register", async () => {
    const label = "register";
    const sim = launch(label);
    cloud.allowSerials([nodeIdOf(await sim.waitFor(/device: boot nodeId=(\w+) firstBoot=true/, 30_000))]);
    await onboardsOnline(sim, "register", "registered, online, telemetry acknowledged", "register → online");
  });

  // ================= shared login, client ID from the node ID
  await guarded("shared", async () => {
    const label = "shared";
    const sim = launch(label);
    const nodeId = nodeIdOf(await sim.waitFor(/device: boot nodeId=(\w+) firstBoot=true/, 30_000));
    await onboardsOnline(sim, "shared", "shared login with client ID esp<node ID>, online, telemetry acknowledged", "shared → online", () => {
      const seen = sim.logs.some((l) => l.includes(`tls-up clientId=esp${nodeId}`));
      return { ok: seen, detail: seen ? `client ID esp${nodeId}` : "client ID not seen in the log" };
    });
  });

  // ================= local hub approval
  await guarded("hub", async () => {
    const label = "hub";
    const sim = launch(label);
    await sim.waitFor(/device: boot nodeId=(\w+) firstBoot=true/, 30_000);
    await onboardsOnline(sim, "hub", "hub pairing over TLS pinned to the hub's key, approved, credentials released, online, telemetry acknowledged", "hub approval → online", () => {
      const approved = hub.audit().some((a) => JSON.stringify(a).includes("sim-run"));
      return { ok: approved, detail: approved ? "approved on the hub" : "no approval in the hub's audit" };
    });
  });

  // ================= fixed heaps: each strategy → online → 1,000 publishes without "memory full"
  for (const fit of FITS) {
    await guarded(fit.label, async () => {
      const sim = launch(fit.label);
      const boot = await sim.waitFor(/device: boot nodeId=(\w+)/, 30_000);
      const nodeId = nodeIdOf(boot);
      if (fit.strategy === "register") cloud.allowSerials([nodeId]);
      else if (fit.strategy === "bootstrap") cloud.addBootstrapConfig({ externalId: nodeId, externalKey: EXTERNAL_KEY });
      await cloud.settled();
      const online = await sim.waitFor(/online sessionPresent/, 90_000);
      await thousandPublishes(sim, `${fit.strategy}, online and 1,000 publishes in ${fit.what}`, `online, 1,000 publishes in a fixed heap (${fit.what})`, boot, online);
    });
  }

  // ================= fixed heaps, online from stored credentials: what stays live once online
  const source = FITS.find((f) => f.strategy === "bootstrap");
  for (const fit of ONLINE_FITS) {
    await guarded(fit.label, async () => {
      const flash = join(work, fit.label, "flash");
      const from = source === undefined ? undefined : join(work, source.label, "flash");
      if (from === undefined || !existsSync(from) || readdirSync(from).length === 0) throw new Error("needs the bootstrap fit run's flash (run it first)");
      for (const name of readdirSync(from)) copyFileSync(join(from, name), join(flash, name));
      const sim = launch(fit.label);
      const boot = await sim.waitFor(/device: boot nodeId=\w+ firstBoot=false credentials=stored/, 30_000);
      const online = await sim.waitFor(/online sessionPresent/, 60_000);
      await thousandPublishes(sim, `online from stored credentials and 1,000 publishes in ${fit.what}`, `online from flash, 1,000 publishes in a fixed heap (${fit.what})`, boot, online);
    });
  }

  // ================= wrong CA
  await guarded("wrong-ca", async () => {
    const label = "wrong-ca";
    const sim = launch(label);
    const boot = await sim.waitFor(/device: boot nodeId=(\w+)/, 30_000);
    const nodeId = nodeIdOf(boot);
    cloud.addBootstrapConfig({ externalId: nodeId, externalKey: EXTERNAL_KEY });
    const refused = await sim.waitFor(/failed strategy=bootstrap kind=/, 60_000);
    const later = await sim.waitFor(/state state=onboarding-backoff|attempt strategy=bootstrap attempt=2/, 30_000, refused?.index ?? 0);
    record(label, "wrong CA: a typed refusal", refused !== undefined, refused?.line ?? sim.logs.slice(-5).join(" | "));
    record(label, "wrong CA: no XS abort, the firmware carries on", sim.alive && sim.aborted() === undefined && later !== undefined, `${sim.aborted() ?? "no abort"}; next: ${later?.line ?? "nothing"}`);
    await sim.stop();
  });

  // ================= TLS refused by the server, three ways
  await guarded("tls-faults", async () => {
    const label = "tls-faults";
    const sim = launch(label);
    const failures: string[] = [];
    let from = 0;
    // every mode twice: the retry budget (3) runs out once, so the back-off path is crossed too
    for (let i = 0; i < TLS_FAULTS.length * 2; i += 1) {
      const failed = await sim.waitFor(/failed strategy=bootstrap kind=/, 90_000, from);
      if (failed === undefined) break;
      failures.push(failed.line.slice(25));
      from = failed.index + 1;
    }
    TLS_FAULTS.forEach((mode, i) => {
      const line = failures[i];
      record(label, `server ${mode}: a typed failure`, line !== undefined && tlsFaults.seen[i] === mode, line ?? `no failure logged (served: ${tlsFaults.seen.join(", ")})`);
    });
    const later = await sim.waitFor(/attempt strategy=bootstrap attempt=/, 30_000, from);
    record(label, "TLS faults: no XS abort, the firmware backs off and retries", sim.alive && sim.aborted() === undefined && failures.length === TLS_FAULTS.length * 2 && later !== undefined,
      `${sim.aborted() ?? "no abort"}${sim.alive ? "" : ` (mcsim gone: ${sim.output.join("").trim().split("\n").slice(-1)[0] ?? ""})`}; ${failures.length} failures over ${tlsFaults.seen.length} connections; next: ${later?.line.slice(25) ?? "nothing"}`);
    await sim.stop();
  });

  // ================= an undecryptable record behind the broker's CONNACK (tlssocket.js's re-read Timer)
  await guarded("tls-junk", async () => {
    const label = "tls-junk";
    const sim = launch(label);
    const boot = await sim.waitFor(/device: boot nodeId=(\w+)/, 30_000);
    const nodeId = nodeIdOf(boot);
    cloud.addBootstrapConfig({ externalId: nodeId, externalKey: EXTERNAL_KEY });
    await cloud.settled();
    const first = await sim.waitFor(/offline reason=/, 90_000);
    const second = await sim.waitFor(/offline reason=/, 60_000, (first?.index ?? 0) + 1);
    record(label, "bad record behind the CONNACK: the connection's typed error", first !== undefined, first?.line.slice(25) ?? sim.logs.slice(-5).join(" | "));
    record(label, "bad record behind the CONNACK: no XS abort, the firmware reconnects (and meets it again)", sim.alive && sim.aborted() === undefined && second !== undefined,
      `${sim.aborted() ?? "no abort"}; ${junkBroker.connections()} connections; next: ${second?.line.slice(25) ?? "nothing"}`);
    await sim.stop();
  });

  // ================= broker restart (last: the cloud's admin session does not come back after it)
  await guarded("bootstrap", async () => {
    const label = "bootstrap";
    const sim = launch(label, `${label} (again)`);
    const online = await sim.waitFor(/online sessionPresent/, 60_000);
    if (online === undefined) throw new Error("the stored unit did not come online again");
    // the broker restarts under the unit
    const mark = sim.logs.length;
    await cloud.mosquitto!.restart();
    await cloud.settled();
    const offline = await sim.waitFor(/offline reason=/, 30_000, mark);
    const back = await sim.waitFor(/online sessionPresent/, 90_000, offline?.index ?? mark);
    const deliveredBack = await telemetryAcked(sim, back?.index ?? mark);
    record(label, "Mosquitto restart survived", offline !== undefined && back !== undefined && deliveredBack !== undefined, `${offline?.line ?? "no offline"} → ${back?.line ?? "not back online"}`);

    await sim.stop();
    record(label, "no XS abort across the broker restart", sim.aborted() === undefined, sim.aborted() ?? "none");
  });
} finally {
  await cleanup();
}

// ================= provisioning over HTTP (SoftAP transport): its own script, with its own build,
// Xvfb and xsbug, run after the others have stopped (the simulator has no BLE; see sim-provision.ts)
/** The window in the fit runs' first fixed heap (sim-provision.ts SIM_PROVISION_HEAP): Security 2 must fit in it too. */
const PROVISION_FIT = process.env.SIM_RUN_PROVISION_FIT ?? `${fitSizes[0]![0]}:${fitSizes[0]![1]}`;
for (const [run, heap] of [["provision-http", undefined], [`provision-http-fit-${PROVISION_FIT.replace(":", "k-")}`, PROVISION_FIT]] as const) {
  if (!(onlyFits ? heap !== undefined : wanted(run) || (heap !== undefined && wanted("provision-http")))) continue;
  const text = await new Promise<string>((resolve) => {
    const env = heap === undefined ? process.env : { ...process.env, SIM_PROVISION_HEAP: heap };
    const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "host-sim", "board", "sim-provision.ts")], { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => { out += String(d); });
    child.stderr!.on("data", (d: Buffer) => { out += String(d); });
    child.on("exit", () => resolve(out));
  });
  const results = text.match(/^(PASS|FAIL) .*$/gm) ?? [];
  if (results.length === 0) record(run, "run completed", false, text.trim().split("\n").slice(-3).join(" "));
  for (const line of results) {
    const m = /^(PASS|FAIL) ([^:]+): (.*)$/.exec(line);
    record(run, m?.[2] ?? line, m?.[1] === "PASS", m?.[3] ?? "");
  }
  const window = /^memory while the window was open: (.*)$/m.exec(text)?.[1];
  if (window !== undefined) record(run, "memory while the provisioning window is open (see build/sim-provision*/report.md)", true, window);
}

// ---- report
const kb = (bytes: number): string => (bytes / 1024).toFixed(1);
const sdk = existsSync(join(moddable, ".git")) ? spawnSync("git", ["-C", moddable, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).stdout.trim() : "no git metadata (8.2.3 expected: 48ee02d8)";
const lines = [
  `# sim:run on the Moddable SDK's simulator (${new Date().toISOString()})`,
  "",
  `SDK: ${moddable} (${sdk}); mcsim under Xvfb; Mosquitto ${spawnSync("mosquitto", ["-h"], { encoding: "utf8" }).stdout.split("\n")[0]?.trim() ?? ""}`,
  "",
  "| run | check | result | detail |",
  "| --- | --- | --- | --- |",
  ...checks.map((c) => `| ${c.run} | ${c.what} | ${c.ok ? "PASS" : "FAIL"} | ${c.detail.replace(/\|/g, "\\|")} |`),
  "",
  "XS heap in use, sampled once a second through xsbug by the SDK's instrumentation (the 64-bit simulator's slots are 32 bytes;",
  "an ESP32's are 16 bytes, so ESP32 KB = chunk + slots × 16). XS collects when a heap fills, so the lowest sample of a phase is",
  "the closest to its live data (after a collection) and the highest is its peak as sampled; `last` is where the phase ended.",
  "",
  "| phase | chunk KB low / last / peak | slots low / last / peak | ESP32 KB low / last / peak | stack peak B | GCs |",
  "| --- | --- | --- | --- | --- | --- |",
  ...memory.map((m) => {
    const esp = (chunk: number, slotBytes: number): string => kb(chunk + (slotBytes / 32) * 16);
    return `| ${m.phase} | ${kb(m.lowChunk)} / ${kb(m.chunk)} / ${kb(m.peakChunk)} | ${m.lowSlots / 32} / ${m.slots / 32} / ${m.peakSlots / 32} | ${esp(m.lowChunk, m.lowSlots)} / ${esp(m.chunk, m.slots)} / ${esp(m.peakChunk, m.peakSlots)} | ${m.peakStack} | ${m.gcs} |`;
  }),
];
writeFileSync(join(work, "report.md"), lines.join("\n") + "\n");
console.log(lines.join("\n"));
console.log(`\nreport: ${join(work, "report.md")}`);
process.exit(checks.every((c) => c.ok) ? 0 : 1);
