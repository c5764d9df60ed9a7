// Device-side Security 1/2 handshakes as engine-neutral scenarios for host-sim/provisioning/bench.ts:
// "…:setup" computes the phone's messages once (with the engine's own crypto provider, so the
// bundle has no Node module), "…" runs the device's Command0 + Command1 only, `ROUNDS` times.
import { utf8 } from "../../src/bytes/bytes.js";
import { AesCtrStream } from "../../src/crypto/aes.js";
import type { CryptoProvider } from "../../src/crypto/provider.js";
import { SrpClient, srpVerifier } from "../../src/crypto/srp.js";
import { x25519, x25519KeyPair } from "../../src/crypto/x25519.js";
import { decode, encode } from "../../src/protobuf/codec.js";
import { SessionData } from "../../src/protobuf/messages.js";
import { createSecuritySession, sec2DefaultUsername, type SecurityConfig } from "../../src/provisioning/security.js";
import { check, type Scenario } from "../../test/scenarios/harness.js";

export const ROUNDS = 3;
const POP = utf8("abcd1234");
/** The same bytes every time, so every timed handshake does the same work. */
export const fixedRandom = (into: Uint8Array): void => {
  for (let i = 0; i < into.length; i++) into[i] = (i * 73 + 11) & 255;
};

export type Prepared = { config: SecurityConfig; cmd0: Uint8Array; cmd1: Uint8Array };
const prepared = new Map<number, Prepared>();

/** The phone's Command0/Command1 for a device-side handshake, computed once with `crypto`. */
export function prepare(security: 1 | 2, crypto: CryptoProvider): Prepared {
  if (security === 1) {
    const config: SecurityConfig = { version: 1, pop: POP };
    const client = x25519KeyPair((into) => into.fill(5));
    const cmd0 = encode(SessionData, { sec_ver: 1, sec1: { msg: 0, sc0: { client_pubkey: client.publicKey } } });
    const r0 = decode<{ sec1: { sr0: { device_pubkey: Uint8Array; device_random: Uint8Array } } }>(SessionData, createSecuritySession(config, fixedRandom, crypto).handshake(cmd0)).sec1.sr0;
    const key = x25519(client.secretKey, r0.device_pubkey);
    const h = crypto.sha256(POP);
    for (let i = 0; i < 32; i++) key[i]! ^= h[i]!;
    const verify = new AesCtrStream(crypto, key, r0.device_random).apply(r0.device_pubkey);
    return { config, cmd0, cmd1: encode(SessionData, { sec_ver: 1, sec1: { msg: 2, sc1: { client_verify_data: verify } } }) };
  }
  const username = sec2DefaultUsername();
  const salt = new Uint8Array(16).fill(0x5a);
  const config: SecurityConfig = { version: 2, srp: { username, salt, verifier: srpVerifier(crypto, username, POP, salt) } };
  const client = new SrpClient(crypto, username, POP, (into) => into.fill(5));
  const cmd0 = encode(SessionData, { sec_ver: 2, sec2: { msg: 0, sc0: { client_username: username, client_pubkey: client.publicKey } } });
  const r0 = decode<{ sec2: { sr0: { device_pubkey: Uint8Array; device_salt: Uint8Array } } }>(SessionData, createSecuritySession(config, fixedRandom, crypto).handshake(cmd0)).sec2.sr0;
  const proof = client.processChallenge(r0.device_salt, r0.device_pubkey);
  return { config, cmd0, cmd1: encode(SessionData, { sec_ver: 2, sec2: { msg: 2, sc1: { client_proof: proof } } }) };
}

export const scenarios: Scenario[] = [{ name: "bench: empty", run: () => {} }, ...([1, 2] as const).flatMap((security): Scenario[] => [
  { name: `bench: Security ${security} device handshake:setup`, run: (ctx) => void prepared.set(security, prepare(security, ctx.crypto)) },
  {
    name: `bench: Security ${security} device handshake`,
    run: (ctx) => {
      const p = prepared.get(security);
      check(p !== undefined, "setup did not run");
      for (let i = 0; i < ROUNDS; i++) {
        const session = createSecuritySession(p.config, fixedRandom, ctx.crypto);
        session.handshake(p.cmd0);
        session.handshake(p.cmd1);
        check(session.established, "handshake did not complete");
      }
    },
  },
])];
