// A throwaway certificate authority driven by `openssl ca`. We use `openssl ca` rather than
// `openssl x509 -req` because only `ca` accepts explicit start/end dates in OpenSSL 3.0, and the
// clock tests need certificates that are backdated, not yet valid or already expired.
import { isIP } from "node:net";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openssl, opensslTime } from "./openssl.js";

/** "rsa" = RSA 2048; "ec" = ECDSA P-256. Both are signed with SHA-256, which the board can verify. */
export type KeyType = "rsa" | "ec";

export interface IssuedCert {
  /** The certificate, followed by its issuer's when that is an intermediate (what a server sends). */
  certPem: string;
  keyPem: string;
  certPath: string;
  keyPath: string;
}

export interface LeafRequest {
  /** File name stem inside the output directory: `<basename>.pem` / `<basename>.key`. */
  basename: string;
  commonName: string;
  profile: "server" | "client";
  /** Host names or IP addresses for subjectAltName (server profile). */
  altNames?: readonly string[];
  keyType: KeyType;
  notBefore: Date;
  notAfter: Date;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export function daysFromNow(days: number): Date {
  return new Date(Date.now() + days * DAY_MS);
}

function newKeyArgs(keyType: KeyType): string[] {
  return keyType === "rsa"
    ? ["-newkey", "rsa:2048"]
    : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
}

function subjectAltName(names: readonly string[]): string {
  return names.map((name) => (isIP(name) ? `IP:${name}` : `DNS:${name}`)).join(",");
}

function leafExtensions(req: LeafRequest): string {
  // keyEncipherment only makes sense for RSA keys (RSA key transport suites).
  const usage = req.keyType === "rsa" ? "digitalSignature,keyEncipherment" : "digitalSignature";
  const lines = [
    "[leaf]",
    "basicConstraints = critical,CA:FALSE",
    `keyUsage = critical,${usage}`,
    `extendedKeyUsage = ${req.profile === "server" ? "serverAuth" : "clientAuth"}`,
    "subjectKeyIdentifier = hash",
    "authorityKeyIdentifier = keyid",
  ];
  if (req.altNames && req.altNames.length > 0) {
    lines.push(`subjectAltName = ${subjectAltName(req.altNames)}`);
  }
  return lines.join("\n") + "\n";
}

export class CertificateAuthority {
  private constructor(
    /** Holds the CA key and openssl's database; leaf files go to the directory given to issue(). */
    readonly dir: string,
    readonly certPath: string,
    readonly keyPath: string,
    readonly certPem: string,
    /** For an intermediate: its own certificate, appended to every certificate it issues (servers send leaf + intermediate). */
    readonly chainPem: string = "",
  ) {}

  /**
   * An intermediate CA under this one (pathlen 0, with an Authority Key Identifier naming this
   * CA's key: the shape the board's TLS stack needs, moddable.md §1.5).
   */
  intermediate(dir: string, opts: { commonName: string; keyType: KeyType; notBefore: Date; notAfter: Date }): CertificateAuthority {
    mkdirSync(join(dir, "issued"), { recursive: true });
    writeFileSync(join(dir, "index.txt"), "");
    writeFileSync(join(dir, "openssl.cnf"), caConfig(dir));
    const extPath = join(dir, "intermediate-ext.cnf");
    writeFileSync(extPath, [
      "[ca_ext]",
      "basicConstraints = critical,CA:TRUE,pathlen:0",
      "keyUsage = critical,keyCertSign,cRLSign",
      "subjectKeyIdentifier = hash",
      "authorityKeyIdentifier = keyid",
      "",
    ].join("\n"));
    const certPath = join(dir, "ca.pem");
    const keyPath = join(dir, "ca.key");
    const csrPath = join(dir, "ca.csr");
    openssl(["req", "-new", ...newKeyArgs(opts.keyType), "-nodes", "-keyout", keyPath, "-out", csrPath, "-subj", `/CN=${opts.commonName}`], dir);
    openssl(
      ["ca", "-batch", "-config", "openssl.cnf", "-cert", this.certPath, "-keyfile", this.keyPath, "-in", csrPath,
        "-out", certPath, "-notext", "-startdate", opensslTime(opts.notBefore), "-enddate", opensslTime(opts.notAfter),
        "-extfile", extPath, "-extensions", "ca_ext"],
      this.dir,
    );
    const certPem = readFileSync(certPath, "utf8");
    return new CertificateAuthority(dir, certPath, keyPath, certPem, certPem);
  }

  /** Creates a self-signed root in `dir` (which must not already hold a CA). */
  static create(
    dir: string,
    opts: { commonName: string; keyType: KeyType; notBefore: Date; notAfter: Date },
  ): CertificateAuthority {
    mkdirSync(join(dir, "issued"), { recursive: true });
    writeFileSync(join(dir, "index.txt"), "");
    writeFileSync(join(dir, "openssl.cnf"), caConfig(dir));
    writeFileSync(
      join(dir, "ca-ext.cnf"),
      [
        "[ca_ext]",
        "basicConstraints = critical,CA:TRUE",
        "keyUsage = critical,keyCertSign,cRLSign",
        "subjectKeyIdentifier = hash",
        "",
      ].join("\n"),
    );
    const certPath = join(dir, "ca.pem");
    const keyPath = join(dir, "ca.key");
    const csrPath = join(dir, "ca.csr");
    openssl(
      ["req", "-new", ...newKeyArgs(opts.keyType), "-nodes", "-keyout", keyPath, "-out", csrPath,
        "-subj", `/CN=${opts.commonName}`],
      dir,
    );
    openssl(
      ["ca", "-batch", "-config", "openssl.cnf", "-selfsign", "-keyfile", keyPath, "-in", csrPath,
        "-out", certPath, "-notext", "-startdate", opensslTime(opts.notBefore),
        "-enddate", opensslTime(opts.notAfter), "-extfile", "ca-ext.cnf", "-extensions", "ca_ext"],
      dir,
    );
    return new CertificateAuthority(dir, certPath, keyPath, readFileSync(certPath, "utf8"));
  }

  /** Generates a fresh key pair and a certificate for it signed by this CA, written to `outDir`. */
  issue(outDir: string, req: LeafRequest): IssuedCert {
    const keyPath = join(outDir, `${req.basename}.key`);
    const csrPath = join(outDir, `${req.basename}.csr`);
    const certPath = join(outDir, `${req.basename}.pem`);
    const extPath = join(outDir, `${req.basename}.ext.cnf`);
    writeFileSync(extPath, leafExtensions(req));
    openssl(
      ["req", "-new", ...newKeyArgs(req.keyType), "-nodes", "-keyout", keyPath, "-out", csrPath,
        "-subj", `/CN=${req.commonName}`],
      this.dir,
    );
    openssl(
      ["ca", "-batch", "-config", "openssl.cnf", "-cert", this.certPath, "-keyfile", this.keyPath,
        "-in", csrPath, "-out", certPath, "-notext", "-startdate", opensslTime(req.notBefore),
        "-enddate", opensslTime(req.notAfter), "-extfile", extPath, "-extensions", "leaf"],
      this.dir,
    );
    if (this.chainPem) writeFileSync(certPath, readFileSync(certPath, "utf8") + this.chainPem);
    return {
      certPem: readFileSync(certPath, "utf8"),
      keyPem: readFileSync(keyPath, "utf8"),
      certPath,
      keyPath,
    };
  }
}

// Minimal `openssl ca` configuration: random serials (no serial file), any subject accepted,
// re-issuing the same subject allowed, extensions only from our -extfile (never from the CSR).
function caConfig(dir: string): string {
  return [
    "[ca]",
    "default_ca = test_ca",
    "[test_ca]",
    `database = ${join(dir, "index.txt")}`,
    `new_certs_dir = ${join(dir, "issued")}`,
    "rand_serial = yes",
    "default_md = sha256",
    "policy = policy_any",
    "unique_subject = no",
    "email_in_dn = no",
    "copy_extensions = none",
    "[policy_any]",
    "commonName = supplied",
    "",
  ].join("\n");
}
