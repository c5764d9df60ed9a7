// Engine-neutral test scenarios. The same scenario objects run under node:test (test/node/)
// and inside Moddable's XS engine (host-sim/xs/), so they may use only what src/ may use:
// no Node modules, no node:assert, no globals beyond ECMAScript. I/O comes from `ctx.io`.
import type { Io } from "../../src/io/io.js";
import type { LogRecord } from "../../src/log/logger.js";
import type { CryptoProvider } from "../../src/crypto/provider.js";

export interface BrokerEnv {
  readonly host: string;
  readonly port: number;
  /** CA that signed the broker's certificate (PEM). */
  readonly ca: string;
  /** A CA that did NOT sign it (PEM), for refusal tests. */
  readonly wrongCa: string;
  readonly username: string;
  readonly password: string;
  /** A second account, for a scenario's own subscriber that watches what the device publishes. */
  readonly observer: { readonly username: string; readonly password: string };
  /**
   * Men in the middle (host-sim/net-faults/mitm.ts) on loopback, each with the reason the
   * firmware's TLS verifier must refuse it for, and a TCP port that answers with a JSON report
   * of what every attacker received ({ kind: { connections, applicationBytes, plaintextBytes, passwordSeen } }).
   */
  readonly attackers?: readonly { readonly kind: string; readonly host: string; readonly port: number; readonly reason: string }[];
  readonly attackReportPort?: number;
}

/** Control over a simulated device's flash (host-sim's NVS model), for power-cut tests. */
export interface FlashControl {
  /**
   * Arm a power cut: the `write`-th storage write or delete from now (0 = the next one) dies after
   * `byte` bytes of the new value reached flash (0 = the key was only erased). That operation and
   * every later one on this device throws; `reboot()` brings up a device over what flash holds.
   */
  cutPowerAt(write: number, byte: number): void;
  /** Storage writes and deletes that reached flash since this device booted. */
  readonly writeCount: number;
}

export interface SimDevice {
  readonly io: Io;
  readonly flash: FlashControl;
  /** Every log record this device emitted (already redacted by the core's Logger). */
  readonly logs: readonly LogRecord[];
  /** Power-cycle: a new device over the same flash contents. The old one must not be used again. */
  reboot(): SimDevice;
}

export interface ScenarioContext {
  /** A new simulated device: empty flash, real sockets, real timers, its own log capture. */
  device(): SimDevice;
  /** True if `error` is the simulated power cut thrown by a device's storage. */
  isPowerCut(error: unknown): boolean;
  /** Present when the scenario declared `needs: ["broker"]`: a real broker over TLS. */
  readonly broker?: BrokerEnv;
  /** The engine's crypto provider (node:crypto on Node, JavaScript on XS): what its devices' io.crypto is. */
  readonly crypto: CryptoProvider;
  /** Engine name ("node" | "xs"), for messages only. */
  readonly engine: string;
}

export interface Scenario {
  readonly name: string;
  readonly needs?: readonly "broker"[];
  run(ctx: ScenarioContext): Promise<void> | void;
}

export class AssertionFailed extends Error {}

export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionFailed(message);
}

export function checkEqual<T>(actual: T, expected: T, message: string): void {
  if (!deepEqual(actual, expected)) {
    throw new AssertionFailed(`${message}: expected ${show(expected)}, got ${show(actual)}`);
  }
}

/** Runs `fn`, expects it to throw an instance of `type`; returns the error for further checks. */
export function checkThrows<E extends Error>(fn: () => unknown, type: abstract new (...args: never[]) => E, message: string): E {
  try {
    fn();
  } catch (e) {
    if (e instanceof type) return e;
    throw new AssertionFailed(`${message}: threw the wrong error: ${String(e)}`);
  }
  throw new AssertionFailed(`${message}: did not throw`);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a as object).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b as object).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  for (const k of ka) if (!deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

function show(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? `bytes[${Array.from(v).join(",")}]` : v));
  } catch {
    return String(value);
  }
}

/** A promise that resolves after `ms` on the scenario's own timers. */
export function sleep(io: Io, ms: number): Promise<void> {
  return new Promise((resolve) => io.timers.set(resolve, ms));
}

/** Polls `condition` on the I/O timers until it holds or `ms` elapse. */
export async function waitFor(io: Io, condition: () => boolean, ms: number, what: string): Promise<void> {
  const step = 10;
  for (let waited = 0; !condition(); waited += step) {
    if (waited >= ms) throw new AssertionFailed(`timed out waiting for ${what}`);
    await sleep(io, step);
  }
}
