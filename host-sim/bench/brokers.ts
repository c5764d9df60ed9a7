// A throw-away embedded broker over TLS (fresh test PKI) with the two accounts the scenarios
// expect, shaped as the scenarios' BrokerEnv. Shared by the bench and the fleet.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEmbeddedBroker, type EmbeddedBroker, type EmbeddedBrokerOptions } from "../broker/embedded.js";
import { generateTestPki, type TestPki } from "../certs/pki.js";
import type { BrokerEnv } from "../../test/scenarios/harness.js";

export interface BenchBroker {
  readonly env: BrokerEnv;
  readonly broker: EmbeddedBroker;
  readonly pki: TestPki;
  stop(): Promise<void>;
}

export async function startBenchBroker(options: Partial<Omit<EmbeddedBrokerOptions, "pki" | "users">> = {}): Promise<BenchBroker> {
  const dir = mkdtempSync(join(tmpdir(), "onboarding-bench-"));
  const pki = generateTestPki(join(dir, "pki"));
  const env = {
    host: "localhost", port: 0, ca: pki.caPem, wrongCa: pki.wrongCaPem,
    username: "device", password: "bench device password",
    observer: { username: "observer", password: "observer password" },
  };
  const broker = await startEmbeddedBroker({ ...options, pki, users: { [env.username]: env.password, [env.observer.username]: env.observer.password } });
  return {
    env: { ...env, port: broker.port },
    broker,
    pki,
    async stop() {
      await broker.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
