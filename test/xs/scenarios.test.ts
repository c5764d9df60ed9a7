// Runs every engine-neutral scenario inside Moddable's XS engine (built by @agoric/xsnap), with
// the board prelude applied: no host globals, frozen built-ins, no ambient clock or randomness.
// I/O is bridged to host-sim's real sockets, flash and timers. Fails if the core does not bundle
// for a neutral platform (a Node module imported from src/) or uses what XS lacks.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { Scenario } from "../scenarios/harness.js";
import { coreModuleFiles, scenarioFiles, XsScenarioHost } from "../../host-sim/xs/host.js";
import { startScenarioBroker, type ScenarioBroker } from "../support/scenario-broker.js";

const files = scenarioFiles();
const modules = await Promise.all(files.map(async (file) => (await import(file)) as { scenarios: Scenario[] }));
const scenarios = modules.flatMap((m) => m.scenarios);

let host: XsScenarioHost;
let broker: ScenarioBroker | undefined;
before(async () => {
  host = await XsScenarioHost.start(files);
  if (scenarios.some((s) => s.needs?.includes("broker"))) broker = await startScenarioBroker();
});
after(async () => {
  await host?.close();
  await broker?.stop();
});

test("XS bundle registers every scenario", async () => {
  assert.deepEqual((await host.list()).sort(), scenarios.map((s) => s.name).sort());
});

test("every module of the core loads in XS, reached by a scenario or not", async () => {
  const { modules, exports } = await host.coreModules();
  assert.equal(modules, coreModuleFiles().length);
  assert.ok(exports > modules, "their exports are there");
});

for (const scenario of scenarios) {
  test(`[xs] ${scenario.name}`, async () => {
    const result = await host.run(scenario.name, scenario.needs?.includes("broker") ? { broker: broker!.env } : {});
    if (result.error !== undefined) assert.fail(`on XS: ${result.error}`);
  });
}
