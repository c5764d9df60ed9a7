// Shared crypto wrappers for the core (all engine-neutral; @noble/* underneath).
export { sha256, sha512, useHashes, type HashFn } from "./hash.js";
export { x25519, x25519KeyPair, x25519PublicKey, CryptoError, type X25519KeyPair } from "./x25519.js";
export { AesCtrStream, aesEncryptBlock, aesGcmDecrypt, aesGcmEncrypt } from "./aes.js";
export { SrpClient, SrpServer, srpVerifier, SRP_G, SRP_LEN, SRP_N } from "./srp.js";
export { bigIntToBytes, bytesToBigInt, modPow } from "./bigint.js";
