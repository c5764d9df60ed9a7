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
// "node" is Node's default client (TLS 1.2–1.3, its own suites), for comparison and diagnosis.
// Both verify the chain and the host name; the one exception is TlsOptions.trustOnFirstUse (hub
// pairing), where the caller pins the server's key itself before it writes (network.ts).
import { createPrivateKey } from "node:crypto";
import { checkServerIdentity, type ConnectionOptions, type DetailedPeerCertificate, type PeerCertificate } from "node:tls";
import type { Secret } from "../../src/secrets/secret.js";
import { TlsRefusal } from "./socket-errors.js";

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

/** The presented chain, leaf first, up to the trust anchor Node found (a self-signed root points to itself). */
function chainOf(leaf: DetailedPeerCertificate): PeerCertificate[] {
  const chain: PeerCertificate[] = [];
  const seen = new Set<string>();
  for (let cert: DetailedPeerCertificate | undefined = leaf; cert && !seen.has(cert.fingerprint256); cert = cert.issuerCertificate) {
    seen.add(cert.fingerprint256);
    chain.push(cert);
  }
  return chain;
}

/** A refusal if any certificate of the chain is outside its validity period at `deviceNow`. */
export function deviceClockProblem(leaf: DetailedPeerCertificate, deviceNow: number): string | undefined {
  const at = new Date(deviceNow).toISOString();
  for (const cert of chainOf(leaf)) {
    const from = Date.parse(cert.valid_from);
    const to = Date.parse(cert.valid_to);
    const who = cert.subject?.CN ? `"${String(cert.subject.CN)}"` : "in the chain";
    if (Number.isNaN(from) || Number.isNaN(to)) return `cannot read the validity dates of certificate ${who}`;
    if (deviceNow < from) {
      return `certificate ${who} not yet valid per the device clock (device time ${at}, valid from ${new Date(from).toISOString()}): set the clock (SNTP) before the first TLS connection`;
    }
    if (deviceNow > to) {
      return `certificate ${who} expired per the device clock (device time ${at}, valid until ${new Date(to).toISOString()}); if the device clock is wrong, set the clock (SNTP)`;
    }
  }
  return undefined;
}

/**
 * Node's post-handshake check: the device-clock dates (board profile), then the name the device
 * asked for, which may differ from the address it connected to. Node verified the chain already.
 */
export function serverIdentityCheck(profile: TlsProfile, name: string, deviceNow: () => number) {
  return (_connectedTo: string, cert: PeerCertificate): Error | undefined => {
    if (profile === "board") {
      const problem = deviceClockProblem(cert as DetailedPeerCertificate, deviceNow());
      if (problem) return new TlsRefusal(problem);
    }
    return checkServerIdentity(name, cert);
  };
}
