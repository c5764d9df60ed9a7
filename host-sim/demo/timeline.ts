// What every demo prints and how every demo stops: one timeline line per event, stamped with the
// time since the demo started, and an orderly shutdown on Ctrl-C, SIGTERM or --run-for.
import type { LogRecord } from "../../src/log/logger.js";

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
