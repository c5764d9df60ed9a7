// The crypto provider on Node.js: node:crypto (OpenSSL).
import { createCipheriv, createDecipheriv, createHash, createHmac } from "node:crypto";
import type { CryptoProvider } from "../../src/crypto/provider.js";
import { nodeSignatureVerifier } from "./signatures.js";

const bits = (key: Uint8Array): 128 | 192 | 256 => (key.length * 8) as 128 | 192 | 256;
const bytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.length).slice();

export const nodeCrypto: CryptoProvider = {
  verifyRsaPkcs1v15: nodeSignatureVerifier.verifyRsaPkcs1v15,
  verifyEcdsa: nodeSignatureVerifier.verifyEcdsa,
  sha256: (data) => bytes(createHash("sha256").update(data).digest()),
  sha512: (data) => bytes(createHash("sha512").update(data).digest()),
  hmac: (hash, key, data) => bytes(createHmac(hash, key).update(data).digest()),
  aesCtr(key, counter) {
    // OpenSSL's CTR keeps the partial block between update() calls
    const cipher = createCipheriv(`aes-${bits(key)}-ctr`, key, counter);
    return { apply: (data) => bytes(cipher.update(data)) };
  },
  aesCfb(key, iv, data, direction) {
    const algorithm = `aes-${bits(key)}-cfb`;
    const c = direction === "encrypt" ? createCipheriv(algorithm, key, iv) : createDecipheriv(algorithm, key, iv);
    return bytes(Buffer.concat([c.update(data), c.final()]));
  },
  aesGcmSeal(key, nonce, plaintext, aad) {
    const c = createCipheriv(`aes-${bits(key)}-gcm`, key, nonce);
    if (aad !== undefined) c.setAAD(aad);
    return bytes(Buffer.concat([c.update(plaintext), c.final(), c.getAuthTag()]));
  },
  aesGcmOpen(key, nonce, sealed, aad) {
    const d = createDecipheriv(`aes-${bits(key)}-gcm`, key, nonce);
    if (aad !== undefined) d.setAAD(aad);
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    try {
      return bytes(Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]));
    } catch {
      return undefined; // tag mismatch
    }
  },
};
