// A real Mosquitto over TLS for the scenarios that need a broker, with a fresh PKI and one
// device user. The same broker serves the Node and the XS runs of those scenarios.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateTestPki } from "../../host-sim/certs/pki.js";
import { startMosquitto, type MosquittoBroker } from "../../host-sim/broker/mosquitto.js";
import { createServer, type Server } from "node:net";
import { ATTACKS, EXPECTED_REASON, startTlsAttacker, type TlsAttacker } from "../../host-sim/net-faults/mitm.js";
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
  const attackers: TlsAttacker[] = [];
  for (const kind of ATTACKS) attackers.push(await startTlsAttacker(kind, pki, join(dir, "mitm")));
  const reports: Server = createServer((s) => {
    const all = Object.fromEntries(attackers.map((a) => {
      const r = a.report();
      return [a.kind, { connections: r.connections, applicationBytes: r.applicationBytes, plaintextBytes: r.plaintextBytes, passwordSeen: r.received.includes(Buffer.from(password)) }];
    }));
    s.on("error", () => undefined);
    s.end(JSON.stringify(all));
  });
  const attackReportPort = await new Promise<number>((resolve) => reports.listen(0, "127.0.0.1", () => resolve((reports.address() as { port: number }).port)));
  return {
    env: {
      host: "localhost", port: mosquitto.port, ca: pki.caPem, wrongCa: pki.wrongCaPem, username, password, observer,
      attackers: attackers.map((a) => ({ kind: a.kind, host: a.host, port: a.port, reason: EXPECTED_REASON[a.kind] })),
      attackReportPort,
    },
    mosquitto,
    async stop() {
      await Promise.all(attackers.map((a) => a.close()));
      await new Promise<void>((resolve) => reports.close(() => resolve()));
      await mosquitto.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
