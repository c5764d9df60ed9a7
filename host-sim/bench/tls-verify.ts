// Verification time per TLS connection (issue #13): what src/tls/verified-tls.ts does once a
// handshake is complete — parse the CA, observe the recorded real handshake (leaf + intermediate),
// verify chain, dates, name and the signed key exchange — on Node (OpenSSL signatures) and inside
// XS (our BigInt JavaScript, board prelude applied). The work itself: tls-verify-work.ts.
import { join } from "node:path";
import { nodeCrypto } from "../io/node-crypto.js";
import { XsScenarioHost } from "../xs/host.js";
import type { Figure } from "./main.js";
import { CASES, verifyRecorded } from "./tls-verify-work.js";

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
const round = (x: number) => Number(x.toPrecision(3));

export async function measureTlsVerification(reps: number, refMs: number, ref: string): Promise<Figure[]> {
  const figures: Figure[] = [];
  let xs: XsScenarioHost | undefined;
  try {
    xs = await XsScenarioHost.start([join(import.meta.dirname, "tls-verify-work.ts")]);
  } catch (e) {
    process.stderr.write(`XS engine did not start, TLS verification on XS skipped: ${(e as Error).message.split("\n")[0]}\n`);
  }
  const timed = async (fn: () => unknown) => { const s = performance.now(); await fn(); return performance.now() - s; };
  const xsRun = async (name: string) => {
    const r = await xs!.run(name);
    if (r.error) throw new Error(`${name} on XS: ${r.error}`);
  };
  let empty = 0;
  if (xs) {
    const e: number[] = [];
    for (let r = 0; r < reps; r++) e.push(await timed(() => xsRun("bench:empty")));
    empty = median(e);
  }
  try {
    for (const c of CASES) {
      const node: number[] = [];
      const inXs: number[] = [];
      for (let r = 0; r < reps; r++) {
        node.push((await timed(() => verifyRecorded(nodeCrypto, c.index, c.node))) / c.node);
        if (xs) inXs.push(Math.max(0, (await timed(() => xsRun(`bench:${c.name}`))) - empty) / c.xs);
      }
      const n = median(node);
      figures.push({ name: `${c.name} (per connection)`, value: round(n), unit: "ms", engine: "node", method: `median of ${reps} runs of ${c.node}; ${c.what}; node:crypto (OpenSSL) signatures`, ratio: round(n / refMs), reference: ref });
      if (!xs) continue;
      const x = median(inXs);
      figures.push({ name: `${c.name} (per connection)`, value: round(x), unit: "ms", engine: "xs", method: `median of ${reps} runs of ${c.xs} inside XS (xsnap, board prelude), empty run subtracted; ${c.what}; src/crypto/signature-js.ts BigInt signatures, @noble/hashes`, ratio: round(x / refMs), reference: ref });
    }
  } finally {
    await xs?.close();
  }
  return figures;
}
