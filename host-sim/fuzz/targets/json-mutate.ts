// Structure-aware JSON inputs for the reply and config decoders: take a valid document, then
// replace, delete or add fields anywhere in it with values of the wrong type, empty strings,
// huge numbers and the keys the decoders look for.
import { fromUtf8, utf8 } from "../../../src/bytes/bytes.js";
import type { Rand } from "../rand.js";

const ODD_STRINGS = ["", " ", "x", "a/b", "#", "+", "\u0000", "é", "😀", "-----BEGIN CERTIFICATE-----\nx\n", "mqtts://h:8883", "http://h:80/p", "{\"broker_url\":\"mqtts://b:1\"}", "{}"];

function randomValue(r: Rand, keys: readonly string[], depth: number): unknown {
  switch (r.int(0, depth > 2 ? 5 : 7)) {
    case 0: return null;
    case 1: return r.bool();
    case 2: return r.pick([0, 1, -1, 1.5, 100, 1e300, 4294967296, NaN]);
    case 3: return r.pick(ODD_STRINGS);
    case 4: return "ab".repeat(r.int(0, 40));
    case 5: return r.pick(keys);
    case 6: return Array.from({ length: r.int(0, 3) }, () => randomValue(r, keys, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = r.int(0, 3); i > 0; i--) define(o, r.pick(keys), randomValue(r, keys, depth + 1));
      return o;
    }
  }
}

// defineProperty, so "__proto__" becomes an own key as JSON.parse would make it
function define(o: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(o, key, { value, enumerable: true, configurable: true, writable: true });
}

function mutateValue(r: Rand, value: unknown, keys: readonly string[], depth: number): unknown {
  if (typeof value !== "object" || value === null || (depth > 0 && r.bool(0.3))) return r.bool(0.7) ? randomValue(r, keys, depth) : value;
  if (Array.isArray(value)) {
    const out = [...value] as unknown[];
    const roll = r.int(0, 2);
    if (roll === 0 && out.length) out.splice(r.int(0, out.length - 1), 1);
    else if (roll === 1) out.push(randomValue(r, keys, depth + 1));
    else if (out.length) { const i = r.int(0, out.length - 1); out[i] = mutateValue(r, out[i], keys, depth + 1); }
    return out;
  }
  const o = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) define(out, k, o[k]);
  const present = Object.keys(out);
  const roll = r.int(0, 3);
  if (roll === 0 && present.length) delete out[r.pick(present)];
  else if (roll === 1) define(out, r.pick(keys), randomValue(r, keys, depth + 1));
  else if (present.length) { const k = r.pick(present); define(out, k, mutateValue(r, out[k], keys, depth + 1)); }
  return out;
}

/** One to three field-level mutations of a valid JSON document (as UTF-8 bytes). */
export function mutateJsonBytes(r: Rand, valid: Uint8Array, keys: readonly string[]): Uint8Array {
  let value = JSON.parse(fromUtf8(valid)) as unknown;
  for (let i = r.int(1, 3); i > 0; i--) value = mutateValue(r, value, keys, 0);
  return utf8(JSON.stringify(value) ?? "null");
}
