// The globals a Moddable app has and the glue uses: System (modules/io/system/system.js + system.c,
// installed by modules/io/manifest.json: restart() → esp_restart, resolve(name, callback)) and
// trace. Installed before the glue is evaluated.
import { addTimer, world } from "./world.js";

const g = globalThis as Record<string, unknown>;
g.System = Object.freeze({
  restart(): void { world.restarts++; },
  resolve(name: string, callback: (name: string, address?: string) => void): void {
    if (typeof name !== "string" || typeof callback !== "function") throw new TypeError("System.resolve");
    addTimer(() => callback(name, world.dns.get(name)), 10, 0);
  },
});
g.trace = (...values: unknown[]): void => {
  world.traces.push(values.map(String).join(""));
};
/** Date.now() in the glue's bundle is rewritten to this (the board prelude forbids Date.now for the core). */
g.__boardFakeDateNow = (): number => world.now;
