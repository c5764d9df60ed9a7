// The work timed by host-sim/bench/tls-verify.ts, engine-neutral: this module is the XS bundle's
// entry (its `scenarios` run inside XS) and is called directly on Node.
import type { CryptoProvider } from "../../src/crypto/provider.js";
import { fromHex } from "../../src/bytes/bytes.js";
import { HandshakeObserver } from "../../src/tls/observer.js";
import { parseCertificatesPem } from "../../src/tls/pem.js";
import { verifyHandshake } from "../../src/tls/verify.js";
import { check, type Scenario } from "../../test/scenarios/harness.js";
import { RECORDED_AT, RECORDED_HANDSHAKES } from "../../test/scenarios/tls-recordings.js";

export const CASES = [
  { name: "tls-verify-rsa", index: 0, xs: 5, node: 200, what: "RSA-2048 PKI: chain leaf ← intermediate ← root (2 PKCS#1 v1.5 SHA-256 checks) and the ECDHE key exchange signed by the leaf (1 more)" },
  { name: "tls-verify-ecdsa", index: 1, xs: 2, node: 200, what: "P-256 PKI: 3 ECDSA P-256 SHA-256 checks (Shamir's trick, Jacobian coordinates on XS)" },
] as const;

/** One connection's verification, `n` times: parse the CA, observe the recording, verify. */
export function verifyRecorded(crypto: CryptoProvider, index: number, n: number): void {
  const rec = RECORDED_HANDSHAKES[index]!;
  const flights = rec.flights.map((f) => ({ d: f.d, bytes: fromHex(f.hex) }));
  for (let i = 0; i < n; i++) {
    const observer = new HandshakeObserver();
    for (const f of flights) observer.feed(f.d, f.bytes);
    const verdict = verifyHandshake(observer, { anchors: parseCertificatesPem(rec.ca), serverName: rec.serverName, now: RECORDED_AT, signatures: crypto, mode: "chain" });
    check(verdict.verified, "recorded handshake verified");
  }
}

export const scenarios: Scenario[] = [
  { name: "bench:empty", run() {} },
  ...CASES.map((c) => ({ name: `bench:${c.name}`, run: (ctx: { crypto: CryptoProvider }) => verifyRecorded(ctx.crypto, c.index, c.xs) })),
];
