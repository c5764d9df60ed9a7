// Service state on disk (the reference cloud's, the hub's): a whole JSON document replaced
// atomically, so a service killed mid-write restarts from the old state or the new, never a torn one.
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";

/** Write `data` as JSON to `path`: temp file, fsync, rename (atomic on POSIX). */
export function writeJsonAtomically(path: string, data: unknown): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, "w");
  try {
    writeSync(fd, JSON.stringify(data, null, 1));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
