// The TLS client settings of the simulator.
//
// "board" (the default) makes Node's TLS client no more capable than the Moddable SDK's
// JavaScript TLS 1.2 stack on the ESP32 (moddable.md §1.5), so a server the board cannot reach
// is refused in the simulator too:
//   - TLS 1.2 only;
//   - the SDK's cipher suites (ssl_ciphersuites.js with the default DHE_RSA/ECDHE_RSA config);
//   - ECDHE on P-256 only, signatures RSA-PKCS#1/ECDSA with SHA-256 only;
//   - client certificates with RSA keys only (certificateVerify signs with RSA);
//   - certificate validity dates checked against the *device* clock, which reads 1970 until SNTP.
// "node" is Node's default client limited to TLS 1.2 (its own suites, groups and signature
// algorithms), for comparison and diagnosis. In both, the certificate checks are the firmware's
// own (src/tls/verify.ts, run by network.ts on the bytes Node's client exchanges): the chain to
// the configured CA, the host name, and the dates against the *device* clock — the board's rules.
import { createPrivateKey } from "node:crypto";
import type { ConnectionOptions } from "node:tls";
import type { Secret } from "../../src/secrets/secret.js";

export type TlsProfile = "board" | "node";

export const BOARD_CIPHERS: readonly string[] = [
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-SHA256",
  "DHE-RSA-AES128-GCM-SHA256",
  "DHE-RSA-AES128-SHA256",
  "DHE-RSA-AES256-SHA256",
  "AES128-SHA",
  "AES256-SHA",
  "AES128-SHA256",
  "AES256-SHA256",
];

/** The ClientHello the board sends: versions, suites, groups, signature algorithms. */
export function boardConnectionOptions(): ConnectionOptions {
  return {
    minVersion: "TLSv1.2",
    maxVersion: "TLSv1.2",
    ciphers: BOARD_CIPHERS.join(":"),
    ecdhCurve: "P-256",
    sigalgs: "ECDSA+SHA256:RSA+SHA256",
  };
}

/** Node's own client, held to TLS 1.2: the firmware's verifier reads TLS 1.2 handshakes only. */
export function nodeConnectionOptions(): ConnectionOptions {
  // and to the signature schemes the verifier checks (PKCS#1 v1.5 and ECDSA, no RSA-PSS)
  return { maxVersion: "TLSv1.2", sigalgs: "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:RSA+SHA256:RSA+SHA384:RSA+SHA512" };
}

/**
 * Why the board could not use this client key, or undefined if it can. Parses the key only to
 * learn its type; the message never includes any of it.
 */
export function clientKeyProblem(profile: TlsProfile, key: Secret): string | undefined {
  let type: string | undefined;
  try {
    type = createPrivateKey({ key: key.revealString(), format: "pem" }).asymmetricKeyType;
  } catch {
    return "the client key is not a readable, unencrypted PEM private key";
  }
  if (profile === "board" && type !== "rsa") {
    return `client key type ${type ?? "unknown"} refused: the board's TLS stack signs client certificates with RSA (PKCS#1 v1.5, SHA-256) only; issue the device an RSA key`;
  }
  return undefined;
}
