// Key-value storage for the SDK's desktop simulator (lin): one file per key, replaced by rename.
// manifest.json maps this file to the module name of storage.ts there.
//
// Why not the SDK's Preference on lin: there it is a JavaScript emulation, not the ESP32's NVS. It
// turns every stored byte into decimal text (a typed-array join: two XS slots per byte), splits it
// back on every read, and deletes then rewrites one JSON file holding every key on every set.
// Measured on mcsim: storing a 2 KB credential record asked for one 66,024-byte chunk and aborted a
// 160 KB heap that the board's native NVS never needs; and a power cut between the delete and the
// write loses every key. The NVS keeps blobs natively and replaces one key at a time; a file per key
// written beside it and renamed over it does the same, so memory and crash behaviour on the
// simulator are the board's.
import { File } from "file";
import type { KeyValueStorage } from "../../io/io.js";
import { BoardError } from "./errors.js";
import { toArrayBuffer } from "./pem.js";
import { isNvsName } from "./nvs-names.js";

/** Names that are safe as one path segment (NVS itself takes more; this firmware's keys are all of these). */
const SEGMENT = /^[A-Za-z0-9._-]+$/;

export class FileStorage implements KeyValueStorage {
  readonly #prefix: string;

  /** `root` is the SDK's config.file.root (an absolute folder ending in "/"). */
  constructor(root: string, namespace: string) {
    if (!root.startsWith("/") || !root.endsWith("/")) throw new BoardError("storage-key", "file.root must be an absolute folder ending in /");
    checkName(namespace, "namespace");
    this.#prefix = `${root}${namespace}.`;
  }

  read(key: string): Uint8Array | undefined {
    const path = this.#path(key);
    if (!File.exists(path)) return undefined;
    const file = new File(path);
    try {
      // lin's read throws on an empty file ("read past end of file"): a stored empty value is no bytes
      return file.length === 0 ? new Uint8Array(0) : new Uint8Array(file.read(ArrayBuffer));
    } finally {
      file.close();
    }
  }

  write(key: string, value: Uint8Array): void {
    const path = this.#path(key);
    const next = `${path}~`;
    // lin opens an existing file for writing without truncating it: start the new copy from nothing
    File.delete(next);
    const file = new File(next, true);
    try {
      file.write(toArrayBuffer(value));
    } finally {
      file.close();
    }
    // rename(2) replaces the old value in one step: a cut before it leaves the old value, after it the new
    if (!File.rename(next, path)) throw new BoardError("storage-value", `key ${key} could not be replaced`);
  }

  delete(key: string): void {
    File.delete(this.#path(key));
  }

  #path(key: string): string {
    checkName(key, "key");
    return this.#prefix + key;
  }
}

function checkName(name: string, what: string): void {
  if (!isNvsName(name)) throw new BoardError("storage-key", `NVS ${what}s must be 1–15 characters`);
  if (!SEGMENT.test(name) || name === "." || name === "..") throw new BoardError("storage-key", `a ${what} on the simulator's file store is letters, digits, ".", "_" or "-"`);
}

/** The simulator's store: files under the SDK's config.file.root. */
export function createStorage(namespace: string, fileRoot: string | undefined): KeyValueStorage {
  if (fileRoot === undefined) throw new BoardError("storage-key", "the simulator's file store needs config.file.root");
  return new FileStorage(fileRoot, namespace);
}
