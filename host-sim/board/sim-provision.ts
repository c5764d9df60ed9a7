// `npm run sim:provision`: Espressif's HTTP ("softap") provisioning on the SDK's own runtime. The
// firmware is built for the Linux simulator (mcsim) with `provisioning.transport: "http"` on a free
// local port and a factory PoP in its Preference file (the unit's flash), run headless under Xvfb,
// and provisioned by our phone stand-in, the CLI in its HTTP mode (`npm run provision -- --host`),
// as a separate process: Security 2 (SRP), Wi-Fi scan, Wi-Fi config (the simulator's Wi-Fi is the
// SDK's timer-driven fake: its access points, any passphrase but "invalid!"), user mapping
// (cloud_user_assoc, against a local reference mapping cloud). Afterwards a request gets 503.
//
// Needs what sim:run needs ($MODDABLE with host tools and mcsim built, Xvfb). The xsbug connection
// carries the firmware's log and the SDK's instrumentation (memory while the window is open).
// Another mcsim may be running: run it as `flock /tmp/mcsim.lock npm run sim:provision`.
// SIM_PROVISION_HEAP=<chunk KB>:<slots> runs the firmware in a fixed XS heap of that size (no growth,
// as sim:run's fit runs): the whole window, Security 2 included, must then fit in it.
// Report: build/sim-provision/report.md (a fixed-heap run: build/sim-provision-<chunk>k-<slots>/).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { XsbugServer } from "./xsbug.js";
import { startCloudApi } from "../cloud/user-mapping/http-api.js";
import { UserMappingCloud } from "../cloud/user-mapping/service.js";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const moddable = process.env.MODDABLE;
function fail(lines: string[]): never {
  console.error(lines.join("\n"));
  process.exit(1);
}
if (moddable === undefined || !existsSync(join(moddable, "tools", "mcconfig"))) fail(["$MODDABLE is not set to a Moddable SDK checkout (see README, board section)."]);
const tools = join(moddable, "build", "bin", "lin", "release");
const mcsim = join(tools, "mcsim");
if (!existsSync(mcsim)) fail([`${mcsim} is missing: build the SDK's simulator (cd $MODDABLE/build/makefiles/lin && make).`]);
if (spawnSync("sh", ["-c", "command -v Xvfb"]).status !== 0) fail(["Xvfb is missing (Debian: apt-get install xvfb)."]);
const path = `${tools}:${process.env.PATH ?? ""}`;

const heap = process.env.SIM_PROVISION_HEAP === undefined ? undefined : (() => {
  const m = /^(\d+):(\d+)$/.exec(process.env.SIM_PROVISION_HEAP);
  if (m === null) fail(["SIM_PROVISION_HEAP is <chunk KB>:<slots>, e.g. 64:6144"]);
  return { chunkKb: Number(m[1]), slots: Number(m[2]) };
})();
const work = join(repoRoot, "build", heap === undefined ? "sim-provision" : `sim-provision-${heap.chunkKb}k-${heap.slots}`);
rmSync(join(work, "flash"), { recursive: true, force: true });
mkdirSync(join(work, "flash"), { recursive: true });

const checks: { what: string; ok: boolean; detail: string }[] = [];
function record(what: string, ok: boolean, detail: string): void {
  checks.push({ what, ok, detail });
  console.log(`${ok ? "PASS" : "FAIL"} ${what}: ${detail}`);
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function absolutize(value: unknown): unknown {
  if (typeof value === "string") return value.startsWith("./") ? join(repoRoot, value.slice(2)) : value;
  if (Array.isArray(value)) return value.map(absolutize);
  if (typeof value === "object" && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, absolutize(v)]));
  return value;
}

// ---- the unit: a free port, a PoP written "at the factory" into its flash
const port = await freePort();
const pop = randomBytes(8).toString("hex");
writeFileSync(join(work, "flash", "modpreferences.json"), JSON.stringify({ factory: { pop } }));
const manifest = JSON.parse(readFileSync(join(repoRoot, "manifest.json"), "utf8")) as Record<string, unknown> & {
  config: Record<string, unknown>; platforms: Record<string, { config?: Record<string, unknown> }>;
};
const provisioning = { ...(manifest.config.provisioning as object), transport: "http", httpPort: port };
const config = { ...manifest.config, sntp: "", provisioning, file: { root: `${join(work, "flash")}/` } };
// mcconfig merges platforms.lin.config over config: this run's port goes there too
const lin = manifest.platforms.lin ?? {};
const platforms = { ...manifest.platforms, lin: { ...lin, config: { ...(lin.config ?? {}), provisioning: { transport: "http", httpPort: port } } } };
const file = join(work, "manifest.json");
// a fixed heap: the simulator honours creation's sizes, so a run that stays up fits in that much
const creation = heap === undefined ? manifest.creation
  : { ...(manifest.creation as object), chunk: { initial: heap.chunkKb * 1024, incremental: 0 }, heap: { initial: heap.slots, incremental: 0 } };
writeFileSync(file, JSON.stringify({ ...(absolutize(manifest) as object), creation, config, platforms: absolutize(platforms) }, null, "\t"));
const npm = spawnSync(process.execPath, ["--import", "tsx", join(repoRoot, "host-sim", "board", "build.ts"), "npm"], { cwd: repoRoot, stdio: "inherit" });
if (npm.status !== 0) fail(["bundling the npm modules failed"]);
console.log(`building the firmware (mcconfig -d -m -t build -p lin), HTTP provisioning on 127.0.0.1:${port}…`);
const out = join(work, "mc");
mkdirSync(out, { recursive: true });
const built = await new Promise<{ status: number | null; output: string }>((resolve) => {
  const child = spawn("mcconfig", ["-d", "-m", "-t", "build", "-p", "lin", "-o", out, file], { cwd: repoRoot, env: { ...process.env, PATH: path }, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => { output = (output + String(d)).slice(-8000); });
  child.stderr!.on("data", (d: Buffer) => { output = (output + String(d)).slice(-8000); });
  child.on("exit", (status) => resolve({ status, output }));
});
if (built.status !== 0) fail([`build failed:\n${built.output}`]);
const so = spawnSync("find", [join(out, "bin"), "-name", "mc.so"], { encoding: "utf8" }).stdout.trim().split("\n")[0];
if (!so) fail([`no mc.so under ${out}`]);
copyFileSync(so, join(work, "mc.so"));

// ---- run it
const logs: string[] = [];
interface Sample { readonly chunk: number; readonly slots: number; readonly stack: number }
const samples: { at: number; sample: Sample }[] = [];
const xsbug = await XsbugServer.listen({
  onLog: (t) => { for (const line of t.split("\n")) if (line.trim() !== "") logs.push(line.trim()); },
  onSample: (s) => samples.push({ at: logs.length, sample: { chunk: s["Chunk used"] ?? 0, slots: s["Slot used"] ?? 0, stack: s["Stack used"] ?? 0 } }),
  onBreak: (t) => logs.push(`BREAK ${t}`),
});
const xvfb = spawn("Xvfb", ["-displayfd", "3", "-screen", "0", "320x240x24", "-nolisten", "tcp"], { stdio: ["ignore", "ignore", "pipe", "pipe"] });
process.on("exit", () => { xvfb.kill("SIGKILL"); });
const display = await new Promise<string>((resolve, reject) => {
  (xvfb.stdio[3] as NodeJS.ReadableStream).once("data", (d) => resolve(String(d).trim()));
  xvfb.once("exit", () => reject(new Error("Xvfb exited")));
});
const cloud = new UserMappingCloud();
const api = await startCloudApi(cloud);
const output: string[] = [];
const sim: ChildProcess = spawn(mcsim, [join(work, "mc.so")], {
  env: { ...process.env, DISPLAY: `:${display}`, XSBUG_HOST: "127.0.0.1", XSBUG_PORT: String(xsbug.port) },
  stdio: ["ignore", "pipe", "pipe"],
});
sim.stdout!.on("data", (d: Buffer) => output.push(String(d)));
sim.stderr!.on("data", (d: Buffer) => output.push(String(d)));
process.on("exit", () => { sim.kill("SIGKILL"); });

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
async function waitFor(pattern: RegExp, ms: number, from = 0): Promise<number | undefined> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    const i = logs.findIndex((l, n) => n >= from && pattern.test(l));
    if (i >= 0) return i;
    if (/XS abort/.test(output.join("") + logs.join("\n"))) return undefined;
    await sleep(200);
  }
  return undefined;
}

function post(endpoint: string, body: Uint8Array): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, method: "POST", path: `/${endpoint}`, headers: { "Content-Length": body.length } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", () => resolve(-1));
    req.end(Buffer.from(body));
  });
}

function memory(from: number, to: number): string {
  const inWindow = samples.filter((s) => s.at >= from && s.at <= to).map((s) => s.sample);
  if (inWindow.length === 0) return "no samples";
  const kb = (b: number): string => (b / 1024).toFixed(1);
  const chunk = inWindow.map((s) => s.chunk);
  const slots = inWindow.map((s) => s.slots);
  const esp = (c: number, s: number): string => kb(c + (s / 32) * 16);
  const lo = inWindow.reduce((a, b) => (a.chunk + a.slots / 2 <= b.chunk + b.slots / 2 ? a : b));
  const hi = inWindow.reduce((a, b) => (a.chunk + a.slots / 2 >= b.chunk + b.slots / 2 ? a : b));
  return `${inWindow.length} samples: chunk KB ${kb(Math.min(...chunk))}…${kb(Math.max(...chunk))}, slots ${Math.min(...slots) / 32}…${Math.max(...slots) / 32}, ` +
    `stack peak ${Math.max(...inWindow.map((s) => s.stack))} B; ESP32-equivalent KB (chunk + slots × 16) low ${esp(lo.chunk, lo.slots)} / peak ${esp(hi.chunk, hi.slots)}`;
}

let cli: { status: number | null; text: string } = { status: null, text: "" };
try {
  const listening = await waitFor(/http-provisioning-listening/, 120_000);
  record("HTTP transport listening on the SDK's HTTP server", listening !== undefined, listening !== undefined ? logs[listening]! : `no listener; last log: ${logs.slice(-5).join(" | ")}`);
  if (listening === undefined) throw new Error("not listening");
  const opened = await waitFor(/provisioning-open/, 30_000);
  record("provisioning window open (no BLE on the simulator)", opened !== undefined, opened !== undefined ? logs[opened]! : "no window");
  await sleep(3_000); // a few instrumentation samples of the idle window
  console.log(`provisioning with the CLI: npm run provision -- --host 127.0.0.1:${port} --cloud ${api.url} --pop <factory PoP> --mapping secret-key --ssid JAMS2 --passphrase …`);
  cli = await new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "host-sim", "provisioning", "cli.ts"),
      "--host", `127.0.0.1:${port}`, "--cloud", api.url, "--pop", pop, "--security", "2", "--mapping", "secret-key", "--user", "sim-user",
      "--ssid", "JAMS2", "--passphrase", "simulator-passphrase"], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let text = "";
    child.stdout!.on("data", (d: Buffer) => { text += String(d); process.stdout.write(d); });
    child.stderr!.on("data", (d: Buffer) => { text += String(d); process.stderr.write(d); });
    child.on("exit", (status) => resolve({ status, text }));
  });
  const steps = (cli.text.match(/^\s+\[[^\]]+\].*$/gm) ?? []).map((l) => l.trim());
  record("CLI provisioned the unit over HTTP (Security 2, scan, Wi-Fi config, user mapping)", cli.status === 0 && /^done:/m.test(cli.text), `exit ${cli.status}; ${steps.join(" / ")}; ${/^done:.*$/m.exec(cli.text)?.[0] ?? ""}`);
  const closed = await waitFor(/"closed"|closed.*success/, 30_000, opened ?? 0);
  const session = logs.find((l) => /session-established/.test(l));
  record("the device established a Security 2 session", session !== undefined, session ?? "not logged");
  const mapping = logs.find((l) => /user-mapping/.test(l));
  record("the device took the user mapping (kept for confirmation once online)", mapping !== undefined, mapping ?? "not logged");
  const joined = logs.find((l) => /wifi-connected|joined/.test(l));
  record("the device joined the simulator's Wi-Fi (JAMS2) through the window", joined !== undefined, joined ?? "not logged");
  record("window closed after success", closed !== undefined && /success/.test(logs[closed]!), closed !== undefined ? logs[closed]! : "no close logged");
  const status = await post("proto-ver", new Uint8Array([1]));
  record("a request after the window closed gets 503", status === 503, `HTTP ${status}`);
  const abort = /XS abort[^\n]*/.exec(output.join("") + logs.join("\n"))?.[0];
  record("no XS abort", abort === undefined, abort ?? "none");
  const memoryLine = memory(listening, closed ?? logs.length);
  console.log(`memory while the window was open: ${memoryLine}`);
  checks.push({ what: "memory, window open → closed (instrumentation samples)", ok: true, detail: memoryLine });
} catch (e) {
  record("run", false, e instanceof Error ? e.message : String(e));
} finally {
  sim.kill("SIGTERM");
  await sleep(500);
  sim.kill("SIGKILL");
  xvfb.kill("SIGKILL");
  await api.close();
  await xsbug.close();
}

const report = [
  "# HTTP provisioning on the SDK's runtime (npm run sim:provision)",
  "",
  `SDK: ${moddable}; mcsim under Xvfb; transport http on 127.0.0.1:${port}; ${heap === undefined ? "growable XS heap" : `fixed XS heap: ${heap.chunkKb} KB chunk + ${heap.slots} slots`}; ${new Date().toISOString()}`,
  "",
  "| check | result | detail |",
  "|---|---|---|",
  ...checks.map((c) => `| ${c.what} | ${c.ok ? "PASS" : "FAIL"} | ${c.detail.replace(/\|/g, "\\|").replace(new RegExp(pop, "g"), "<pop>")} |`),
  "",
  "## Device log",
  "",
  "```",
  ...logs.map((l) => l.replace(new RegExp(pop, "g"), "<pop>")),
  "```",
  "",
].join("\n");
writeFileSync(join(work, "report.md"), report);
console.log(`report: ${join(work, "report.md")}`);
process.exit(checks.every((c) => c.ok) ? 0 : 1);
