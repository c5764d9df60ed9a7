// PEM (what the credential record and the factory config carry) to DER (what the SDK's TLS
// session takes). The one strict PEM reader is src/tls/pem.ts; this names its errors the board's way.
import { pemBlocks, TlsConfigError } from "../../tls/pem.js";
import { BoardError } from "./errors.js";

/** Every "-----BEGIN <label>-----" block in order, decoded (src/tls/pem.ts); errors as the board's typed "pem". */
export function pemToDer(pem: string, labels: readonly string[]): Uint8Array[] {
  try {
    return pemBlocks(pem, labels);
  } catch (e) {
    if (e instanceof TlsConfigError) throw new BoardError("pem", e.message);
    throw e;
  }
}

/** A standalone ArrayBuffer holding exactly these bytes (the SDK takes ArrayBuffers). */
export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return copy.buffer;
}
