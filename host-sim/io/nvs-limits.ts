// The ESP32's NVS limits, enforced by the host flash so that code which works in the simulator
// also fits on the board (moddable.md §1.2). The space model is an approximation of NVS's page
// and entry layout, close enough to make an oversized record fail here as it would there.

/** NVS key names are C strings in a 16-byte field: at most 15 bytes before the NUL. */
export const MAX_KEY_BYTES = 15;
/** nvs_set_blob's upper bound for one value (ESP-IDF). */
export const MAX_BLOB_BYTES = 508_000;
/** Size of the default `nvs` partition in Moddable's ESP32 partition table (0x6000). */
export const DEFAULT_PARTITION_SIZE = 0x6000;

const PAGE_SIZE = 4096;
const ENTRY_SIZE = 32;
const ENTRIES_PER_PAGE = 126; // a page is a 32-byte header, a 32-byte state bitmap and 126 entries
const MAX_CHUNK_BYTES = 4000; // NVS splits a blob into chunks that each fit one page

export type StorageErrorCode = "key-too-long" | "key-invalid" | "value-invalid" | "value-too-large" | "no-space" | "file-corrupt";

/** A write or read the board's NVS would refuse. Nothing was written. */
export class StorageError extends Error {
  override readonly name = "StorageError";
  constructor(readonly code: StorageErrorCode, message: string) {
    super(message);
  }
}

export const isStorageError = (error: unknown): error is StorageError => error instanceof StorageError;

export function checkKey(key: unknown): asserts key is string {
  if (typeof key !== "string" || key.length === 0 || key.includes("\0")) {
    throw new StorageError("key-invalid", `NVS key must be a non-empty string without NUL, got ${JSON.stringify(key)}`);
  }
  const bytes = Buffer.byteLength(key, "utf8");
  if (bytes > MAX_KEY_BYTES) {
    throw new StorageError("key-too-long", `NVS key "${key}" is ${bytes} bytes; the board allows at most ${MAX_KEY_BYTES}`);
  }
}

export function checkValue(key: string, value: unknown): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new StorageError("value-invalid", `value for NVS key "${key}" must be a Uint8Array (a blob)`);
  }
  if (value.length > MAX_BLOB_BYTES) {
    throw new StorageError("value-too-large", `value for NVS key "${key}" is ${value.length} bytes; an NVS blob is at most ${MAX_BLOB_BYTES}`);
  }
}

/**
 * Usable bytes of a partition: NVS keeps one page free for garbage collection, and each page
 * loses 64 bytes to its header and entry bitmap.
 */
export function usableBytes(partitionSize: number): number {
  const pages = Math.floor(partitionSize / PAGE_SIZE);
  if (pages < 2) throw new RangeError(`an NVS partition needs at least 2 pages of ${PAGE_SIZE} bytes, got ${partitionSize} bytes`);
  return (pages - 1) * ENTRIES_PER_PAGE * ENTRY_SIZE;
}

/** Bytes one key costs: a blob index entry, one header entry per chunk, and the data in 32-byte entries. */
export function entryCost(valueLength: number): number {
  const chunks = Math.max(1, Math.ceil(valueLength / MAX_CHUNK_BYTES));
  return ENTRY_SIZE + chunks * ENTRY_SIZE + Math.ceil(valueLength / ENTRY_SIZE) * ENTRY_SIZE;
}

/** The namespace ("domain") itself takes one entry. */
export const NAMESPACE_COST = ENTRY_SIZE;
