// The flash image on the host's disk: a small JSON file, key → base64 value. Every save replaces
// the whole file by writing a temporary file and renaming it over the old one, so a crash of the
// *simulator* (as opposed to a simulated power cut) never leaves a half-written image.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { StorageError } from "./nvs-limits.js";

const FORMAT = "host-sim-nvs";
const VERSION = 1;

interface FlashImage {
  readonly format: typeof FORMAT;
  readonly version: typeof VERSION;
  readonly entries: Record<string, string>;
}

/** Contents of the image at `path`; an absent file is an erased (empty) flash. */
export function loadFlashFile(path: string): Map<string, Uint8Array> {
  const contents = new Map<string, Uint8Array>();
  if (!existsSync(path)) return contents;
  const image = parseImage(path, readFileSync(path, "utf8"));
  for (const [key, base64] of Object.entries(image.entries)) {
    contents.set(key, new Uint8Array(Buffer.from(base64, "base64")));
  }
  return contents;
}

export function saveFlashFile(path: string, contents: ReadonlyMap<string, Uint8Array>): void {
  const entries: Record<string, string> = {};
  for (const [key, value] of contents) entries[key] = Buffer.from(value).toString("base64");
  const image: FlashImage = { format: FORMAT, version: VERSION, entries };
  writeAtomically(path, JSON.stringify(image, null, 1) + "\n");
}

function parseImage(path: string, text: string): FlashImage {
  let image: unknown;
  try {
    image = JSON.parse(text);
  } catch {
    throw new StorageError("file-corrupt", `flash image ${path} is not JSON`);
  }
  const candidate = image as Partial<FlashImage> | null;
  if (candidate?.format !== FORMAT || candidate.version !== VERSION || typeof candidate.entries !== "object" || candidate.entries === null) {
    throw new StorageError("file-corrupt", `flash image ${path} is not a ${FORMAT} v${VERSION} file`);
  }
  for (const value of Object.values(candidate.entries)) {
    if (typeof value !== "string") throw new StorageError("file-corrupt", `flash image ${path} has a non-string entry`);
  }
  return candidate as FlashImage;
}

/** Temp file in the same directory (rename is atomic only within one file system), flushed, then renamed. */
function writeAtomically(path: string, text: string): void {
  const temp = `${path}.${process.pid}.tmp`;
  const fd = openSync(temp, "w");
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}
