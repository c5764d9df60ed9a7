// Trust anchors arrive as PEM (factory config, bootstrap replies); the verifier wants parsed
// certificates. Strict: an unterminated block or bad base64 is an error, never a silent skip.
import { fromBase64 } from "../bytes/bytes.js";
import { CertificateParseError, parseCertificate, type Certificate } from "./x509.js";

export class TlsConfigError extends Error {
  constructor(readonly code: "pem", message: string) {
    super(message);
  }
}

/**
 * Every "-----BEGIN <label>-----" block whose label is in `labels`, base64-decoded, in order.
 * Labels are matched exactly; other blocks are skipped but must still be well formed.
 */
export function pemBlocks(pem: string, labels: readonly string[]): Uint8Array[] {
  const blocks: Uint8Array[] = [];
  let body: string[] | undefined;
  let label = "";
  for (const raw of pem.split("\n")) {
    const line = raw.trim();
    const begin = /^-----BEGIN ([A-Z0-9 ]+)-----$/.exec(line);
    const end = /^-----END ([A-Z0-9 ]+)-----$/.exec(line);
    if (begin) {
      if (body) throw new TlsConfigError("pem", "PEM block not terminated");
      label = begin[1]!;
      body = [];
    } else if (end) {
      if (!body || end[1] !== label) throw new TlsConfigError("pem", "PEM END without matching BEGIN");
      if (labels.includes(label)) {
        try {
          blocks.push(fromBase64(body.join("")));
        } catch {
          throw new TlsConfigError("pem", `PEM ${label} block is not valid base64`);
        }
      }
      body = undefined;
    } else if (body && line.length > 0) {
      body.push(line);
    }
  }
  if (body) throw new TlsConfigError("pem", "PEM block not terminated");
  return blocks;
}

/** Every "-----BEGIN CERTIFICATE-----" block, decoded and parsed, in order. */
export function parseCertificatesPem(pem: string): Certificate[] {
  const out = pemBlocks(pem, ["CERTIFICATE"]).map(certificate);
  if (out.length === 0) throw new TlsConfigError("pem", "no CERTIFICATE in the PEM text");
  return out;
}

function certificate(der: Uint8Array): Certificate {
  try {
    return parseCertificate(der);
  } catch (e) {
    if (e instanceof CertificateParseError) throw new TlsConfigError("pem", `trust anchor: ${e.message}`);
    throw e;
  }
}
