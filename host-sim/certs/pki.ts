// Test PKI generated at test/demo time: a root CA, an intermediate under it (with an Authority Key
// Identifier) that issues the server certificates, a client certificate signed by the root, and an
// unrelated "wrong" CA for refusal tests. Every server certificate file holds leaf + intermediate,
// so every server in the suite sends that chain, as the board's TLS stack requires (moddable.md
// §1.5; the firmware's own verifier takes either). Nothing is cached; a run costs five key
// generations (well under a second).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { CertificateAuthority, daysFromNow, type IssuedCert, type KeyType } from "./ca.js";
import { requireOpenssl } from "./openssl.js";

export { daysFromNow, type IssuedCert, type KeyType } from "./ca.js";

export interface TestPkiOptions {
  /** Key type of both CAs and of server certificates. Client keys are always RSA (board limit). */
  keyType?: KeyType;
  /** Added to the server certificate's subjectAltName after localhost and 127.0.0.1. */
  extraServerNames?: readonly string[];
  clientCommonName?: string;
}

export interface ServerCertOptions {
  /** subjectAltName entries; default: localhost, 127.0.0.1 and the PKI's extraServerNames. */
  names?: readonly string[];
  /** Default: one day ago. Pass a future date for a not-yet-valid certificate. */
  notBefore?: Date;
  /** Default: one year from now. Pass a past date for an expired certificate. */
  notAfter?: Date;
  /** Which CA signs it: the intermediate (default), the root itself, or "wrongCa" for a server the device must refuse. */
  issuer?: "ca" | "root" | "wrongCa";
  keyType?: KeyType;
  commonName?: string;
}

export interface ClientCertOptions {
  commonName?: string;
  notBefore?: Date;
  notAfter?: Date;
  issuer?: "ca" | "wrongCa";
}

export interface TestPki {
  dir: string;
  /** The root: the one trust anchor devices are given. */
  caPem: string;
  caPath: string;
  caKeyPath: string;
  serverCertPem: string;
  serverKeyPem: string;
  serverCertPath: string;
  serverKeyPath: string;
  /** The intermediate that issues server certificates (servers send it after their leaf). */
  intermediatePem: string;
  /** An unrelated self-signed CA: trusting only this must make TLS to our brokers fail. */
  wrongCaPem: string;
  wrongCaPath: string;
  /** RSA client certificate + key signed by the CA (for mTLS). keyPem is PKCS#8. */
  client: IssuedCert & { commonName: string };
  issueServerCert(opts?: ServerCertOptions): IssuedCert;
  issueClientCert(opts?: ClientCertOptions): IssuedCert & { commonName: string };
}

/** Generates the PKI into `dir` (created if needed; use a fresh temp dir). */
export function generateTestPki(dir: string, options: TestPkiOptions = {}): TestPki {
  requireOpenssl();
  const keyType = options.keyType ?? "rsa";
  const defaultNames = ["localhost", "127.0.0.1", ...(options.extraServerNames ?? [])];
  mkdirSync(dir, { recursive: true });

  // CAs start two days back so that they cover the leaf certificates' one-day backdating even on
  // TLS stacks that check the validity nesting.
  const caValidity = { keyType, notBefore: daysFromNow(-2), notAfter: daysFromNow(3650) };
  const ca = CertificateAuthority.create(join(dir, "ca"), { commonName: "Onboarding Test CA", ...caValidity });
  const intermediate = ca.intermediate(join(dir, "intermediate"), { commonName: "Onboarding Test Intermediate CA", ...caValidity });
  const wrongCa = CertificateAuthority.create(join(dir, "wrong-ca"), {
    commonName: "Unrelated Test CA",
    ...caValidity,
  });

  // Each issued certificate gets its own file stem so that re-issuing never overwrites a file a
  // running broker may still read.
  let serverCount = 0;
  let clientCount = 0;

  const issueServerCert = (opts: ServerCertOptions = {}): IssuedCert => {
    const issuer = opts.issuer === "wrongCa" ? wrongCa : opts.issuer === "root" ? ca : intermediate;
    serverCount += 1;
    return issuer.issue(dir, {
      basename: serverCount === 1 ? "server" : `server-${serverCount}`,
      commonName: opts.commonName ?? "localhost",
      profile: "server",
      altNames: opts.names ?? defaultNames,
      keyType: opts.keyType ?? keyType,
      notBefore: opts.notBefore ?? daysFromNow(-1),
      notAfter: opts.notAfter ?? daysFromNow(365),
    });
  };

  const issueClientCert = (opts: ClientCertOptions = {}): IssuedCert & { commonName: string } => {
    const issuer = opts.issuer === "wrongCa" ? wrongCa : ca;
    const commonName = opts.commonName ?? options.clientCommonName ?? "device-0001";
    clientCount += 1;
    const cert = issuer.issue(dir, {
      basename: clientCount === 1 ? "client" : `client-${clientCount}`,
      commonName,
      profile: "client",
      keyType: "rsa",
      notBefore: opts.notBefore ?? daysFromNow(-1),
      notAfter: opts.notAfter ?? daysFromNow(365),
    });
    return { ...cert, commonName };
  };

  const server = issueServerCert();
  const client = issueClientCert();
  return {
    dir,
    caPem: ca.certPem,
    caPath: ca.certPath,
    caKeyPath: ca.keyPath,
    serverCertPem: server.certPem,
    serverKeyPem: server.keyPem,
    serverCertPath: server.certPath,
    serverKeyPath: server.keyPath,
    intermediatePem: intermediate.certPem,
    wrongCaPem: wrongCa.certPem,
    wrongCaPath: wrongCa.certPath,
    client,
    issueServerCert,
    issueClientCert,
  };
}
