// The Node side of the XS heap figures: starts the reference cloud (HTTPS bootstrap service and its
// broker over TLS), makes the unit's bootstrap config known to it, runs bench:onboarding-heap in a
// fresh XS machine and returns the post-collection samples and the high-water mark.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCloud } from "../cloud/cloud.js";
import { generateTestPki } from "../certs/pki.js";
import { createSimDevice } from "../sim-device.js";
import { XsScenarioHost, type HeapSample } from "../xs/host.js";
import type { OnboardingBenchEnv } from "./onboarding-heap.js";

export interface OnboardingHeap {
  readonly samples: readonly HeapSample[];
  /** Highest xsnap currentHeapCount seen at the end of any delivery (live + garbage not yet collected). */
  readonly highWaterSlots: number;
}

const MAC = "02:BE:EC:00:00:01";

export async function measureOnboardingHeap(publishes: number): Promise<OnboardingHeap> {
  const dir = mkdtempSync(join(tmpdir(), "onboarding-bench-heap-"));
  const pki = generateTestPki(join(dir, "pki"));
  const cloud = await startCloud({ tls: { key: pki.serverKeyPem, cert: pki.serverCertPem, ca: pki.caPem }, generation: "client" });
  const externalKey = "bench-external-key";
  cloud.addBootstrapConfig({ externalId: MAC, externalKey });
  const xs = await XsScenarioHost.start([new URL("./onboarding-heap.ts", import.meta.url).pathname], {
    createDevice: () => createSimDevice({ mac: MAC, log: () => {} }),
    snapshotSamples: true,
  });
  try {
    const broker = new URL(cloud.brokerUrl);
    const env: OnboardingBenchEnv = {
      host: broker.hostname, port: Number(broker.port), ca: pki.caPem, wrongCa: pki.wrongCaPem,
      username: "-", password: "-", observer: { username: "-", password: "-" },
      publishes,
      factory: {
        chain: ["stored", "bootstrap"],
        broker: { url: cloud.brokerUrl, ca: pki.caPem },
        bootstrap: { url: cloud.httpUrl, generation: "client", externalId: "mac", externalKey, ca: pki.caPem },
        retry: { attempts: 3, initialMs: 100, maxMs: 1000 },
      },
    };
    const result = await xs.run("bench:onboarding-heap", { broker: env, timeoutMs: 600_000 });
    if (result.error) throw new Error(`bench:onboarding-heap on XS: ${result.error}`);
    return { samples: result.heapSamples ?? [], highWaterSlots: result.meter?.currentHeapCount ?? NaN };
  } finally {
    await xs.close();
    await cloud.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
