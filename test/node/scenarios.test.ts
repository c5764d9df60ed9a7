// Runs every engine-neutral scenario (test/scenarios/*.scenario.ts) on Node with host-sim's I/O.
// The same scenarios run inside XS in test/xs/scenarios.test.ts.
import { after, before, describe, test } from "node:test";
import type { Scenario, ScenarioContext } from "../scenarios/harness.js";
import { createSimDevice, isPowerCut } from "../../host-sim/sim-device.js";
import { scenarioFiles } from "../../host-sim/xs/host.js";
import { startScenarioBroker, type ScenarioBroker } from "../support/scenario-broker.js";
import { nodeCrypto } from "../../host-sim/io/node-crypto.js";

const modules = await Promise.all(scenarioFiles().map(async (file) => ({ file, module: (await import(file)) as { scenarios: Scenario[] } })));
const needsBroker = modules.some(({ module }) => module.scenarios.some((s) => s.needs?.includes("broker")));

let broker: ScenarioBroker | undefined;
before(async () => {
  if (needsBroker) broker = await startScenarioBroker();
});
after(async () => {
  await broker?.stop();
});

for (const { file, module } of modules) {
  describe(file.replace(/^.*\//, ""), () => {
    for (const scenario of module.scenarios) {
      test(scenario.name, async () => {
        const ctx: ScenarioContext = {
          engine: "node",
          device: () => createSimDevice(),
          crypto: nodeCrypto,
          isPowerCut,
          ...(scenario.needs?.includes("broker") ? { broker: broker!.env } : {}),
        };
        await scenario.run(ctx);
      });
    }
  });
}
