// Where the bootstrap external key comes from. Fleets that share one key put it in the factory
// config; fleets with a key per unit write it into the unit's own NVS at manufacturing (next to
// the PoP) and name that key in the config, so every unit still runs the same image.
import type { KeyValueStorage } from "../io/io.js";
import { fromUtf8 } from "../bytes/bytes.js";
import type { ExternalKeySource } from "../config/factory-config.js";
import { Secret } from "../secrets/secret.js";

export type ExternalKeyProblem = "missing" | "unreadable" | "malformed";

export class ExternalKeyError extends Error {
  readonly code = "external-key";
  constructor(readonly problem: ExternalKeyProblem, message: string) {
    super(message);
  }
}

/** Longest key we accept from flash: Magistrala's keys are UUIDs; anything huge is not a key. */
const MAX_KEY_BYTES = 256;

/** The external key as a Secret; throws ExternalKeyError (never naming the key's bytes). */
export function resolveExternalKey(source: ExternalKeySource, storage: KeyValueStorage): Secret {
  if (typeof source === "string") return Secret.fromString(source);
  let bytes: Uint8Array | undefined;
  try {
    bytes = storage.read(source.nvs);
  } catch (e) {
    // On the board a non-blob value (e.g. written as an NVS string) throws here.
    throw new ExternalKeyError("unreadable", `external key in NVS "${source.nvs}" cannot be read (${e instanceof Error && "code" in e ? String((e as { code: unknown }).code) : "storage error"}); write it as a blob at manufacturing`);
  }
  if (bytes === undefined || bytes.length === 0) {
    throw new ExternalKeyError("missing", `external key not provisioned: NVS key "${source.nvs}" is absent or empty (it is written per unit at manufacturing)`);
  }
  if (bytes.length > MAX_KEY_BYTES) throw new ExternalKeyError("malformed", `external key in NVS "${source.nvs}" is longer than ${MAX_KEY_BYTES} bytes`);
  let text: string;
  try {
    text = fromUtf8(bytes);
  } catch {
    throw new ExternalKeyError("malformed", `external key in NVS "${source.nvs}" is not UTF-8 text`);
  }
  // The key travels in an HTTP header: control characters (a stray NUL or newline from a factory
  // tool) would break or split it.
  if (/[\u0000-\u001f\u007f]/.test(text)) throw new ExternalKeyError("malformed", `external key in NVS "${source.nvs}" contains control characters`);
  return Secret.fromString(text);
}
