// The core's SignatureVerifier over node:crypto (OpenSSL), for the simulator.
import { createPublicKey, constants, verify } from "node:crypto";
import type { SignatureHash, SignatureVerifier } from "../../src/crypto/signature.js";

const NODE_HASH: Readonly<Record<SignatureHash, string>> = { "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512" };

export const nodeSignatureVerifier: SignatureVerifier = {
  verifyRsaPkcs1v15(key, hash, message, signature) {
    try {
      const publicKey = createPublicKey({ key: Buffer.from(key.spki), format: "der", type: "spki" });
      return verify(NODE_HASH[hash], message, { key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
    } catch {
      return false; // a key or signature OpenSSL cannot read does not verify
    }
  },
  verifyEcdsa(key, hash, message, signature) {
    try {
      const publicKey = createPublicKey({ key: Buffer.from(key.spki), format: "der", type: "spki" });
      return verify(NODE_HASH[hash], message, { key: publicKey, dsaEncoding: "der" }, signature);
    } catch {
      return false;
    }
  },
};
