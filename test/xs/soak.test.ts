// A shortened soak (host-sim/soak/): the device core inside XS, 2.2 simulated hours on the virtual
// clock, Debian's Mosquitto over TLS restarted every 20 simulated minutes (6 times: 3 orderly stops,
// 3 crashes with a reading in flight, which the device's outbox must resend).
// Every telemetry sequence number must reach the independent subscriber (duplicates allowed), the
// device must come back online after each restart, and the live XS heap after collection must stay
// within the stated bound. `npm run soak` is the full 24 hours.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_HEAP_BOUND, runSoak } from "../../host-sim/soak/soak.js";

test("[xs] soak: 2.2 simulated hours, 6 broker restarts, no lost QoS 1 message, no heap growth", async () => {
  const r = await runSoak({ hours: 2.2 });
  assert.equal(r.restarts, 6, "broker restarts");
  assert.equal(r.crashes, 3, "of which crashes with a reading in flight");
  assert.ok(r.resent >= r.crashes, `the reading in flight at each crash was resent (${r.resent} resent)`);
  assert.ok(r.published >= 2.2 * 120 - 1, `a reading every 30 s for 2.2 h: ${r.published} published`);
  assert.deepEqual(r.lost, [], "sequence numbers never received");
  assert.equal(r.droppedByDevice, 0, "telemetry dropped by the device (outbox full)");
  assert.ok(r.onlineTransitions >= r.restarts + 1, `online again after each restart (${r.onlineTransitions} times)`);
  assert.ok(r.heap.filter((s) => s.label.includes("(online")).length >= 6, "a heap sample in every restart period");
  const bound = `${r.heapMax} slots ≤ ${r.heapFirst} × ${1 + DEFAULT_HEAP_BOUND.fraction} + ${DEFAULT_HEAP_BOUND.slots}`;
  assert.ok(r.heapWithinBound, `live XS heap after GC grew beyond the bound: ${bound}; samples ${r.heap.map((s) => s.slots).join(", ")}`);
});
