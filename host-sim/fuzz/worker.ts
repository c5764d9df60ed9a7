// One fuzz target in a child process, so the CLI's watchdog can kill a hung input and still know
// which input it was: each input is written to a small file (one pwrite) before it runs.
import { closeSync, openSync, writeSync } from "node:fs";
import { fuzzTarget } from "./registry.js";
import { fuzz, type FuzzReport } from "./runner.js";

export interface WorkerJob {
  readonly target: string;
  readonly inputs: number;
  readonly seed: number;
  readonly saveTo: string;
  /** Holds [length u32, bytes…]: the input being run now. */
  readonly currentFile: string;
}

export type WorkerMessage =
  | { readonly type: "progress"; readonly done: number }
  | { readonly type: "done"; readonly report: Omit<FuzzReport, "known"> & { known: [string, number][] } };

const job = JSON.parse(process.argv[2]!) as WorkerJob;
const fd = openSync(job.currentFile, "w");
const header = new Uint8Array(4);
const send = (m: WorkerMessage) => process.send!(m);
const report = fuzz(fuzzTarget(job.target), {
  inputs: job.inputs,
  seed: job.seed,
  saveTo: job.saveTo,
  beforeInput(input) {
    new DataView(header.buffer).setUint32(0, input.length);
    writeSync(fd, Buffer.concat([header, input]), 0, 4 + input.length, 0);
  },
  onProgress: (done) => send({ type: "progress", done }),
});
closeSync(fd);
send({ type: "done", report: { ...report, findings: report.findings.map((f) => ({ ...f, input: Array.from(f.input) as unknown as Uint8Array })), known: [...report.known] } });
process.disconnect();
