// The server's certificate, read off the wire of a TLS 1.2 handshake. A TLS stack that verifies the
// chain and then drops the certificate (the Moddable SDK's) gives no way to pin a hub's key on
// first use; but in TLS 1.2 the Certificate message travels in clear before ChangeCipherSpec, so a
// tap on the bytes the stack reads sees it. Sans-I/O: feed it what the server sent, in any chunks.
//
//   record:    type(1) version(2) length(2) fragment        (RFC 5246 §6.2.1)
//   handshake: msg_type(1) length(3) body                   (§7.4), may span records
//   Certificate (11): certificate_list length(3), then length(3) + DER per certificate, leaf first

const RECORD_HANDSHAKE = 22;
const HANDSHAKE_CERTIFICATE = 11;
/** Handshake bytes worth looking at: certificate chains larger than this are not a hub's. */
const MAX_HANDSHAKE_BYTES = 64 * 1024;

export class CertificateError extends Error {
  readonly code = "bad-certificate";
}

export class ServerCertificateTap {
  #pending: Uint8Array = new Uint8Array(0); // record bytes not yet framed
  #handshake: Uint8Array = new Uint8Array(0); // handshake stream not yet framed into messages
  #leaf: Uint8Array | undefined;
  #done = false;

  /** The leaf certificate (DER), once seen. */
  get leaf(): Uint8Array | undefined { return this.#leaf; }
  /** Nothing more to learn: the leaf was found, encryption began, or the bytes made no sense. */
  get done(): boolean { return this.#done; }

  feed(bytes: Uint8Array): void {
    if (this.#done || bytes.length === 0) return;
    this.#pending = join(this.#pending, bytes);
    while (!this.#done && this.#pending.length >= 5) {
      const type = this.#pending[0]!;
      const length = (this.#pending[3]! << 8) | this.#pending[4]!;
      if (type !== RECORD_HANDSHAKE) { this.#finish(); return; } // ChangeCipherSpec, alert: encrypted or over
      if (this.#pending[1] !== 3) { this.#finish(); return; } // not TLS
      if (this.#pending.length < 5 + length) return;
      this.#handshake = join(this.#handshake, this.#pending.subarray(5, 5 + length));
      this.#pending = this.#pending.slice(5 + length);
      if (this.#handshake.length > MAX_HANDSHAKE_BYTES) { this.#finish(); return; }
      this.#messages();
    }
  }

  #messages(): void {
    while (!this.#done && this.#handshake.length >= 4) {
      const h = this.#handshake;
      const length = (h[1]! << 16) | (h[2]! << 8) | h[3]!;
      if (h.length < 4 + length) return;
      if (h[0] === HANDSHAKE_CERTIFICATE) {
        this.#leaf = firstCertificate(h.subarray(4, 4 + length));
        this.#finish();
        return;
      }
      this.#handshake = h.slice(4 + length);
    }
  }

  #finish(): void {
    this.#done = true;
    this.#pending = new Uint8Array(0);
    this.#handshake = new Uint8Array(0);
  }
}

function firstCertificate(body: Uint8Array): Uint8Array | undefined {
  if (body.length < 6) return undefined;
  const listLength = (body[0]! << 16) | (body[1]! << 8) | body[2]!;
  const certLength = (body[3]! << 16) | (body[4]! << 8) | body[5]!;
  if (listLength + 3 !== body.length || certLength === 0 || 6 + certLength > body.length) return undefined;
  return body.slice(6, 6 + certLength);
}

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b.slice();
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

// ---- DER: just enough X.509 to find the SubjectPublicKeyInfo

interface Tlv { readonly tag: number; readonly start: number; readonly body: number; readonly end: number }

function tlv(der: Uint8Array, at: number, limit: number): Tlv {
  if (at + 2 > limit) throw new CertificateError("DER element runs past its container");
  const tag = der[at]!;
  let length = der[at + 1]!;
  let body = at + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 3 || body + n > limit) throw new CertificateError("unsupported DER length");
    length = 0;
    for (let i = 0; i < n; i++) length = (length << 8) | der[body + i]!;
    body += n;
  }
  if (body + length > limit) throw new CertificateError("DER element runs past its container");
  return { tag, start: at, body, end: body + length };
}

/** The DER SubjectPublicKeyInfo of an X.509 certificate (the bytes a key pin hashes). */
export function subjectPublicKeyInfo(certificate: Uint8Array): Uint8Array {
  const cert = tlv(certificate, 0, certificate.length);
  if (cert.tag !== 0x30) throw new CertificateError("certificate is not a SEQUENCE");
  const tbs = tlv(certificate, cert.body, cert.end);
  if (tbs.tag !== 0x30) throw new CertificateError("tbsCertificate is not a SEQUENCE");
  let at = tbs.body;
  let field = tlv(certificate, at, tbs.end);
  if (field.tag === 0xa0) field = tlv(certificate, at = field.end, tbs.end); // [0] version
  if (field.tag !== 0x02) throw new CertificateError("serial number missing");
  // signature, issuer, validity, subject: four SEQUENCEs, then the key
  for (let i = 0; i < 5; i++) {
    field = tlv(certificate, at = field.end, tbs.end);
    if (field.tag !== 0x30) throw new CertificateError("unexpected element before the public key");
  }
  return certificate.slice(field.start, field.end);
}
