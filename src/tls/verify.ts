// The verdict on an observed TLS 1.2 handshake, decided by the firmware itself: the chain from the
// leaf to a configured trust anchor, each certificate's dates against the device clock, CA basic
// constraints for every issuer, the host name against the leaf's subjectAltName, and the
// ServerKeyExchange signed by the leaf's key with an algorithm the client offered. The first
// failed check refuses the connection with a typed reason; messages name certificates by their
// role and carry no key material.
import type { SignatureHash, SignatureVerifier } from "../crypto/signature.js";
import { keyExchangeOf, type HandshakeObserver } from "./observer.js";
import {
  CertificateParseError, EKU_ANY, EKU_SERVER_AUTH, KEY_USAGE_DIGITAL_SIGNATURE, KEY_USAGE_KEY_CERT_SIGN,
  parseCertificate, type Certificate, type PublicKey, type SignatureAlgorithm,
} from "./x509.js";

export type TlsRefusalReason =
  | "malformed-handshake"
  | "handshake-incomplete"
  | "unsupported-version"
  | "unsupported-suite"
  | "no-certificate"
  | "bad-certificate"
  | "unsupported-key"
  | "untrusted-chain"
  | "not-a-ca"
  | "expired"
  | "not-yet-valid"
  | "host-mismatch"
  | "wrong-key-usage"
  | "unsigned-key-exchange"
  | "signature-algorithm-not-offered"
  | "bad-signature";

export class TlsVerificationError extends Error {
  constructor(readonly code: TlsRefusalReason, message: string) {
    super(message);
  }
}

export interface VerifyOptions {
  /** Parsed trust anchors; empty means nothing can be trusted. */
  readonly anchors: readonly Certificate[];
  /** The name the device asked for (SNI): a DNS name or an IPv4 literal. */
  readonly serverName: string;
  /** Device clock, ms since the epoch. */
  readonly now: number;
  readonly signatures: SignatureVerifier;
  /**
   * "chain": full verification. "pin": trust on first use — no chain, name or date check (the
   * caller compares the leaf's key with its pin), but the key exchange must still be signed by
   * that leaf's key, or a man in the middle could show the pinned certificate with its own key.
   */
  readonly mode: "chain" | "pin";
}

export interface Verdict {
  readonly leaf: Certificate;
  /** True when the chain, dates and name were checked (mode "chain"). */
  readonly verified: boolean;
  readonly cipherSuite: number;
}

/** Smallest RSA modulus accepted anywhere in the chain or for the key exchange. */
const MIN_RSA_BITS = 2048;
const MAX_CHAIN = 8;

const HASHES: Readonly<Record<number, SignatureHash>> = { 4: "SHA-256", 5: "SHA-384", 6: "SHA-512" };
const SIG_RSA = 1;
const SIG_ECDSA = 3;

/** The verdict on what `observer` saw; throws TlsVerificationError with the reason otherwise. */
export function verifyHandshake(observer: HandshakeObserver, options: VerifyOptions): Verdict {
  return check(observer, options, false)!;
}

/**
 * When the platform's TLS gave up mid-handshake (its own parser refused something), the reason
 * the firmware's checks find in what was seen so far, if any: so a refusal carries the same typed
 * reason whichever TLS stack stopped first.
 */
export function refusalSoFar(observer: HandshakeObserver, options: VerifyOptions): TlsVerificationError | undefined {
  try {
    check(observer, options, true);
    return undefined;
  } catch (e) {
    if (e instanceof TlsVerificationError) return e;
    throw e;
  }
}

function check(observer: HandshakeObserver, options: VerifyOptions, partial: boolean): Verdict | undefined {
  if (observer.error) throw new TlsVerificationError("malformed-handshake", `malformed handshake: ${observer.error.message}`);
  const client = observer.clientHello;
  const server = observer.serverHello;
  if (!client || !server) {
    if (partial) return undefined;
    throw new TlsVerificationError("handshake-incomplete", "no ClientHello/ServerHello seen");
  }
  if (server.version !== 0x0303 || (server.selectedVersion !== undefined && server.selectedVersion !== 0x0303)) {
    throw new TlsVerificationError("unsupported-version", "the server did not choose TLS 1.2 (the only version the firmware can check)");
  }
  const suite = server.cipherSuite;
  const exchange = keyExchangeOf(suite);
  if (!client.cipherSuites.includes(suite) || exchange === "unknown") {
    throw new TlsVerificationError("unsupported-suite", `cipher suite 0x${hex4(suite)} was not offered or cannot be checked`);
  }
  if (!partial && (!observer.serverHelloDone || !observer.changeCipherSpec)) {
    throw new TlsVerificationError("handshake-incomplete", "the handshake was not seen up to ChangeCipherSpec (resumed or cut short)");
  }
  const presented = observer.certificates;
  if (partial && !presented && !observer.serverHelloDone) return undefined;
  if (!presented || presented.length === 0) throw new TlsVerificationError("no-certificate", "the server sent no certificate");
  const chain = presented.map((der, i) => parse(der, i === 0 ? "leaf" : `certificate #${i}`));
  const leaf = chain[0]!;
  const leafKey = usableKey(leaf, "leaf");

  if (options.mode === "chain") {
    const path = buildPath(chain, options);
    for (const [i, cert] of path.entries()) checkDates(cert, role(i, path.length), options.now);
    checkName(leaf, options.serverName);
    if (leaf.extendedKeyUsage && !leaf.extendedKeyUsage.includes(EKU_SERVER_AUTH) && !leaf.extendedKeyUsage.includes(EKU_ANY)) {
      throw new TlsVerificationError("wrong-key-usage", "the leaf is not for TLS servers (extendedKeyUsage)");
    }
  }

  if (exchange === "rsa") {
    // RSA key transport: no ServerKeyExchange; only the leaf's key can decrypt the premaster
    // secret, and the TLS stack's Finished check proves it was.
    if (leafKey.kind !== "rsa") throw new TlsVerificationError("unsupported-key", "RSA key exchange with a non-RSA leaf");
  } else {
    if (partial && !observer.serverKeyExchange && !observer.serverHelloDone) return undefined;
    checkKeyExchange(observer, exchange, leafKey, leaf, client.signatureSchemes, options.signatures);
  }
  return { leaf, verified: options.mode === "chain", cipherSuite: suite };
}

function checkKeyExchange(
  observer: HandshakeObserver,
  exchange: "ecdhe-ecdsa" | "ecdhe-rsa" | "dhe-rsa",
  key: PublicKey,
  leaf: Certificate,
  offered: readonly number[] | undefined,
  signatures: SignatureVerifier,
): void {
  const ske = observer.serverKeyExchange;
  if (!ske) throw new TlsVerificationError("unsigned-key-exchange", `a ${exchange} suite without a ServerKeyExchange`);
  if (ske.hash === undefined || ske.signatureAlgorithm === undefined || ske.hash === 0 || ske.signatureAlgorithm === 0 || ske.signature.length === 0) {
    throw new TlsVerificationError("unsigned-key-exchange", "the ServerKeyExchange is not signed (hash none / anonymous)");
  }
  const scheme = (ske.hash << 8) | ske.signatureAlgorithm;
  if (!offered || !offered.includes(scheme)) {
    throw new TlsVerificationError("signature-algorithm-not-offered", `the ServerKeyExchange is signed with 0x${hex4(scheme)}, which the client did not offer`);
  }
  const hash = HASHES[ske.hash];
  const wanted = exchange === "ecdhe-ecdsa" ? SIG_ECDSA : SIG_RSA;
  if (hash === undefined || ske.signatureAlgorithm !== wanted) {
    throw new TlsVerificationError("signature-algorithm-not-offered", `signature algorithm 0x${hex4(scheme)} does not fit suite ${exchange}`);
  }
  if ((wanted === SIG_ECDSA) !== (key.kind === "ec")) {
    throw new TlsVerificationError("unsupported-key", `the leaf's ${key.kind} key cannot sign for suite ${exchange}`);
  }
  if (leaf.keyUsage !== undefined && !(leaf.keyUsage & KEY_USAGE_DIGITAL_SIGNATURE)) {
    throw new TlsVerificationError("wrong-key-usage", "the leaf's key may not sign (keyUsage lacks digitalSignature)");
  }
  const client = observer.clientHello!, server = observer.serverHello!;
  const signed = new Uint8Array(64 + ske.params.length);
  signed.set(client.random, 0);
  signed.set(server.random, 32);
  signed.set(ske.params, 64);
  const ok = key.kind === "ec"
    ? signatures.verifyEcdsa(key, hash, signed, ske.signature)
    : signatures.verifyRsaPkcs1v15(key, hash, signed, ske.signature);
  if (!ok) throw new TlsVerificationError("bad-signature", "the ServerKeyExchange signature does not verify with the leaf's key");
}

/**
 * Leaf → … → anchor. Each step takes an issuer whose subject equals the certificate's issuer
 * name and whose key verifies its signature: a trust anchor first, then a certificate the server
 * sent. A certificate whose signature does not check is never skipped over.
 */
function buildPath(chain: readonly Certificate[], options: VerifyOptions): Certificate[] {
  const path: Certificate[] = [chain[0]!];
  const used = new Set<number>([0]);
  for (;;) {
    const current = path[path.length - 1]!;
    if (options.anchors.some((a) => equal(a.der, current.der))) {
      checkIssuers(path);
      return path;
    }
    if (path.length > MAX_CHAIN) throw new TlsVerificationError("untrusted-chain", "certificate chain too long");
    const anchor = options.anchors.find((a) => equal(a.subject, current.issuer) && signedBy(current, a, options.signatures));
    if (anchor) {
      path.push(anchor);
      checkIssuers(path);
      return path;
    }
    let next = -1;
    for (let i = 1; i < chain.length && next < 0; i++) {
      if (!used.has(i) && equal(chain[i]!.subject, current.issuer) && signedBy(current, chain[i]!, options.signatures)) next = i;
    }
    if (next < 0) {
      throw new TlsVerificationError("untrusted-chain", `the ${role(path.length - 1, 0)} is not signed by a trusted CA or by a certificate the server sent`);
    }
    used.add(next);
    path.push(chain[next]!);
  }
}

/** Every certificate above the leaf must be a CA allowed to sign certificates, within its path length. */
function checkIssuers(path: readonly Certificate[]): void {
  for (const [i, cert] of path.entries()) {
    if (cert.unknownCriticalExtension !== undefined) {
      throw new TlsVerificationError("bad-certificate", `the ${role(i, path.length)} has an unknown critical extension ${cert.unknownCriticalExtension}`);
    }
    if (i === 0) continue;
    if (!cert.ca) throw new TlsVerificationError("not-a-ca", `the ${role(i, path.length)} signs certificates but is not a CA (basicConstraints)`);
    if (cert.keyUsage !== undefined && !(cert.keyUsage & KEY_USAGE_KEY_CERT_SIGN)) {
      throw new TlsVerificationError("not-a-ca", `the ${role(i, path.length)} may not sign certificates (keyUsage)`);
    }
    // certificates between this one and the leaf, not counting the leaf
    if (cert.pathLength !== undefined && i - 1 > cert.pathLength) {
      throw new TlsVerificationError("not-a-ca", `the ${role(i, path.length)}'s path length constraint is exceeded`);
    }
  }
}

function signedBy(cert: Certificate, issuer: Certificate, signatures: SignatureVerifier): boolean {
  const algorithm: SignatureAlgorithm | undefined = cert.signatureAlgorithm;
  const key = issuer.publicKey;
  if (!algorithm || !key || !acceptableKey(key)) return false;
  if (algorithm.kind === "rsa") return key.kind === "rsa" && signatures.verifyRsaPkcs1v15(key, algorithm.hash, cert.tbs, cert.signature);
  return key.kind === "ec" && signatures.verifyEcdsa(key, algorithm.hash, cert.tbs, cert.signature);
}

function checkDates(cert: Certificate, who: string, now: number): void {
  if (now < cert.notBefore) {
    throw new TlsVerificationError("not-yet-valid", `the ${who} is not valid yet by the device clock (set the clock, e.g. SNTP, before TLS)`);
  }
  if (now > cert.notAfter) throw new TlsVerificationError("expired", `the ${who} has expired by the device clock`);
}

/** RFC 6125: subjectAltName only (no common-name fallback); a wildcard stands for one whole left-most label. */
function checkName(leaf: Certificate, serverName: string): void {
  const name = serverName.toLowerCase().replace(/\.$/, "");
  const ipv4 = parseIpv4(name);
  const ok = ipv4
    ? leaf.ipAddresses.some((ip) => ip.length === 4 && ip.every((b, i) => b === ipv4[i]))
    : leaf.dnsNames.some((pattern) => dnsMatches(pattern.toLowerCase().replace(/\.$/, ""), name));
  if (!ok) throw new TlsVerificationError("host-mismatch", `the certificate is not for "${serverName}"`);
}

export function dnsMatches(pattern: string, name: string): boolean {
  if (name.length === 0 || pattern.length === 0) return false;
  if (!pattern.startsWith("*.")) return pattern === name && !pattern.includes("*");
  const suffix = pattern.slice(2);
  if (suffix.includes("*") || !suffix.includes(".")) return false;
  const dot = name.indexOf(".");
  return dot > 0 && name.slice(dot + 1) === suffix;
}

export function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (const [i, part] of parts.entries()) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part) || Number(part) > 255) return undefined;
    out[i] = Number(part);
  }
  return out;
}

function usableKey(cert: Certificate, who: string): PublicKey {
  const key = cert.publicKey;
  if (!key) throw new TlsVerificationError("unsupported-key", `the ${who}'s key type is not RSA or ECDSA P-256/P-384`);
  if (!acceptableKey(key)) throw new TlsVerificationError("unsupported-key", `the ${who}'s RSA key is shorter than ${MIN_RSA_BITS} bits`);
  return key;
}

function acceptableKey(key: PublicKey): boolean {
  return key.kind !== "rsa" || bitLength(key.modulus) >= MIN_RSA_BITS;
}

function bitLength(bytes: Uint8Array): number {
  if (bytes.length === 0) return 0;
  return (bytes.length - 1) * 8 + (32 - Math.clz32(bytes[0]!));
}

function parse(der: Uint8Array, who: string): Certificate {
  try {
    return parseCertificate(der);
  } catch (e) {
    if (e instanceof CertificateParseError) throw new TlsVerificationError("bad-certificate", `the ${who} cannot be read: ${e.message}`);
    throw e;
  }
}

function role(index: number, length: number): string {
  if (index === 0) return "leaf";
  return length > 0 && index === length - 1 ? "trust anchor" : `issuer #${index}`;
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, "0");
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
