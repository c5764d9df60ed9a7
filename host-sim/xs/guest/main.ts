// Entry point of the bundle loaded into XS: registers the scenarios (the runner generates the
// import list) and answers the host's commands.
import type { Scenario } from "../../../test/scenarios/harness.js";
import { fromUtf8, utf8 } from "../../../src/bytes/bytes.js";
import type { HostEvent } from "../protocol.js";
import { bridgedDevice, call, dispatch, HostStorageError, sampleHeap } from "./bridge.js";
import { jsCrypto } from "../../../src/crypto/js-provider.js";

const registry = new Map<string, Scenario>();

function run(runId: number, name: string, broker: unknown): void {
  const scenario = registry.get(name);
  const finish = (error?: unknown) => {
    const message = error === undefined ? undefined : describe(error);
    call(message === undefined ? { op: "scenario.done", run: runId } : { op: "scenario.done", run: runId, error: message });
  };
  if (!scenario) return finish(new Error(`no scenario named ${name}`));
  const ctx = {
    engine: "xs",
    device: () => bridgedDevice(call({ op: "device.new" }) as number),
    crypto: jsCrypto,
    isPowerCut: (e: unknown) => e instanceof HostStorageError && e.kind === "power-cut",
    sampleHeap, // see host-sim/xs/heap-probe.ts
    ...(broker ? { broker } : {}),
  };
  Promise.resolve()
    .then(() => scenario.run(ctx as never))
    .then(() => finish(), finish);
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.message}${error.stack ? `\n${error.stack}` : ""}`;
  return String(error);
}

/** Called by the generated entry with every scenario module; installs the command handler. */
export function start(modules: readonly { readonly scenarios: readonly Scenario[] }[], core: readonly object[] = []): void {
  for (const module of modules) for (const s of module.scenarios) registry.set(s.name, s);
  let exports = 0;
  for (const module of core) exports += Object.keys(module).length;
  const coreSummary = { modules: core.length, exports };
  const empty = new ArrayBuffer(0);
  (globalThis as { handleCommand?: (message: ArrayBuffer) => ArrayBuffer }).handleCommand = (message) => {
    const event = JSON.parse(fromUtf8(new Uint8Array(message))) as HostEvent;
    if (event.ev === "list") return utf8(JSON.stringify({ scenarios: [...registry.keys()], core: coreSummary })).buffer as ArrayBuffer;
    if (event.ev === "run") run(event.run, event.scenario, event.broker);
    else dispatch(event);
    return empty;
  };
}
