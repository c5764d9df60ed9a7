// The firmware's TLS verifier on real recorded handshakes (tls-recordings.ts), on Node and inside
// XS with each engine's crypto provider: fed in any chunking it accepts them at the recording's
// time, and refuses them with the typed reason when the clock, the name, the anchor or one byte
// of the signed key exchange is wrong. The expected reasons follow from which input was changed.
import { fromHex } from "../../src/bytes/bytes.js";
import { HandshakeObserver } from "../../src/tls/observer.js";
import { parseCertificatesPem } from "../../src/tls/pem.js";
import { TlsVerificationError, verifyHandshake, type VerifyOptions } from "../../src/tls/verify.js";
import { check, checkEqual, type Scenario } from "./harness.js";
import { RECORDED_AT, RECORDED_HANDSHAKES, type RecordedHandshake } from "./tls-recordings.js";

const YEAR = 365 * 86_400_000;

function observe(rec: RecordedHandshake, chunk: number, mutate?: (server: Uint8Array) => void): HandshakeObserver {
  const observer = new HandshakeObserver();
  let serverFlight = 0;
  for (const flight of rec.flights) {
    const bytes = fromHex(flight.hex);
    if (flight.d === "server" && serverFlight++ === 0) mutate?.(bytes);
    for (let at = 0; at < bytes.length; at += chunk) {
      try {
        observer.feed(flight.d, bytes.subarray(at, Math.min(bytes.length, at + chunk)));
      } catch {
        // kept as observer.error
      }
    }
  }
  return observer;
}

function reason(observer: HandshakeObserver, options: VerifyOptions): string {
  try {
    verifyHandshake(observer, options);
    return "accepted";
  } catch (e) {
    if (e instanceof TlsVerificationError) return e.code;
    throw e;
  }
}

/** Offset of the ServerKeyExchange signature's last byte in the server's first flight. */
function lastSignatureByte(observer: HandshakeObserver, serverFlight: Uint8Array): number {
  const signature = observer.serverKeyExchange!.signature;
  for (let i = serverFlight.length - signature.length; i >= 0; i--) {
    let same = true;
    for (let j = 0; j < signature.length && same; j++) same = serverFlight[i + j] === signature[j];
    if (same) return i + signature.length - 1;
  }
  throw new Error("signature not found in the flight");
}

export const scenarios: Scenario[] = [
  {
    name: "tls verify: recorded handshakes accepted in any chunking; clock, name, anchor and a signature byte each refused with their reason",
    run(ctx) {
      for (const rec of RECORDED_HANDSHAKES) {
        const anchors = parseCertificatesPem(rec.ca);
        const base: VerifyOptions = { anchors, serverName: rec.serverName, now: RECORDED_AT, signatures: ctx.crypto, mode: "chain" };
        for (const chunk of [1, 5, 64, 100_000]) {
          const observer = observe(rec, chunk);
          checkEqual(observer.certificates?.length, 2, `${rec.name}: leaf + intermediate`);
          checkEqual(reason(observer, base), "accepted", `${rec.name} in chunks of ${chunk}`);
        }
        const whole = observe(rec, 100_000);
        checkEqual(reason(whole, { ...base, now: RECORDED_AT + 2 * YEAR }), "expired", `${rec.name}: clock two years ahead`);
        checkEqual(reason(whole, { ...base, now: 0 }), "not-yet-valid", `${rec.name}: clock before SNTP`);
        checkEqual(reason(whole, { ...base, serverName: "broker.example" }), "host-mismatch", `${rec.name}: another name`);
        checkEqual(reason(whole, { ...base, serverName: "127.0.0.1" }), "accepted", `${rec.name}: the IPv4 SAN`);
        const other = RECORDED_HANDSHAKES.find((r) => r !== rec)!;
        checkEqual(reason(whole, { ...base, anchors: parseCertificatesPem(other.ca) }), "untrusted-chain", `${rec.name}: another CA`);
        checkEqual(reason(whole, { ...base, anchors: [] }), "untrusted-chain", `${rec.name}: no anchor`);
        checkEqual(reason(whole, { ...base, mode: "pin", anchors: [], now: 0 }), "accepted", `${rec.name}: pin mode checks only the key exchange`);
        const firstServer = fromHex(rec.flights.find((f) => f.d === "server")!.hex);
        const at = lastSignatureByte(whole, firstServer);
        const forged = observe(rec, 100_000, (bytes) => { bytes[at]! ^= 0x01; });
        checkEqual(reason(forged, base), "bad-signature", `${rec.name}: one signature bit`);
        checkEqual(reason(forged, { ...base, mode: "pin" }), "bad-signature", `${rec.name}: pin mode still checks the signature`);
        const cut = new HandshakeObserver();
        cut.feed("client", fromHex(rec.flights[0]!.hex));
        check(reason(cut, base) === "handshake-incomplete", `${rec.name}: nothing from the server`);
      }
    },
  },
];
