// The least a proof of possession must be (issue 14, M3): it is the only thing between a phone in
// BLE range and the unit's Wi-Fi and cloud mapping, and the PoP limiter (pop-limiter.ts) only
// slows guessing down. Checked at boot so a unit flashed with a weak PoP says so at the factory
// instead of shipping; the error names the rule, never the PoP.
import type { Secret } from "../secrets/secret.js";

/** At least 8 bytes (RainMaker's default is 8 hex digits, 2^32 values) and 4 different bytes. */
export const MIN_POP_LENGTH = 8;
export const MIN_POP_DISTINCT = 4;

export class PopTooWeakError extends Error {
  readonly code = "pop-too-weak";
  constructor(readonly rule: "too-short" | "too-few-distinct", readonly length: number) {
    super(rule === "too-short" ? `the PoP has ${length} bytes; at least ${MIN_POP_LENGTH} are required` : `the PoP uses fewer than ${MIN_POP_DISTINCT} different characters`);
  }
}

export function checkPopStrength(pop: Secret): void {
  const bytes = pop.revealBytes();
  try {
    if (bytes.length < MIN_POP_LENGTH) throw new PopTooWeakError("too-short", bytes.length);
    if (new Set(bytes).size < MIN_POP_DISTINCT) throw new PopTooWeakError("too-few-distinct", bytes.length);
  } finally {
    bytes.fill(0);
  }
}
