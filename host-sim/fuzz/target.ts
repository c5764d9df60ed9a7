// What a fuzz target is. Adding a decoder or state machine to the fuzzer is one entry in
// registry.ts: a name, valid seeds, optional structure-aware generators, and `run`, which feeds
// one input and throws FuzzFailure when a property breaks (any other exception escaping is a
// failure too).
import type { Rand } from "./rand.js";

export interface FuzzTarget {
  readonly name: string;
  /** Largest input the target is given: bounds one input's work. */
  readonly maxLength: number;
  /** Inputs in the short mode inside `npm test` when one input is costly (default 5000). */
  readonly shortInputs?: number;
  /** Valid inputs to mutate (made once per run). */
  seeds(r: Rand): Uint8Array[];
  /** Structure-aware inputs: nearly valid by construction. */
  readonly generators?: readonly ((r: Rand) => Uint8Array)[];
  /**
   * Bugs found in code this harness does not own and reported, not yet fixed: a finding whose
   * message matches is counted as known, not as a new failure. Its saved input must keep
   * reproducing it (test/node/fuzz.test.ts checks), so the entry goes once the bug is fixed.
   */
  readonly knownIssues?: readonly KnownIssue[];
  /** Feed one input. Returns normally when every property held. */
  run(input: Uint8Array): void;
}

/** A property that does not hold (as opposed to an exception escaping the code under test). */
export class FuzzFailure extends Error {
  readonly code = "fuzz-failure";
}

export function expect(condition: unknown, message: string): asserts condition {
  if (!condition) throw new FuzzFailure(message);
}

export interface KnownIssue {
  /** File-name-safe tag, e.g. "record-version-tostring". */
  readonly id: string;
  readonly matches: RegExp;
  readonly note: string;
}
