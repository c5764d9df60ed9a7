// Trust anchors arrive as PEM (factory config, bootstrap replies); the verifier wants parsed
// certificates. Strict: an unterminated block or bad base64 is an error, never a silent skip.
import { fromBase64 } from "../bytes/bytes.js";
import { CertificateParseError, parseCertificate, type Certificate } from "./x509.js";

export class TlsConfigError extends Error {
  constructor(readonly code: "pem", message: string) {
    super(message);
  }
}

/** Every "-----BEGIN CERTIFICATE-----" block, decoded and parsed, in order. */
export function parseCertificatesPem(pem: string): Certificate[] {
  const out: Certificate[] = [];
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
      if (label === "CERTIFICATE") out.push(certificate(body.join("")));
      body = undefined;
    } else if (body && line.length > 0) {
      body.push(line);
    }
  }
  if (body) throw new TlsConfigError("pem", "PEM block not terminated");
  if (out.length === 0) throw new TlsConfigError("pem", "no CERTIFICATE in the PEM text");
  return out;
}

function certificate(base64: string): Certificate {
  let der: Uint8Array;
  try {
    der = fromBase64(base64);
  } catch {
    throw new TlsConfigError("pem", "PEM CERTIFICATE block is not valid base64");
  }
  try {
    return parseCertificate(der);
  } catch (e) {
    if (e instanceof CertificateParseError) throw new TlsConfigError("pem", `trust anchor: ${e.message}`);
    throw e;
  }
}
