// X.509 certificates (RFC 5280), parsed strictly into what the TLS verifier checks: the signed
// part and its signature, names (as DER, compared byte for byte), validity, the public key, and
// the extensions that decide trust (basic constraints, key usage, extended key usage, SAN).
import type { CurveName, EcPublicKey, SignatureHash, RsaPublicKey } from "../crypto/signature.js";
import { bitStringBytes, contents, DerError, DerReader, encoding, oid, root, unsignedInteger, type Element } from "./der.js";

export type PublicKey = RsaPublicKey | EcPublicKey;

export type SignatureAlgorithm =
  | { readonly kind: "rsa"; readonly hash: SignatureHash }
  | { readonly kind: "ecdsa"; readonly hash: SignatureHash };

export interface Certificate {
  readonly der: Uint8Array;
  /** The signed bytes (tbsCertificate's whole encoding). */
  readonly tbs: Uint8Array;
  /** The algorithm named outside the signed part (must equal the one inside). */
  readonly signatureAlgorithm: SignatureAlgorithm | undefined;
  readonly signature: Uint8Array;
  readonly issuer: Uint8Array;
  readonly subject: Uint8Array;
  /** Milliseconds since the epoch. */
  readonly notBefore: number;
  readonly notAfter: number;
  /** Undefined for a key type we do not verify with (DSA, Ed25519, other curves). */
  readonly publicKey: PublicKey | undefined;
  readonly spki: Uint8Array;
  /** basicConstraints: absent = not a CA. */
  readonly ca: boolean;
  readonly pathLength: number | undefined;
  /** keyUsage bits (bit 0 = digitalSignature … bit 5 = keyCertSign), undefined when absent. */
  readonly keyUsage: number | undefined;
  /** extendedKeyUsage OIDs, undefined when absent. */
  readonly extendedKeyUsage: readonly string[] | undefined;
  readonly dnsNames: readonly string[];
  /** iPAddress entries (4 bytes for IPv4, 16 for IPv6). */
  readonly ipAddresses: readonly Uint8Array[];
  /** A critical extension we do not understand (RFC 5280 §4.2: such a certificate must be refused). */
  readonly unknownCriticalExtension: string | undefined;
}

export const KEY_USAGE_DIGITAL_SIGNATURE = 0x01; // bit 0
export const KEY_USAGE_KEY_CERT_SIGN = 0x20; // bit 5
export const EKU_SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
export const EKU_ANY = "2.5.29.37.0";

const SIGNATURE_OIDS: Readonly<Record<string, SignatureAlgorithm>> = {
  "1.2.840.113549.1.1.11": { kind: "rsa", hash: "SHA-256" },
  "1.2.840.113549.1.1.12": { kind: "rsa", hash: "SHA-384" },
  "1.2.840.113549.1.1.13": { kind: "rsa", hash: "SHA-512" },
  "1.2.840.10045.4.3.2": { kind: "ecdsa", hash: "SHA-256" },
  "1.2.840.10045.4.3.3": { kind: "ecdsa", hash: "SHA-384" },
  "1.2.840.10045.4.3.4": { kind: "ecdsa", hash: "SHA-512" },
};
const RSA_ENCRYPTION = "1.2.840.113549.1.1.1";
const EC_PUBLIC_KEY = "1.2.840.10045.2.1";
const CURVES: Readonly<Record<string, CurveName>> = { "1.2.840.10045.3.1.7": "P-256", "1.3.132.0.34": "P-384" };
/** Extensions we read, or may ignore safely when critical (certificate policies: no policy checking is asked of us). */
const KNOWN_EXTENSIONS = new Set(["2.5.29.19", "2.5.29.15", "2.5.29.37", "2.5.29.17", "2.5.29.14", "2.5.29.35", "2.5.29.32"]);

export class CertificateParseError extends Error {
  readonly code = "bad-certificate";
}

export function parseCertificate(der: Uint8Array): Certificate {
  try {
    return parse(der);
  } catch (e) {
    if (e instanceof DerError) throw new CertificateParseError(`certificate: ${e.message}`);
    throw e;
  }
}

function parse(der: Uint8Array): Certificate {
  const cert = new DerReader(der, root(der, 0x30, "certificate"));
  const tbsElement = cert.next(0x30, "tbsCertificate");
  const outerAlgorithm = cert.next(0x30, "signatureAlgorithm");
  const signature = bitStringBytes(der, cert.next(0x03, "signatureValue"));
  cert.end("certificate");

  const tbs = new DerReader(der, tbsElement);
  const version = tbs.optional(0xa0);
  if (version) {
    const v = new DerReader(der, version);
    const n = unsignedInteger(der, v.next(0x02, "version"));
    if (n.length !== 1 || n[0]! > 2) throw new DerError("unknown certificate version");
  }
  tbs.next(0x02, "serialNumber");
  const innerAlgorithm = tbs.next(0x30, "signature");
  const issuer = tbs.next(0x30, "issuer");
  const validity = new DerReader(der, tbs.next(0x30, "validity"));
  const notBefore = time(der, validity.next(undefined, "notBefore"));
  const notAfter = time(der, validity.next(undefined, "notAfter"));
  validity.end("validity");
  const subject = tbs.next(0x30, "subject");
  const spkiElement = tbs.next(0x30, "subjectPublicKeyInfo");
  tbs.optional(0x81); // issuerUniqueID
  tbs.optional(0x82); // subjectUniqueID
  const extensionsWrapper = tbs.optional(0xa3);
  tbs.end("tbsCertificate");

  if (!equal(encoding(der, outerAlgorithm), encoding(der, innerAlgorithm))) {
    throw new DerError("the two signature algorithm fields differ");
  }
  const extensions = extensionsWrapper ? readExtensions(der, extensionsWrapper) : emptyExtensions();
  const spki = encoding(der, spkiElement);
  return {
    der,
    tbs: encoding(der, tbsElement),
    signatureAlgorithm: signatureAlgorithm(der, outerAlgorithm),
    signature,
    issuer: encoding(der, issuer),
    subject: encoding(der, subject),
    notBefore,
    notAfter,
    publicKey: publicKey(der, spkiElement, spki),
    spki,
    ...extensions,
  };
}

function signatureAlgorithm(der: Uint8Array, e: Element): SignatureAlgorithm | undefined {
  const r = new DerReader(der, e);
  const id = oid(der, r.next(0x06, "algorithm"));
  const algorithm = SIGNATURE_OIDS[id];
  if (algorithm === undefined) return undefined; // RSA-PSS, Ed25519, …: parameters not ours to read; never verifies
  if (algorithm.kind === "rsa") {
    // RFC 4055: the parameters are NULL (some encoders omit them)
    const p = r.optional(0x05);
    if (p && p.end !== p.body) throw new DerError("RSA signature parameters are not NULL");
  }
  r.end("signature algorithm");
  return algorithm;
}

function publicKey(der: Uint8Array, e: Element, spki: Uint8Array): PublicKey | undefined {
  const r = new DerReader(der, e);
  const algorithm = new DerReader(der, r.next(0x30, "algorithm"));
  const key = bitStringBytes(der, r.next(0x03, "subjectPublicKey"));
  r.end("subjectPublicKeyInfo");
  const id = oid(der, algorithm.next(0x06, "algorithm"));
  if (id === RSA_ENCRYPTION) {
    const rsa = new DerReader(key, root(key, 0x30, "RSAPublicKey"));
    const modulus = unsignedInteger(key, rsa.next(0x02, "modulus"));
    const exponent = unsignedInteger(key, rsa.next(0x02, "publicExponent"));
    rsa.end("RSAPublicKey");
    return { kind: "rsa", modulus, exponent, spki };
  }
  if (id === EC_PUBLIC_KEY) {
    const params = algorithm.next(undefined, "curve");
    if (params.tag !== 0x06) return undefined; // explicit curve parameters: not accepted
    const curve = CURVES[oid(der, params)];
    if (curve === undefined) return undefined;
    return { kind: "ec", curve, point: key, spki };
  }
  return undefined;
}

interface Extensions {
  ca: boolean;
  pathLength: number | undefined;
  keyUsage: number | undefined;
  extendedKeyUsage: readonly string[] | undefined;
  dnsNames: readonly string[];
  ipAddresses: readonly Uint8Array[];
  unknownCriticalExtension: string | undefined;
}

function emptyExtensions(): Extensions {
  return { ca: false, pathLength: undefined, keyUsage: undefined, extendedKeyUsage: undefined, dnsNames: [], ipAddresses: [], unknownCriticalExtension: undefined };
}

function readExtensions(der: Uint8Array, wrapper: Element): Extensions {
  const out = emptyExtensions();
  const outer = new DerReader(der, wrapper);
  const list = new DerReader(der, outer.next(0x30, "extensions"));
  outer.end("extensions");
  const seen = new Set<string>();
  while (list.more) {
    const ext = new DerReader(der, list.next(0x30, "extension"));
    const id = oid(der, ext.next(0x06, "extnID"));
    if (seen.has(id)) throw new DerError(`extension ${id} appears twice`);
    seen.add(id);
    let critical = false;
    const flag = ext.optional(0x01);
    if (flag) {
      if (flag.end - flag.body !== 1) throw new DerError("bad BOOLEAN");
      critical = der[flag.body] !== 0;
    }
    const value = contents(der, ext.next(0x04, "extnValue"));
    ext.end("extension");
    switch (id) {
      case "2.5.29.19": basicConstraints(value, out); break;
      case "2.5.29.15": out.keyUsage = keyUsage(value); break;
      case "2.5.29.37": out.extendedKeyUsage = extendedKeyUsage(value); break;
      case "2.5.29.17": subjectAltName(value, out); break;
      default:
        if (critical && !KNOWN_EXTENSIONS.has(id) && out.unknownCriticalExtension === undefined) out.unknownCriticalExtension = id;
    }
  }
  return out;
}

function basicConstraints(value: Uint8Array, out: Extensions): void {
  const r = new DerReader(value, root(value, 0x30, "basicConstraints"));
  const ca = r.optional(0x01);
  if (ca) {
    if (ca.end - ca.body !== 1) throw new DerError("bad BOOLEAN");
    out.ca = value[ca.body] !== 0;
  }
  const length = r.optional(0x02);
  if (length) {
    const n = unsignedInteger(value, length);
    if (n.length > 2) throw new DerError("pathLenConstraint too large");
    out.pathLength = n.reduce((acc, b) => acc * 256 + b, 0);
  }
  r.end("basicConstraints");
}

function keyUsage(value: Uint8Array): number {
  const e = root(value, 0x03, "keyUsage");
  if (e.end === e.body) throw new DerError("empty keyUsage");
  const unused = value[e.body]!;
  if (unused > 7) throw new DerError("bad keyUsage");
  const bits = value.subarray(e.body + 1, e.end);
  // bit 0 is the most significant bit of the first byte; fold into a number with bit n = 1 << n
  let mask = 0;
  for (let i = 0; i < Math.min(bits.length, 2) * 8; i++) {
    if (bits[i >> 3]! & (0x80 >> (i & 7))) mask |= 1 << i;
  }
  return mask;
}

function extendedKeyUsage(value: Uint8Array): string[] {
  const r = new DerReader(value, root(value, 0x30, "extKeyUsage"));
  const out: string[] = [];
  while (r.more) out.push(oid(value, r.next(0x06, "KeyPurposeId")));
  return out;
}

function subjectAltName(value: Uint8Array, out: Extensions): void {
  const r = new DerReader(value, root(value, 0x30, "subjectAltName"));
  const dns: string[] = [];
  const ips: Uint8Array[] = [];
  while (r.more) {
    const name = r.next(undefined, "GeneralName");
    if (name.tag === 0x82) {
      let text = "";
      for (let i = name.body; i < name.end; i++) {
        const c = value[i]!;
        if (c < 0x21 || c > 0x7e) throw new DerError("dNSName is not printable ASCII");
        text += String.fromCharCode(c);
      }
      dns.push(text);
    } else if (name.tag === 0x87) {
      ips.push(value.slice(name.body, name.end));
    }
  }
  out.dnsNames = dns;
  out.ipAddresses = ips;
}

/** UTCTime (YYMMDDHHMMSSZ, 1950–2049) or GeneralizedTime (YYYYMMDDHHMMSSZ), to epoch milliseconds. */
function time(der: Uint8Array, e: Element): number {
  const text: number[] = [];
  for (let i = e.body; i < e.end; i++) text.push(der[i]!);
  let digits: number[];
  let year: number;
  if (e.tag === 0x17 && text.length === 13) {
    digits = digitsOf(text, 12);
    const yy = digits[0]! * 10 + digits[1]!;
    year = yy < 50 ? 2000 + yy : 1900 + yy;
    digits = digits.slice(2);
  } else if (e.tag === 0x18 && text.length === 15) {
    digits = digitsOf(text, 14);
    year = digits[0]! * 1000 + digits[1]! * 100 + digits[2]! * 10 + digits[3]!;
    digits = digits.slice(4);
  } else {
    throw new DerError("validity time is neither UTCTime nor GeneralizedTime in Z form");
  }
  if (text[text.length - 1] !== 0x5a) throw new DerError("validity time not in UTC (Z)");
  const two = (i: number) => digits[i]! * 10 + digits[i + 1]!;
  const month = two(0), day = two(2), hour = two(4), minute = two(6), second = two(8);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) {
    throw new DerError("validity time out of range");
  }
  return ((daysFromCivil(year, month, day) * 24 + hour) * 60 + minute) * 60_000 + second * 1000;
}

function digitsOf(text: number[], count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const c = text[i]!;
    if (c < 0x30 || c > 0x39) throw new DerError("validity time has a non-digit");
    out.push(c - 0x30);
  }
  return out;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

