// npm run fuzz [-- --long] [--inputs N] [--seed S] [--target NAME] [--hang-seconds S]
// Runs every registered target (registry.ts) in child processes, one per core. Default 100,000
// inputs per target; --long 1,000,000. New failures are saved under test/fuzz-regressions/ and
// make the exit code 1. A target that makes no progress for --hang-seconds is stopped and the
// input it was running saved as a hang.
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { fork } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { FUZZ_TARGETS, fuzzTarget } from "./registry.js";
import { REGRESSIONS_DIR, runOne, regressionInputs, saveFinding, type FuzzFinding } from "./runner.js";
import type { WorkerJob, WorkerMessage } from "./worker.js";

const { values } = parseArgs({
  options: {
    long: { type: "boolean", default: false },
    inputs: { type: "string" },
    seed: { type: "string" },
    target: { type: "string", multiple: true },
    "hang-seconds": { type: "string", default: "30" },
  },
});
const inputs = values.inputs !== undefined ? Number(values.inputs) : values.long ? 1_000_000 : 100_000;
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 0x7fffffff;
const targets = values.target ? values.target.map(fuzzTarget) : [...FUZZ_TARGETS];
const hangMs = Number(values["hang-seconds"]) * 1000;

interface Row { target: string; inputs: number; seconds: number; failures: FuzzFinding[]; known: [string, number][]; replayed: number }

/** Replays the saved inputs first: a fixed bug must stay fixed. */
function replay(name: string): { failures: FuzzFinding[]; count: number } {
  const target = fuzzTarget(name);
  const saved = regressionInputs(name);
  const failures: FuzzFinding[] = [];
  for (const { file, input } of saved) {
    const finding = runOne(target, input);
    if (finding && finding.known === undefined) failures.push({ ...finding, file });
  }
  return { failures, count: saved.length };
}

function runInWorker(target: string): Promise<Row> {
  const currentFile = join(tmpdir(), `fuzz-${process.pid}-${target}.input`);
  const job: WorkerJob = { target, inputs, seed, saveTo: REGRESSIONS_DIR, currentFile };
  const worker = fork(fileURLToPath(new URL("./worker.ts", import.meta.url)), [JSON.stringify(job)], { execArgv: ["--import", "tsx"] });
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let lastBeat = performance.now();
    const watchdog = setInterval(() => {
      if (performance.now() - lastBeat < hangMs) return;
      clearInterval(watchdog);
      worker.kill("SIGKILL");
      const saved = readFileSync(currentFile);
      const input = new Uint8Array(saved.subarray(4, 4 + saved.readUInt32BE(0)));
      const finding: FuzzFinding = { target, kind: "hang", message: `no progress for ${hangMs / 1000} s`, input };
      finding.file = saveFinding(REGRESSIONS_DIR, finding);
      resolve({ target, inputs: 0, seconds: (performance.now() - started) / 1000, failures: [finding], known: [], replayed: 0 });
    }, 1000);
    worker.on("message", (m: WorkerMessage) => {
      lastBeat = performance.now();
      if (m.type === "progress" && m.done % 100_000 === 0) process.stderr.write(`  ${target}: ${m.done} inputs\n`);
      if (m.type === "done") {
        clearInterval(watchdog);
        rmSync(currentFile, { force: true });
        const failures = m.report.findings.map((f) => ({ ...f, input: Uint8Array.from(f.input) }));
        resolve({ target, inputs: m.report.inputs, seconds: m.report.ms / 1000, failures, known: m.report.known, replayed: 0 });
      }
    });
    worker.on("error", (e) => { clearInterval(watchdog); reject(e); });
    worker.on("exit", (code) => {
      if (code !== 0 && code !== null) { clearInterval(watchdog); reject(new Error(`fuzz worker for ${target} exited with code ${code}`)); }
    });
  });
}

console.log(`fuzz: ${targets.length} targets, ${inputs} inputs each, seed ${seed}`);
const rows: Row[] = [];
const queue = targets.map((t) => t.name);
await Promise.all(Array.from({ length: Math.min(availableParallelism(), queue.length) }, async () => {
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    const replayed = replay(name);
    const row = await runInWorker(name);
    rows.push({ ...row, failures: [...replayed.failures, ...row.failures], replayed: replayed.count });
  }
}));

rows.sort((a, b) => targets.findIndex((t) => t.name === a.target) - targets.findIndex((t) => t.name === b.target));
console.log(["target".padEnd(20), "inputs".padStart(10), "seconds".padStart(8), "inputs/s".padStart(9), "replayed".padStart(9), "new failures".padStart(13), "  known issues hit"].join(""));
for (const r of rows) {
  console.log([r.target.padEnd(20), String(r.inputs).padStart(10), r.seconds.toFixed(1).padStart(8), String(Math.round(r.inputs / r.seconds)).padStart(9),
    String(r.replayed).padStart(9), String(r.failures.length).padStart(13), `  ${r.known.map(([id, n]) => `${id}×${n}`).join(", ") || "-"}`].join(""));
}
const failures = rows.flatMap((r) => r.failures);
for (const f of failures) console.log(`\nFAIL ${f.target} (${f.kind}): ${f.message}\n  input: ${f.file ?? Buffer.from(f.input).toString("hex")}`);
const knownIds = new Set(rows.flatMap((r) => r.known.map(([id]) => id)));
const notes = new Map(targets.flatMap((t) => t.knownIssues ?? []).map((k) => [k.id, k.note]));
for (const [id, note] of notes) if (knownIds.has(id)) console.log(`\nknown ${id}: ${note}`);
process.exitCode = failures.length > 0 ? 1 : 0;
