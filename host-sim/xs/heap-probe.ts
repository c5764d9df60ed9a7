// The live XS heap, for scenarios that measure memory (bench, soak). Inside XS the scenario context
// carries `sampleHeap` (host-sim/xs/guest/main.ts): the host runs XS's collector as a command of its
// own, between deliveries, and reports the slots still in use. On Node there is no such probe.
// Engine-neutral: no Node modules here.
import type { ScenarioContext } from "../../test/scenarios/harness.js";

export type HeapProbe = (label: string) => Promise<number>;

/** The probe, or undefined when the scenario does not run inside XS. */
export function heapProbe(ctx: ScenarioContext): HeapProbe | undefined {
  const probe = (ctx as ScenarioContext & { readonly sampleHeap?: HeapProbe }).sampleHeap;
  return typeof probe === "function" ? probe : undefined;
}
