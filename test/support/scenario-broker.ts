// A real Mosquitto over TLS for the scenarios that need a broker, with a fresh PKI and one
// device user. The same broker serves the Node and the XS runs of those scenarios.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateTestPki } from "../../host-sim/certs/pki.js";
import { startMosquitto, type MosquittoBroker } from "../../host-sim/broker/mosquitto.js";
import type { BrokerEnv } from "../scenarios/harness.js";

export interface ScenarioBroker {
  readonly env: BrokerEnv;
  readonly mosquitto: MosquittoBroker;
  stop(): Promise<void>;
}

export async function startScenarioBroker(): Promise<ScenarioBroker> {
  const dir = mkdtempSync(join(tmpdir(), "onboarding-scenario-broker-"));
  const pki = generateTestPki(join(dir, "pki"));
  const username = "device";
  const password = "correct horse battery staple";
  const observer = { username: "observer", password: "observer-password" };
  const mosquitto = await startMosquitto({ pki, users: { [username]: password, [observer.username]: observer.password } });
  return {
    env: { host: "localhost", port: mosquitto.port, ca: pki.caPem, wrongCa: pki.wrongCaPem, username, password, observer },
    mosquitto,
    async stop() {
      await mosquitto.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
