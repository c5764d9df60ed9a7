// What the guests (guest.mts, guest-simulator.mts) share: assertions that work inside XS, and the
// list/run protocol the Node side (test/xs/platform.test.ts) drives them with.
import { fromUtf8, utf8 } from "../../../src/bytes/bytes.js";

export class CheckFailed extends Error {}

export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new CheckFailed(message);
}

export function eq<T>(actual: T, expected: T, message: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new CheckFailed(`${message}: expected ${e}, got ${a}`);
}

export function sameBytes(a: Uint8Array | undefined, b: Uint8Array, message: string): void {
  check(a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]), `${message}: bytes differ`);
}

export function throwsCode(run: () => unknown, code: string, message: string): void {
  try {
    run();
  } catch (e) {
    check((e as { code?: unknown }).code === code, `${message}: threw ${(e as Error).message} (code ${String((e as { code?: unknown }).code)}), expected code ${code}`);
    return;
  }
  throw new CheckFailed(`${message}: did not throw`);
}

/** A check finishes by returning (or throwing), or asks to be called again with "again". */
export type Checks = Record<string, () => "again" | undefined | void>;

/** Answers {cmd:"list"} with the check names and {cmd:"run", name} with {ok} / {again} / {error}. */
export function serveChecks(checks: Checks): void {
  const g = globalThis as { handleCommand?: (message: ArrayBuffer) => ArrayBuffer };
  g.handleCommand = (message) => {
    const request = JSON.parse(fromUtf8(new Uint8Array(message))) as { cmd: "list" } | { cmd: "run"; name: string };
    let reply: unknown;
    if (request.cmd === "list") reply = Object.keys(checks);
    else {
      const run = checks[request.name];
      try {
        if (!run) throw new CheckFailed(`no check named ${request.name}`);
        reply = run() === "again" ? { again: true } : { ok: true };
      } catch (e) {
        reply = { error: e instanceof Error ? `${e.message}${e instanceof CheckFailed ? "" : `\n${e.stack ?? ""}`}` : String(e) };
      }
    }
    return utf8(JSON.stringify(reply)).slice().buffer;
  };
}
