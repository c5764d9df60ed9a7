// What every demo prints and how every demo stops: one timeline line per event, stamped with the
// time since the demo started, and an orderly shutdown on Ctrl-C, SIGTERM or --run-for.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LogRecord } from "../../src/log/logger.js";
import { generateTestPki, type TestPki } from "../certs/pki.js";
import { startCloud, type Cloud, type CloudOptions } from "../cloud/cloud.js";

export interface Timeline {
  say(who: string, text: string): void;
  /** A device log record as `event key=value …` (records are already redacted by the core). */
  record(r: LogRecord): string;
}

export function timeline(whoWidth: number): Timeline {
  const started = Date.now();
  const stamp = () => `+${((Date.now() - started) / 1000).toFixed(3).padStart(7)}s`;
  return {
    say: (who, text) => console.log(`${stamp()}  ${who.padEnd(whoWidth)} ${text}`),
    record: (r) => `${r.event} ${Object.entries(r.fields).map(([k, v]) => `${k}=${v}`).join(" ")}`,
  };
}

/** Run `shutdown` once on Ctrl-C, SIGTERM or after `runForSeconds`, then exit 0. */
export function stopOnSignals(shutdown: () => Promise<void> | void, runForSeconds?: number): void {
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await shutdown();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
  if (runForSeconds !== undefined) setTimeout(() => void stop(), runForSeconds * 1000);
}

/**
 * What every demo starts from: a work folder, a fresh test PKI and the reference cloud (its broker
 * embedded, or Debian's Mosquitto), with the cloud's state kept in the work folder.
 */
export async function startDemoCloud(say: Timeline["say"], options: Omit<CloudOptions, "tls" | "statePath" | "mosquitto"> & { broker: string }): Promise<{ work: string; pki: TestPki; cloud: Cloud }> {
  const { broker, ...cloudOptions } = options;
  const work = mkdtempSync(join(tmpdir(), "onboarding-demo-"));
  const pki = generateTestPki(join(work, "pki"));
  say("setup", `PKI generated in ${work}`);
  const cloud = await startCloud({
    ...cloudOptions,
    tls: { key: pki.serverKeyPem, cert: pki.serverCertPem, ca: pki.caPem },
    statePath: join(work, "cloud-state.json"),
    ...(broker === "mosquitto" ? { mosquitto: pki } : {}),
  });
  return { work, pki, cloud };
}
