// The device side of the protocomm security handshakes (Command0 + Command1, phone messages
// precomputed), on Node and inside XS (xsnap, board prelude, the JavaScript crypto provider):
// `node --import tsx host-sim/provisioning/bench.ts [--reps N]`. Medians; the empty XS run (the
// bridge round trip) is subtracted.
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createSimDevice, isPowerCut } from "../sim-device.js";
import { nodeCrypto } from "../io/node-crypto.js";
import { XsScenarioHost } from "../xs/host.js";
import { ROUNDS, scenarios } from "./handshake-bench.js";

const { values } = parseArgs({ options: { reps: { type: "string", default: "5" } } });
const REPS = Math.max(1, Number(values.reps));
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
const ctx = { engine: "node", device: () => createSimDevice({ log: () => {} }), isPowerCut, crypto: nodeCrypto };
const byName = new Map(scenarios.map((s) => [s.name, s]));

const host = await XsScenarioHost.start([join(import.meta.dirname, "handshake-bench.ts")]);
try {
  const xsRun = async (name: string): Promise<number> => {
    const t = performance.now();
    const result = await host.run(name, { timeoutMs: 600_000 });
    if (result.error) throw new Error(`${name} on XS: ${result.error}`);
    return performance.now() - t;
  };
  const empty: number[] = [];
  for (let r = 0; r < REPS; r++) empty.push(await xsRun("bench: empty"));
  const overhead = median(empty);
  for (const security of [1, 2]) {
    const name = `bench: Security ${security} device handshake`;
    await byName.get(`${name}:setup`)!.run(ctx);
    await xsRun(`${name}:setup`);
    const node: number[] = [];
    const xs: number[] = [];
    for (let r = 0; r < REPS; r++) {
      const t = performance.now();
      await byName.get(name)!.run(ctx);
      node.push((performance.now() - t) / ROUNDS);
      xs.push(Math.max(0, (await xsRun(name)) - overhead) / ROUNDS);
    }
    const n = median(node);
    const x = median(xs);
    console.log(`Security ${security} handshake, device side: Node ${n.toFixed(2)} ms, XS ${x.toFixed(1)} ms per handshake (median of ${REPS} × ${ROUNDS}; XS/Node ${(x / n).toFixed(0)}×)`);
  }
} finally {
  await host.close();
}
