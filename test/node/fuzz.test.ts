// Short mode of the fuzzer (host-sim/fuzz/): a few thousand inputs per registered target with a
// fixed seed, the saved regression inputs replayed, and proof that the harness itself catches an
// escaping exception, a broken property and a hang. Long mode: `npm run fuzz -- --long`.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FUZZ_TARGETS } from "../../host-sim/fuzz/registry.js";
import { fuzz, regressionInputs, runOne } from "../../host-sim/fuzz/runner.js";
import { expect, type FuzzTarget } from "../../host-sim/fuzz/target.js";

const SHORT = 5000;
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

for (const target of FUZZ_TARGETS) {
  describe(`fuzz ${target.name}`, () => {
    const inputs = target.shortInputs ?? SHORT;
    test(`${inputs} inputs: no exception escapes, every property holds, no input is slow`, (t) => {
      const report = fuzz(target, { inputs, seed: 0x5eed });
      const failures = report.findings.map((f) => `${f.kind}: ${f.message}\n  input ${hex(f.input)}`);
      assert.deepEqual(failures, [], `new failures (run \`npm run fuzz -- --target ${target.name}\` to save them)`);
      t.diagnostic(`${report.inputs} inputs in ${report.ms.toFixed(0)} ms; known issues hit: ${JSON.stringify([...report.known])}`);
    });

    const saved = regressionInputs(target.name);
    for (const { file, input } of saved) {
      const name = file.replace(/^.*\//, "");
      const known = /^known-(.+)-[0-9a-f]{16}\.bin$/.exec(name)?.[1];
      test(`regression ${name}`, () => {
        const finding = runOne(target, input);
        if (known === undefined) {
          assert.equal(finding, undefined, `fails again: ${finding?.message}`);
        } else {
          // A reported bug outside this harness: once fixed, this fails; then delete the entry
          // in the target's knownIssues and the saved input (it becomes a plain regression).
          assert.ok(target.knownIssues?.some((k) => k.id === known), `no known issue "${known}" on ${target.name}`);
          assert.equal(finding?.known, known, `known issue ${known} no longer reproduces: ${finding?.message ?? "the input passes"}`);
        }
      });
    }
  });
}

describe("the fuzz harness catches what it should", () => {
  // A decoder with a planted bug of each kind, reachable only from particular bytes.
  const planted = (bug: "exception" | "property" | "hang"): FuzzTarget => ({
    name: `planted-${bug}`,
    maxLength: 16,
    seeds: () => [Uint8Array.from([1, 2, 3, 4])],
    generators: [(r) => r.bytes(r.int(0, 8))],
    run(input) {
      if (input[0] !== 0xab) return;
      if (bug === "exception") (undefined as unknown as { x: number }).x = 1;
      if (bug === "property") expect(false, "planted property failure");
      if (bug === "hang") for (const start = performance.now(); performance.now() - start < 30;);
    },
  });

  for (const bug of ["exception", "property", "hang"] as const) {
    test(`a planted ${bug}`, () => {
      const report = fuzz(planted(bug), { inputs: SHORT, seed: 1, slowMs: 10 });
      assert.equal(report.findings.length, 1, "found once (one finding per distinct failure)");
      assert.equal(report.findings[0]!.kind, bug);
      assert.equal(report.findings[0]!.input[0], 0xab);
    });
  }

  test("a known issue is counted, not reported as new", () => {
    const target = { ...planted("property"), knownIssues: [{ id: "planted", matches: /planted property/, note: "test" }] };
    const report = fuzz(target, { inputs: SHORT, seed: 1 });
    assert.equal(report.findings.length, 0);
    assert.ok((report.known.get("planted") ?? 0) > 0);
  });
});
