// Can the board use this client key for mTLS? The SDK's TLS stack signs CertificateVerify with RSA
// only and its glue takes PKCS#8 PEM ("BEGIN PRIVATE KEY"), see DESIGN "Board truths". A bootstrap
// reply that hands out anything else would fail in every TLS handshake, retried forever; checked
// here it becomes one typed failure naming the cause.
import { fromBase64 } from "../bytes/bytes.js";
import type { Secret } from "../secrets/secret.js";

// rsaEncryption 1.2.840.113549.1.1.1 and id-ecPublicKey 1.2.840.10045.2.1, as DER OID contents.
const RSA_OID = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const EC_OID = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

/** Why the board cannot use `key`, or undefined when it can (unencrypted PKCS#8 RSA). */
export function boardClientKeyProblem(key: Secret): string | undefined {
  const pem = key.revealString();
  if (/-----BEGIN (RSA|EC|ENCRYPTED) PRIVATE KEY-----/.test(pem)) {
    const kind = /BEGIN (\w+) PRIVATE KEY/.exec(pem)![1];
    return kind === "EC" ? "client_key is an EC key: the board's TLS stack signs client certificates with RSA only"
      : kind === "RSA" ? "client_key is PKCS#1 (BEGIN RSA PRIVATE KEY): the board takes PKCS#8 (BEGIN PRIVATE KEY)"
      : "client_key is encrypted: the board takes an unencrypted PKCS#8 key";
  }
  const m = /-----BEGIN PRIVATE KEY-----([A-Za-z0-9+/=\s]+)-----END PRIVATE KEY-----/.exec(pem);
  if (!m) return "client_key is not a PEM private key";
  let der: Uint8Array;
  try {
    der = fromBase64(m[1]!.replace(/\s+/g, ""));
  } catch {
    return "client_key is not valid base64 PEM";
  }
  const oid = pkcs8AlgorithmOid(der);
  if (oid === undefined) return "client_key is not a PKCS#8 PrivateKeyInfo";
  if (same(oid, RSA_OID)) return undefined;
  return same(oid, EC_OID) ? "client_key is an EC key: the board's TLS stack signs client certificates with RSA only"
    : "client_key's algorithm is not RSA: the board's TLS stack signs client certificates with RSA only";
}

/** PrivateKeyInfo ::= SEQUENCE { version INTEGER, algorithm SEQUENCE { OID, … }, … } → the OID. */
function pkcs8AlgorithmOid(der: Uint8Array): Uint8Array | undefined {
  const outer = tlv(der, 0, 0x30);
  if (!outer) return undefined;
  const version = tlv(der, outer.start, 0x02);
  if (!version) return undefined;
  const alg = tlv(der, version.end, 0x30);
  if (!alg) return undefined;
  const oid = tlv(der, alg.start, 0x06);
  return oid && oid.end <= alg.end ? der.subarray(oid.start, oid.end) : undefined;
}

/** One DER element with the expected tag at `at`: where its contents start and end. */
function tlv(der: Uint8Array, at: number, tag: number): { start: number; end: number } | undefined {
  if (der[at] !== tag) return undefined;
  let length = der[at + 1];
  let start = at + 2;
  if (length === undefined) return undefined;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 3) return undefined;
    length = 0;
    for (let i = 0; i < n; i++) {
      const b = der[start + i];
      if (b === undefined) return undefined;
      length = length * 256 + b;
    }
    start += n;
  }
  const end = start + length;
  return end <= der.length ? { start, end } : undefined;
}

function same(a: Uint8Array, b: readonly number[]): boolean {
  return a.length === b.length && b.every((v, i) => a[i] === v);
}
