// The fuzzing loop, with no coverage feedback: each input is a mutation of a valid seed, a
// structure-aware generator's output, or plain random bytes. Any exception that escapes, a broken
// property (FuzzFailure) or an input that takes longer than `slowMs` is a failure; failing inputs
// are saved under test/fuzz-regressions/<target>/ and replayed first by every later run.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { mutate } from "./mutate.js";
import { Rand } from "./rand.js";
import { FuzzFailure, type FuzzTarget } from "./target.js";

export const REGRESSIONS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "test", "fuzz-regressions");

export type FailureKind = "exception" | "property" | "hang";

export interface FuzzFinding {
  readonly target: string;
  readonly kind: FailureKind;
  readonly message: string;
  readonly input: Uint8Array;
  /** The id of the known issue this is, if it is one. */
  readonly known?: string;
  /** Where the input was saved, if it was. */
  file?: string;
}

export interface FuzzOptions {
  readonly inputs: number;
  readonly seed: number;
  /** An input taking longer than this is a hang. Default 1000 ms. */
  readonly slowMs?: number;
  /** Save failing inputs here (per target folder); default: do not save. */
  readonly saveTo?: string;
  /** Called before each input (the CLI's watchdog copies it out of the thread). */
  readonly beforeInput?: (input: Uint8Array) => void;
  readonly onProgress?: (done: number) => void;
}

export interface FuzzReport {
  readonly target: string;
  readonly inputs: number;
  readonly ms: number;
  /** New failures: each distinct one once. */
  readonly findings: readonly FuzzFinding[];
  /** Known issues met: id → how many inputs hit it. */
  readonly known: ReadonlyMap<string, number>;
}

/** Runs one input; a finding if anything went wrong. */
export function runOne(target: FuzzTarget, input: Uint8Array, slowMs = 1000): FuzzFinding | undefined {
  const start = performance.now();
  try {
    target.run(input);
  } catch (e) {
    const kind: FailureKind = e instanceof FuzzFailure ? "property" : "exception";
    const message = e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e);
    const known = target.knownIssues?.find((k) => k.matches.test(message))?.id;
    return { target: target.name, kind, message, input, ...(known !== undefined ? { known } : {}) };
  }
  const ms = performance.now() - start;
  if (ms > slowMs) return { target: target.name, kind: "hang", message: `one input took ${ms.toFixed(0)} ms (limit ${slowMs} ms)`, input };
  return undefined;
}

export function fuzz(target: FuzzTarget, options: FuzzOptions): FuzzReport {
  const r = new Rand(options.seed);
  const seeds = target.seeds(r);
  const generators = target.generators ?? [];
  const findings: FuzzFinding[] = [];
  const seen = new Set<string>();
  const known = new Map<string, number>();
  const start = performance.now();
  for (let i = 0; i < options.inputs; i++) {
    const roll = r.next();
    let input: Uint8Array;
    if (roll < 0.5 || generators.length === 0) input = mutate(r, r.pick(seeds), target.maxLength, r.pick(seeds));
    else if (roll < 0.85) input = generators[r.int(0, generators.length - 1)]!(r).subarray(0, target.maxLength);
    else input = r.bytes(r.int(0, Math.min(64, target.maxLength)));
    options.beforeInput?.(input);
    const finding = runOne(target, input, options.slowMs);
    if (finding?.known !== undefined) {
      const count = known.get(finding.known) ?? 0;
      known.set(finding.known, count + 1);
      // keep one saved input per known issue: the proof it still reproduces
      if (count === 0 && options.saveTo !== undefined && !regressionInputs(target.name, options.saveTo).some((f) => f.file.includes(`known-${finding.known}-`))) {
        saveFinding(options.saveTo, finding);
      }
    } else if (finding) {
      // one saved input per distinct failure message (numbers blurred), not thousands
      const signature = `${finding.kind}:${finding.message.replace(/\(.*$/, "").replace(/\d+/g, "N").slice(0, 120)}`;
      if (!seen.has(signature)) {
        seen.add(signature);
        if (options.saveTo !== undefined) finding.file = saveFinding(options.saveTo, finding);
        findings.push(finding);
      }
    }
    if (options.onProgress && (i + 1) % 10_000 === 0) options.onProgress(i + 1);
  }
  return { target: target.name, inputs: options.inputs, ms: performance.now() - start, findings, known };
}

export function saveFinding(root: string, finding: FuzzFinding): string {
  const dir = join(root, finding.target);
  mkdirSync(dir, { recursive: true });
  const name = createHash("sha256").update(finding.input).digest("hex").slice(0, 16);
  const stem = finding.known !== undefined ? `known-${finding.known}-${name}` : `${finding.kind}-${name}`;
  const file = join(dir, `${stem}.bin`);
  writeFileSync(file, finding.input);
  writeFileSync(join(dir, `${stem}.txt`), `${finding.message}\n`);
  return file;
}

/** The saved failing inputs of one target. */
export function regressionInputs(target: string, root = REGRESSIONS_DIR): { file: string; input: Uint8Array }[] {
  const dir = join(root, target);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith(".bin")).sort().map((f) => ({ file: join(dir, f), input: new Uint8Array(readFileSync(join(dir, f))) }));
}
