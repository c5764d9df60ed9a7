// PEM (what the credential record and the factory config carry) to DER (what the SDK's TLS
// session takes). One function, strict: a block that is not clean base64 is an error.
import { fromBase64 } from "../../bytes/bytes.js";
import { BoardError } from "./errors.js";

/** Every "-----BEGIN <label>-----" block in order, decoded. Labels are matched exactly. */
export function pemToDer(pem: string, labels: readonly string[]): Uint8Array[] {
  const blocks: Uint8Array[] = [];
  const lines = pem.split(/\r?\n/);
  let body: string[] | undefined;
  let label = "";
  for (const raw of lines) {
    const line = raw.trim();
    const begin = /^-----BEGIN ([A-Z0-9 ]+)-----$/.exec(line);
    const end = /^-----END ([A-Z0-9 ]+)-----$/.exec(line);
    if (begin) {
      if (body) throw new BoardError("pem", "PEM block not terminated");
      label = begin[1]!;
      body = [];
    } else if (end) {
      if (!body || end[1] !== label) throw new BoardError("pem", "PEM END without matching BEGIN");
      if (labels.includes(label)) {
        try {
          blocks.push(fromBase64(body.join("")));
        } catch {
          throw new BoardError("pem", `PEM ${label} block is not valid base64`);
        }
      }
      body = undefined;
    } else if (body && line.length > 0) {
      body.push(line);
    }
  }
  if (body) throw new BoardError("pem", "PEM block not terminated");
  return blocks;
}

/** A standalone ArrayBuffer holding exactly these bytes (the SDK takes ArrayBuffers). */
export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy.buffer;
}
