// Times the protocomm security handshakes on Node and inside XS (xsnap): `tsx host-sim/provisioning/bench.ts`.
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createSimDevice, isPowerCut } from "../sim-device.js";
import { XsScenarioHost } from "../xs/host.js";
import { ROUNDS, scenarios } from "./handshake-bench.js";
import { nodeCrypto } from "../io/node-crypto.js";

const file = join(import.meta.dirname, "handshake-bench.ts");
const host = await XsScenarioHost.start([file]);
try {
  for (const s of scenarios) {
    await s.run({ engine: "node", device: () => createSimDevice(), isPowerCut, crypto: nodeCrypto }); // warm-up
    let t = performance.now();
    await s.run({ engine: "node", device: () => createSimDevice(), isPowerCut, crypto: nodeCrypto });
    const node = (performance.now() - t) / ROUNDS;
    await host.run(s.name);
    t = performance.now();
    const r = await host.run(s.name, { timeoutMs: 600_000 });
    const xs = (performance.now() - t) / ROUNDS;
    console.log(`${s.name}: Node ${node.toFixed(1)} ms, XS ${xs.toFixed(1)} ms per handshake (device + phone side, both in one engine)${r.error ? " ERROR " + r.error : ""}`);
  }
} finally {
  await host.close();
}
