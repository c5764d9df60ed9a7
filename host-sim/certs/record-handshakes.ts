// Records real TLS 1.2 handshakes (Node's OpenSSL server and client, through the tap the
// simulator uses) into test/scenarios/tls-recordings.ts: the byte examples the engine-neutral
// verifier scenario, the board glue's test, the fuzz target and the bench replay. Run again only
// to refresh them:  npx tsx host-sim/certs/record-handshakes.ts
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect, createServer as createTlsServer } from "node:tls";
import { TappedTransport } from "../io/tls-tap.js";
import { boardConnectionOptions } from "../io/tls-profile.js";
import { generateTestPki, type KeyType } from "./pki.js";

interface Flight { d: "client" | "server"; hex: string }

async function record(keyType: KeyType, dir: string): Promise<{ ca: string; flights: Flight[]; serverName: string }> {
  const pki = generateTestPki(join(dir, keyType), { keyType });
  const flights: Flight[] = [];
  const server = createTlsServer({ cert: pki.serverCertPem, key: pki.serverKeyPem }, (s) => s.end("hello"));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve, reject) => {
    const transport = new TappedTransport("127.0.0.1", port, (d, bytes) => {
      const last = flights[flights.length - 1];
      const hex = Buffer.from(bytes).toString("hex");
      if (last && last.d === d) last.hex += hex;
      else flights.push({ d, hex });
    });
    const s = tlsConnect({ socket: transport, servername: "localhost", rejectUnauthorized: false, ...boardConnectionOptions() });
    s.on("data", () => undefined);
    s.on("end", () => resolve());
    s.on("error", reject);
  });
  server.close();
  return { ca: pki.caPem, flights, serverName: "localhost" };
}

const dir = mkdtempSync(join(tmpdir(), "tls-recordings-"));
try {
  const recordedAt = Date.now();
  const rsa = await record("rsa", dir);
  const ec = await record("ec", dir);
  const out = `// Real TLS 1.2 handshakes recorded by host-sim/certs/record-handshakes.ts (Node ${process.version},
// OpenSSL server and client, board profile): leaf + intermediate chains from the test PKI, the
// root as trust anchor, host name "localhost". Byte examples from a real implementation; verify
// them with the clock at RECORDED_AT (the certificates are valid from a day before to a year after).
export interface RecordedHandshake {
  readonly name: string;
  readonly ca: string;
  readonly serverName: string;
  /** Transport bytes in the order they crossed, as hex, one entry per run of one direction. */
  readonly flights: readonly { readonly d: "client" | "server"; readonly hex: string }[];
}

export const RECORDED_AT = ${recordedAt};

export const RECORDED_HANDSHAKES: readonly RecordedHandshake[] = ${JSON.stringify([{ name: "ECDHE-RSA, RSA-2048 leaf + intermediate", ...rsa }, { name: "ECDHE-ECDSA, P-256 leaf + intermediate", ...ec }], null, 2)};
`;
  writeFileSync(join(import.meta.dirname, "..", "..", "test", "scenarios", "tls-recordings.ts"), out);
  console.log(`recorded ${rsa.flights.length} + ${ec.flights.length} flights`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
