// Key-value storage on NVS through the SDK's Preference module: one NVS namespace ("domain"), one
// blob per key. NVS erases then rewrites a key on each set and commits it; nothing is atomic across
// keys: exactly the contract KeyValueStorage states and the credential store is built on.
import Preference from "preference";
import type { KeyValueStorage } from "../../io/io.js";
import { BoardError } from "./errors.js";
import { toArrayBuffer } from "./pem.js";
import { isNvsName } from "./nvs-names.js";

export class PreferenceStorage implements KeyValueStorage {
  readonly #domain: string;

  constructor(domain: string) {
    if (!isNvsName(domain)) throw new BoardError("storage-key", "NVS namespace must be 1–15 characters");
    this.#domain = domain;
  }

  read(key: string): Uint8Array | undefined {
    checkKey(key);
    const value = Preference.get(this.#domain, key);
    if (value === undefined) return undefined;
    // Everything this firmware writes is a blob; anything else in our namespace is not ours.
    if (!(value instanceof ArrayBuffer)) throw new BoardError("storage-value", `key ${key} does not hold bytes`);
    return new Uint8Array(value.slice(0));
  }

  write(key: string, value: Uint8Array): void {
    checkKey(key);
    Preference.set(this.#domain, key, toArrayBuffer(value));
  }

  delete(key: string): void {
    checkKey(key);
    Preference.delete(this.#domain, key);
  }
}

function checkKey(key: string): void {
  if (!isNvsName(key)) throw new BoardError("storage-key", "NVS keys must be 1–15 characters");
}

/** The board's store: NVS through Preference (storage-files.ts stands in on the desktop simulator). */
export function createStorage(namespace: string, _fileRoot?: string): KeyValueStorage {
  return new PreferenceStorage(namespace);
}
