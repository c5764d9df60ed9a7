// Size and XS-heap figures for the README's memory budget, measured without a board:
//   - the glue + core + npm code as one minified module (SDK modules excluded: they are C or
//     preloaded SDK JavaScript), and the core alone (src/lifecycle/device.ts and what it imports);
//   - the XS heap in the xsnap worker (64-bit: a slot is 32 bytes there, 16 on the ESP32) after
//     the board prelude, after loading the glue bundle, and after a first boot (identity made).
// Usage: npx tsx host-sim/board/measure.ts
import { build } from "esbuild";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { XsWorker, type MeterUsage } from "../xs/worker.js";
import { bundleForSize, bundleWithFakes, fakesDir, repoRoot } from "./bundle.js";

async function coreSize(): Promise<number> {
  const result = await build({
    entryPoints: [join(repoRoot, "src", "lifecycle", "device.ts")],
    bundle: true, write: false, format: "esm", minify: true, platform: "neutral",
    mainFields: ["module", "main"], conditions: ["import", "default"], target: "es2022", logLevel: "silent",
  });
  return result.outputFiles[0]!.contents.length;
}

// xsnap's meter reports slots in use; its "allocate" is the worker's whole arena (constant), so
// chunk memory (strings, byte arrays, bytecode of modules that are not preloaded) is not measured.
function show(label: string, meter: MeterUsage): void {
  const slots = meter.currentHeapCount ?? 0;
  console.log(`${label.padEnd(34)} ${String(slots).padStart(6)} slots (= ${(slots * 16 / 1024).toFixed(0)} KB at the ESP32's 16 B per slot)`);
}

const board = Buffer.byteLength(await bundleForSize(), "utf8");
console.log(`glue + core + @noble (minified ESM): ${board} bytes`);
console.log(`core alone (device.ts graph, minified): ${await coreSize()} bytes`);

const worker = new XsWorker({ name: "measure", meteringLimit: 0, onQuery: () => new Uint8Array(0) });
try {
  // keep xsnap's gc() for the measurement (the prelude removes it): figures after a collection are
  // what is live, figures before include garbage
  await worker.evaluate("globalThis.measureGc = typeof gc === 'function' ? gc : undefined;");
  const collected = async (label: string) => show(`${label}, after gc`, (await worker.evaluate("if (globalThis.measureGc) globalThis.measureGc();")).meter);
  show("after the board prelude", (await worker.evaluate(readFileSync(join(repoRoot, "host-sim", "xs", "guest", "board-prelude.js"), "utf8"))).meter);
  show("after loading glue + core + fakes", (await worker.evaluate(await bundleWithFakes(join(fakesDir, "guest.mts")))).meter);
  await collected("loaded");
  const ask = async (request: unknown) => worker.command(Buffer.from(JSON.stringify(request)));
  const names = JSON.parse(Buffer.from((await ask({ cmd: "list" })).reply).toString("utf8")) as string[];
  const first = names[0]!;
  const boot = await ask({ cmd: "run", name: first });
  show("after first boot (identity made)", boot.meter);
  await collected("booted");
  console.log(`  (${Buffer.from(boot.reply).toString("utf8")})`);
} finally {
  await worker.close();
}
