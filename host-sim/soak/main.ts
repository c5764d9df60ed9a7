// npm run soak [-- --hours N] [--restart-every MINUTES] [--json]
// The device core on XS, a simulated N hours (default 24) on the virtual clock, Mosquitto over TLS
// restarted every 20 simulated minutes; prints the figures and exits 1 on a lost message or heap growth.
import { parseArgs } from "node:util";
import { runSoak } from "./soak.js";

const { values } = parseArgs({
  options: {
    hours: { type: "string", default: "24" },
    "restart-every": { type: "string", default: "20" },
    json: { type: "boolean", default: false },
  },
});
const hours = Number(values.hours);
if (!(hours > 0)) throw new Error(`--hours must be a positive number, not ${values.hours}`);
const r = await runSoak({
  hours, restartEveryMs: Number(values["restart-every"]) * 60_000,
  onProgress: (p) => process.stderr.write(`  ${(p.simulatedMs / 3_600_000).toFixed(0)} h simulated: ${p.restarts} broker restarts, ${p.received} messages received\n`),
});
const figures = {
  simulatedHours: Number((r.simulatedMs / 3_600_000).toFixed(2)),
  realSeconds: Number((r.realMs / 1000).toFixed(1)),
  broker: r.broker,
  brokerRestarts: r.restarts,
  ofWhichCrashes: r.crashes,
  telemetryPublished: r.published,
  telemetryReceived: r.received,
  lost: r.lost.length,
  lostSeqs: r.lost.slice(0, 20),
  duplicates: r.duplicates,
  droppedByDevice: r.droppedByDevice,
  onlineTransitions: r.onlineTransitions,
  resentAfterReconnect: r.resent,
  xsLiveHeapSlots: { firstOnline: r.heapFirst, max: r.heapMax, last: r.heap.at(-1)?.slots ?? null, samples: r.heap.length, limit: r.heapLimit },
  heapWithinBound: r.heapWithinBound,
  heapMethod: "live slots after XS's collector, run by the host between deliveries at the middle of every restart period (device online); limit = first online sample × 1.02 + 500 slots",
  clockSteps: r.clockSteps,
};
if (values.json) console.log(JSON.stringify(figures));
else for (const [k, v] of Object.entries(figures)) console.log(`${k.padEnd(20)} ${typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)}`);
process.exit(r.lost.length === 0 && r.heapWithinBound ? 0 : 1);
