// Engine-neutral handshake scenarios for timing (not part of the test suite): device service and
// phone client back to back in one engine, no link. Run by bench.ts on Node and inside XS.
import { utf8 } from "../../src/bytes/bytes.js";
import { srpVerifier } from "../../src/crypto/srp.js";
import { ProvisioningClient } from "../../src/provisioning/client.js";
import type { SecurityConfig, SecurityVersion } from "../../src/provisioning/security.js";
import { ProvisioningService } from "../../src/provisioning/service.js";
import type { Scenario } from "../../test/scenarios/harness.js";
import { nodeCrypto } from "../io/node-crypto.js";

export const ROUNDS = 3;

async function handshakes(random: (b: Uint8Array) => void, now: () => number, security: SecurityVersion): Promise<void> {
  const salt = new Uint8Array(16);
  random(salt);
  const config: SecurityConfig =
    security === 2 ? { version: 2, patchVersion: 1, srp: { username: utf8("wifiprov"), salt, verifier: srpVerifier(nodeCrypto, utf8("wifiprov"), utf8("abcd1234"), salt) } } : security === 1 ? { version: 1, pop: utf8("abcd1234") } : { version: 0 };
  const wifi = { setConfig() {}, apply: () => true, status: () => ({ state: "idle" as const }), scanStart() {}, latestScan: () => undefined, reset: () => true, reprovision: () => true };
  const service = new ProvisioningService({ security: config, random, crypto: nodeCrypto, now, wifi });
  for (let i = 0; i < ROUNDS; i++) {
    service.openSession(i + 1);
    const client = new ProvisioningClient({ send: async (ep, data) => service.handle(i + 1, ep, data) }, random);
    await client.establishSession(security, { pop: "abcd1234" });
  }
}

export const scenarios: Scenario[] = ([0, 1, 2] as const).map((security) => ({
  name: `bench: Security ${security} handshake x${ROUNDS}`,
  run: (ctx) => {
    const io = ctx.device().io;
    return handshakes(io.random, () => io.clock.monotonic(), security);
  },
}));
