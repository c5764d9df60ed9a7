// The live-heap probe the bench and the soak rely on (host-sim/xs/heap-probe.ts): the host runs XS's
// collector between deliveries and reads the slots still in use. It must see retained objects, not
// see released ones or garbage, and report every sample to the host in order.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { XsScenarioHost } from "../../host-sim/xs/host.js";

let host: XsScenarioHost;
before(async () => {
  host = await XsScenarioHost.start([fileURLToPath(new URL("./fixtures/heap-probe.scenario.ts", import.meta.url))]);
});
after(async () => host?.close());

test("[xs] released objects are gone from the sampled live heap", async () => {
  const result = await host.run("heap probe: garbage is collected before the sample");
  assert.equal(result.error, undefined);
  assert.deepEqual(result.heapSamples?.map((s) => s.label), ["holding", "released"]);
  const [holding, released] = result.heapSamples!.map((s) => s.slots);
  assert.ok(holding! - released! >= 20_000, `${holding} → ${released}`);
});

test("[xs] garbage made between two samples does not show in the second", async () => {
  const result = await host.run("heap probe: garbage made between samples does not count");
  assert.equal(result.error, undefined);
  assert.equal(result.heapSamples?.length, 2);
});

test("[xs] the host can collect between runs, and the high-water mark counts garbage", async () => {
  const { slots } = await host.collectGarbage();
  const result = await host.run("heap probe: garbage made between samples does not count");
  assert.ok(slots > 0 && Number.isFinite(slots));
  assert.ok((result.meter?.currentHeapCount ?? 0) > result.heapSamples![1]!.slots, "the high-water mark is above the live heap");
});
