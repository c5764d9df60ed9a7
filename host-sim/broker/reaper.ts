// Kills broker child processes when this Node process goes away, so that a failing or interrupted
// test run never leaves a mosquitto listening. The 'exit' hook covers normal exits and uncaught
// exceptions; the signal hooks cover Ctrl-C and test-runner timeouts (SIGTERM). A SIGKILL of
// Node itself is covered separately by spawning through `setpriv --pdeathsig` (see mosquitto.ts).
import type { ChildProcess } from "node:child_process";

const live = new Set<ChildProcess>();
let installed = false;

function killAll(): void {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  live.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  killAll();
  // We only wanted to clean up, not to change how the process reacts to the signal: if nobody
  // else handles it, restore the default action and re-raise.
  if (process.listenerCount(signal) === 1) {
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, onSignal);
}

/** Tracks `child` until it exits. */
export function reapOnExit(child: ChildProcess): void {
  install();
  live.add(child);
  child.once("exit", () => live.delete(child));
}
