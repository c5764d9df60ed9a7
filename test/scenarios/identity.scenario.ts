// Ed25519 identity: RFC 8032 vectors through our wrapper, and the properties the cloud relies on.
import { fromHex, toHex, utf8 } from "../../src/bytes/bytes.js";
import { publicKeyOf, sign, verify } from "../../src/identity/ed25519.js";
import { generateIdentity, identityIsConsistent, nodeIdOf } from "../../src/identity/identity.js";
import { signFor, verifyFor } from "../../src/identity/signing.js";
import { check, checkEqual, type Scenario } from "./harness.js";
import { RFC8032 } from "./vectors.js";

export const scenarios: Scenario[] = [
  {
    name: "identity: RFC 8032 test vectors",
    run(ctx) {
      for (const v of RFC8032) {
        const sk = fromHex(v.secretKey);
        checkEqual(toHex(publicKeyOf(ctx.crypto, sk)), v.publicKey, "public key");
        checkEqual(toHex(sign(ctx.crypto, fromHex(v.message), sk)), v.signature, "signature");
        check(verify(ctx.crypto, fromHex(v.signature), fromHex(v.message), fromHex(v.publicKey)), "verifies");
        const tampered = fromHex(v.signature);
        tampered[0]! ^= 1;
        check(!verify(ctx.crypto, tampered, fromHex(v.message), fromHex(v.publicKey)), "tampered signature rejected");
      }
      check(!verify(ctx.crypto, new Uint8Array(3), new Uint8Array(0), new Uint8Array(32)), "malformed signature is just invalid");
    },
  },
  {
    name: "identity: generated from the I/O random source, signs challenges, node ID stable",
    run(ctx) {
      const d = ctx.device();
      const a = generateIdentity(d.io);
      const b = generateIdentity(d.io);
      check(toHex(a.publicKey) !== toHex(b.publicKey), "two identities differ");
      check(identityIsConsistent(ctx.crypto, a), "secret key derives the public key");
      checkEqual(nodeIdOf(ctx.crypto, a), nodeIdOf(ctx.crypto, { publicKey: a.publicKey.slice() }), "node ID depends only on the public key");
      const challenge = utf8("cloud challenge 8a1f");
      const signature = signFor(ctx.crypto, a, "rmaker-challenge", challenge);
      check(verifyFor(ctx.crypto, a.publicKey, "rmaker-challenge", challenge, signature), "the cloud can verify the device's signature");
      check(!verifyFor(ctx.crypto, b.publicKey, "rmaker-challenge", challenge, signature), "and not against another key");
      checkEqual(String(a.secretKey), "[redacted]", "secret key prints redacted");
    },
  },
  {
    name: "identity: a random source of zeros is refused",
    run(ctx) {
      let threw = false;
      try {
        generateIdentity({ random: (into) => into.fill(0), crypto: ctx.crypto });
      } catch {
        threw = true;
      }
      check(threw, "all-zero key refused");
    },
  },
];
