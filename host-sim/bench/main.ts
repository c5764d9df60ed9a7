// npm run bench [-- --json] [--reps N]
// Prints one table (or, with --json, one JSON object per figure: name, value, unit, engine,
// method, and a ratio to a reference measured in the same run, since this machine is noisy).
// Medians over --reps repetitions (default 5).
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { createSimDevice, isPowerCut } from "../sim-device.js";
import { XsScenarioHost } from "../xs/host.js";
import type { ScenarioContext } from "../../test/scenarios/harness.js";
import { startBenchBroker } from "./brokers.js";
import { bleProvisioning } from "./provisioning.js";
import { measureOnboardingHeap } from "./xs-heap.js";
import { warmReboot } from "./reboot.js";
import { allSourceModules, bundleSize } from "./size.js";
import { WORK, type Work } from "./work.js";
import { nodeCrypto } from "../io/node-crypto.js";
import { measureTlsVerification } from "./tls-verify.js";

export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly engine: "node" | "xs" | "bundle";
  readonly method: string;
  /** value / reference, when the figure is a time: the reference is named in `reference`. */
  readonly ratio?: number;
  readonly reference?: string;
}

const { values } = parseArgs({ options: { json: { type: "boolean", default: false }, reps: { type: "string", default: "5" } } });
const REPS = Math.max(1, Number(values.reps));
const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const figures: Figure[] = [];
const emit = (f: Figure) => {
  figures.push(f);
  if (values.json) console.log(JSON.stringify(f));
  else process.stderr.write(`  … ${f.name} [${f.engine}]\n`);
};

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
async function timed(fn: () => Promise<unknown> | unknown): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}
const round = (x: number, digits = 3) => Number(x.toPrecision(digits));

// --- references, measured in this run ------------------------------------------------------
const kib = new Uint8Array(1024).map((_, i) => i & 255);
const refSamples: number[] = [];
for (let r = 0; r < REPS; r++) refSamples.push((await timed(() => { for (let i = 0; i < 5000; i++) createHash("sha512").update(kib).digest(); })) / 5000);
const REF_MS = median(refSamples);
emit({ name: "reference: node:crypto SHA-512 of 1 KiB", value: round(REF_MS * 1000), unit: "µs/op", engine: "node", method: `median of ${REPS} runs of 5000 (OpenSSL, native)` });
const REF = "node:crypto SHA-512/KiB";

const bench = await startBenchBroker();
const nodeCtx = (w: Work): ScenarioContext => ({
  engine: "node", device: () => createSimDevice({ log: () => {} }), isPowerCut, crypto: nodeCrypto,
  ...(w.needsBroker ? { broker: bench.env } : {}),
});

// --- the same code on Node and on XS -----------------------------------------------------------
let xs: XsScenarioHost | undefined;
try {
  xs = await XsScenarioHost.start([join(root, "host-sim", "bench", "work.ts")]);
} catch (e) {
  // reported, not fatal: the Node, size and reboot figures are still worth having
  process.stderr.write(`XS engine did not start, XS figures skipped: ${(e as Error).message.split("\n")[0]}\n`);
}
let XS_EMPTY = 0;
if (xs) {
  const xsEmpty: number[] = [];
  for (let r = 0; r < REPS; r++) xsEmpty.push(await timed(() => xs.run("bench:empty")));
  XS_EMPTY = median(xsEmpty);
  emit({ name: "reference: empty XS run (bridge round trip)", value: round(XS_EMPTY), unit: "ms", engine: "xs", method: `median of ${REPS}; subtracted from every XS timing` });
}

const CODE: Record<string, string> = {
  "ed25519-keygen": "@noble/ed25519 with @noble/hashes SHA-512",
  "ed25519-sign": "@noble/ed25519 with @noble/hashes SHA-512",
  "sha512-1kib": "@noble/hashes SHA-512",
  "x25519-shared": "src/crypto/x25519.ts: one X25519 scalar multiplication (BigInt ladder)",
  "security1-handshake": "src/provisioning/security.ts device side of Security 1: Command0 (X25519 key pair + shared secret, PoP hash, AES-CTR set-up) and Command1 (verify), phone messages precomputed",
  "security2-handshake": "src/provisioning/security.ts device side of Security 2: Command0 (SRP-6a B = kv + g^b over the 3072-bit group) and Command1 (S, K, M check, H(A,M,K)), phone messages precomputed",
  "aes-ctr-1kib": "src/crypto/aes.ts AesCtrStream over 1 KiB (AES-256, @noble/ciphers)",
  "aes-gcm-1kib": "src/crypto/aes.ts aesGcmEncrypt of 1 KiB (AES-256, @noble/ciphers)",
};
for (const w of WORK.filter((w) => CODE[w.name] !== undefined)) {
  const nodeMs: number[] = [];
  const xsMs: number[] = [];
  w.setup?.(nodeCtx(w));
  if (xs && w.setup) {
    const result = await xs.run(`bench:${w.name}:setup`);
    if (result.error) throw new Error(`bench:${w.name}:setup on XS: ${result.error}`);
  }
  for (let r = 0; r < REPS; r++) {
    nodeMs.push((await timed(() => w.run(nodeCtx(w), w.iterations.node))) / w.iterations.node);
    if (!xs) continue;
    const t = await timed(async () => {
      const result = await xs.run(`bench:${w.name}`);
      if (result.error) throw new Error(result.error);
    });
    xsMs.push(Math.max(0, t - XS_EMPTY) / w.iterations.xs);
  }
  const unit = "ms/op";
  const how = (engine: string, n: number) => `${engine}: median of ${REPS} runs of ${n} (the core's code: ${CODE[w.name]}), timed from Node`;
  const n = median(nodeMs);
  emit({ name: w.name, value: round(n), unit, engine: "node", method: how("Node", w.iterations.node), ratio: round(n / REF_MS), reference: REF });
  if (!xs) continue;
  const x = median(xsMs);
  emit({ name: w.name, value: round(x), unit, engine: "xs", method: `${how("XS (xsnap, board prelude)", w.iterations.xs)}; empty run subtracted`, ratio: round(x / REF_MS), reference: REF });
  emit({ name: `${w.name} XS/Node`, value: round(x / n), unit: "×", engine: "xs", method: "ratio of the two medians above" });
}

// --- TLS verification per connection (its own XS bundle: host-sim/bench/tls-verify.ts) ---------
for (const f of await measureTlsVerification(REPS, REF_MS, REF)) emit(f);

// --- provisioning traffic ------------------------------------------------------------------------
for (const security of [0, 1, 2] as const) {
  for (const mtu of [23, 512]) {
    const samples = [];
    for (let r = 0; r < Math.min(REPS, 3); r++) samples.push(await bleProvisioning(security, mtu));
    const how = `one full BLE provisioning (proto-ver, Security ${security} session, scan, credentials, apply, status until connected; no user mapping), GATT discovery included, ATT MTU ${mtu}; simulated link counting every ATT PDU (host-sim/ble/link.ts); median of ${samples.length}`;
    emit({ name: `BLE provisioning sec${security} @ MTU ${mtu}: ATT round trips`, value: median(samples.map((x) => x.attRoundTrips)), unit: "round trips", engine: "node", method: `${how}; ${median(samples.map((x) => x.requests))} protocomm requests` });
    emit({ name: `BLE provisioning sec${security} @ MTU ${mtu}: bytes phone→device`, value: median(samples.map((x) => x.bytesToDevice)), unit: "bytes", engine: "node", method: `${how}; ATT PDU bytes` });
    emit({ name: `BLE provisioning sec${security} @ MTU ${mtu}: bytes device→phone`, value: median(samples.map((x) => x.bytesToPhone)), unit: "bytes", engine: "node", method: `${how}; ATT PDU bytes` });
  }
}

// A fresh XS machine per heap measurement, so one run's garbage does not count in the next.
await xs?.close();
if (xs) {
  const baseline: number[] = [];
  for (const name of ["empty", "online", "telemetry-100", "telemetry-1000", "telemetry-3000"]) {
    const heap: number[] = [];
    for (let r = 0; r < Math.min(REPS, 3); r++) {
      const fresh = await XsScenarioHost.start([join(root, "host-sim", "bench", "work.ts")]);
      try {
        const result = await fresh.run(`bench:${name}`, { broker: bench.env, timeoutMs: 300_000 });
        if (result.error) throw new Error(`bench:${name} on XS: ${result.error}`);
        heap.push(result.meter?.currentHeapCount ?? NaN);
      } finally {
        await fresh.close();
      }
    }
    const slots = median(heap);
    if (name === "empty") baseline.push(slots);
    const what = name === "empty" ? "the bundle loaded, an empty run (baseline)"
      : name === "online" ? "boot → TLS → CONNACK → online" : `online, then ${name.split("-")[1]} QoS 1 telemetry publishes (all acknowledged)`;
    emit({
      name: `XS heap high-water: ${name}`, value: slots, unit: "slots", engine: "xs",
      method: `${what}; fresh XS machine; highest xsnap meter currentHeapCount over every command of the run. currentHeapCount is slots in use: live at the last GC sweep plus allocated since (xsMemory.c), so its peak is where XS collects, not live data; the post-GC live figures are the "XS live heap after GC" rows. Growth with publish count would show as a rising high-water (XS grows its heap when a sweep frees too little). Median of ${heap.length}; a slot is 32 B on this 64-bit host, 16 B on ESP32; the bundle holds every core module and the scenario harness`,
      ...(name !== "empty" && baseline[0] ? { ratio: round(slots / baseline[0]), reference: "empty-run baseline" } : {}),
    });
    if (name !== "empty" && baseline[0] !== undefined) {
      emit({ name: `XS heap high-water above baseline: ${name}`, value: slots - baseline[0], unit: "slots", engine: "xs", method: "the figure above minus the empty-run baseline" });
    }
  }
}

// --- XS live heap after collection, across a whole onboarding ----------------------------------
if (xs) {
  const runs = [];
  for (let r = 0; r < Math.min(REPS, 3); r++) runs.push(await measureOnboardingHeap(1000));
  const labels = runs[0]!.samples.map((s) => s.label);
  const base = median(runs.map((run) => run.samples[0]!.slots));
  for (const [i, label] of labels.entries()) {
    const slots = median(runs.map((run) => run.samples[i]?.slots ?? NaN));
    emit({
      name: `XS live heap after GC: ${label}`, value: slots, unit: "slots", engine: "xs",
      method: "fresh XS machine with the board prelude; the scenario (host-sim/bench/onboarding-heap.ts) pauses, the host runs XS's collector (the worker's gc(), kept aside by the prelude for the bridge) as a command of its own between deliveries, and reads xsnap's meter currentHeapCount, which a collection resets to the live slots. " +
        `Onboarding: Security 2 BLE provisioning by the phone stand-in in the same machine, Wi-Fi join, bootstrap (client generation) over HTTPS from the reference cloud, MQTT over TLS to its broker. Slots only (32 B here, 16 B on ESP32); chunks (strings, buffers, BigInts) are not counted. Median of ${runs.length}`,
      ...(i > 0 ? { ratio: round(slots / base), reference: "baseline sample" } : {}),
    });
    const snap = median(runs.map((run) => run.samples[i]?.snapshotBytes ?? NaN));
    if (Number.isFinite(snap)) {
      emit({ name: `XS snapshot after GC: ${label}`, value: snap, unit: "bytes", engine: "xs", method: "size of an xsnap snapshot written right after the collection above (every live slot and chunk, bytecode and built-ins included, serialised; 64-bit layout): the live heap in bytes, chunks included" });
    }
    if (i > 0) emit({ name: `XS live heap after GC above baseline: ${label}`, value: slots - base, unit: "slots", engine: "xs", method: `the figure above minus the baseline sample; ≈ ${Math.round(((slots - base) * 16) / 1024)} KiB at 16 B per slot (ESP32)` });
  }
  emit({ name: "XS heap high-water: whole onboarding + 1000 publishes", value: median(runs.map((r) => r.highWaterSlots)), unit: "slots", engine: "xs", method: "highest xsnap currentHeapCount at the end of any delivery during the run above (live + garbage not yet collected: where XS collects)" });
}

// --- code size ---------------------------------------------------------------------------------
const core = await bundleSize(root, ["src/lifecycle/device.ts"]);
emit({ name: "bundle: core (boot → online)", value: core.total, unit: "bytes", engine: "bundle", method: "esbuild --bundle --minify, platform neutral, entry src/lifecycle/device.ts" });
for (const [concern, bytes] of [...core.byConcern].sort((a, b) => b[1] - a[1])) {
  if (bytes > 0) emit({ name: `bundle: core / ${concern}`, value: bytes, unit: "bytes", engine: "bundle", method: "esbuild metafile bytesInOutput of the core bundle, grouped by src/ folder or npm package" });
}
try {
  const all = await bundleSize(root, allSourceModules(root));
  emit({ name: "bundle: all of src/ (board glue excluded)", value: all.total, unit: "bytes", engine: "bundle", method: "esbuild --bundle --minify of every module under src/ except src/platform/" });
  for (const [concern, bytes] of [...all.byConcern].sort((a, b) => b[1] - a[1])) {
    if (!core.byConcern.has(concern)) emit({ name: `bundle: all / ${concern}`, value: bytes, unit: "bytes", engine: "bundle", method: "as above, concerns not in the core bundle yet" });
  }
} catch (e) {
  process.stderr.write(`bundle of all src/ failed (work in progress elsewhere?): ${(e as Error).message.split("\n")[0]}\n`);
}

// --- warm reboot to online -----------------------------------------------------------------------
for (const latency of [0, 50, 200]) {
  const samples = [];
  for (let r = 0; r < REPS; r++) samples.push(await warmReboot(bench.env, latency));
  const ms = median(samples.map((s) => s.ms));
  emit({
    name: `warm reboot → online @ ${latency} ms RTT`, value: round(ms), unit: "ms", engine: "node",
    method: `boot() to CONNACK through a loopback proxy delaying each chunk by RTT/2 each way; median of ${REPS}`,
    ...(latency > 0 ? { ratio: round(ms / latency), reference: "injected RTT" } : {}),
  });
  if (latency === 50) {
    const s = samples[0]!;
    emit({ name: "warm reboot: round trips (TLS + MQTT)", value: median(samples.map((x) => x.roundTrips)), unit: "round trips", engine: "node", method: "broker→device flights seen by the proxy before CONNACK; TCP's own handshake (1 more) is below the proxy" });
    emit({ name: "warm reboot: flash writes", value: Math.max(...samples.map((x) => x.flashWrites)), unit: "writes", engine: "node", method: "host-sim flash write+delete count from boot to online (max over runs); must be 0" });
    emit({ name: "warm reboot: connections opened", value: s.connections, unit: "sockets", engine: "node", method: "tcp/tls/udp opens through the device's Io" });
    emit({ name: "warm reboot: HTTP calls", value: Math.max(...samples.map((x) => x.otherConnections)), unit: "calls", engine: "node", method: "connections to anything but the MQTT endpoint (max over runs); must be 0" });
  }
}
await bench.stop();

if (!values.json) {
  const rows = figures.map((f) => [f.name, f.engine, `${f.value} ${f.unit}`, f.ratio !== undefined ? `${f.ratio}× ${f.reference}` : ""]);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log(["figure".padEnd(widths[0]!), "engine".padEnd(widths[1]!), "value".padStart(widths[2]!), "ratio"].join("  "));
  for (const r of rows) console.log([r[0]!.padEnd(widths[0]!), r[1]!.padEnd(widths[1]!), r[2]!.padStart(widths[2]!), r[3]].join("  "));
}
process.exit(0); // the broker's and the devices' timers are gone; do not wait for stragglers
