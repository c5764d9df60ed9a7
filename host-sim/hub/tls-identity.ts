// The hub's TLS identity: a self-signed certificate whose key lives in the state folder. Devices
// pin SHA-256 of the certificate's SubjectPublicKeyInfo on first use, so a restarted hub must
// present the same key; the certificate is re-issued around the same key only if it is missing.
import { createHash, createPublicKey } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { openssl } from "../certs/openssl.js";

export interface HubTlsIdentity {
  readonly keyPem: string;
  readonly certPem: string;
  /** SHA-256 of the DER SubjectPublicKeyInfo (PROTOCOL.md §2 "hub key"). */
  readonly keyHash: Uint8Array;
  readonly keyHashHex: string;
}

/** Loads the identity from `dir`, creating an ECDSA P-256 key and certificate on first start. */
export function loadOrCreateTlsIdentity(dir: string, names: readonly string[]): HubTlsIdentity {
  mkdirSync(dir, { recursive: true });
  const keyPath = join(dir, "hub-tls.key");
  const certPath = join(dir, "hub-tls.crt");
  if (!existsSync(keyPath)) {
    openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", keyPath], dir);
  }
  if (!existsSync(certPath)) {
    const san = names.map((n) => (/^\d+\.\d+\.\d+\.\d+$/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(",");
    openssl(["req", "-x509", "-new", "-key", keyPath, "-out", certPath, "-days", "3650", "-sha256",
      "-subj", "/CN=Onboarding reference hub", "-addext", `subjectAltName=${san}`], dir);
  }
  const keyPem = readFileSync(keyPath, "utf8");
  const certPem = readFileSync(certPath, "utf8");
  const spki = createPublicKey(certPem).export({ type: "spki", format: "der" });
  const ownSpki = createPublicKey(keyPem).export({ type: "spki", format: "der" });
  if (!spki.equals(ownSpki)) throw new Error(`hub TLS identity in ${dir}: certificate does not match the key`);
  const keyHash = new Uint8Array(createHash("sha256").update(spki).digest());
  return { keyPem, certPem, keyHash, keyHashHex: Buffer.from(keyHash).toString("hex") };
}
