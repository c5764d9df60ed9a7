// Published known answers for every primitive of the crypto provider (src/crypto/provider.ts),
// checked against each engine's provider (scenario, Node and XS) and the board's provider over the
// SDK fakes (test/xs/fakes/guest.mts). Sources: FIPS 180-2 examples (SHA-256/512 "abc"),
// RFC 4231 §4.2 test case 1 (HMAC), NIST SP 800-38A F.3.13 (CFB128-AES128) and F.5.1
// (CTR-AES128), McGrew & Viega GCM spec test cases 2 and 3 (AES-128-GCM), RFC 6979 A.2.5 / A.2.6
// (ECDSA P-256/SHA-256 and P-384/SHA-384 of "sample"), and an RSA-2048 PKCS#1 v1.5 SHA-256
// signature of "sample" made by OpenSSL (node:crypto sign) — a recording, not a published vector.
import { fromHex, toHex, utf8 } from "../../src/bytes/bytes.js";
import type { CryptoProvider } from "../../src/crypto/provider.js";

const KEY = fromHex("2b7e151628aed2a6abf7158809cf4f3c");

const RFC6979_P256 = {
  point: "0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb67903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299",
  spkiPrefix: "3059301306072a8648ce3d020106082a8648ce3d030107034200",
  signature: "3046022100efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716022100f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8",
};
const RFC6979_P384 = {
  point: "04ec3a4e415b4e19a4568618029f427fa5da9a8bc4ae92e02e06aae5286b300c64def8f0ea9055866064a254515480bc138015d9b72d7d57244ea8ef9ac0c621896708a59367f9dfb9f54ca84b3f1c9db1288b231c3ae0d4fe7344fd2533264720",
  spkiPrefix: "3076301006072a8648ce3d020106052b81040022036200",
  signature: "306602310094edbb92a5ecb8aad4736e56c691916b3f88140666ce9fa73d64c4ea95ad133c81a648152e44acf96e36dd1e80fabe4602310099ef4aeb15f178cea1fe40db2603138f130e740a19624526203b6351d0a3a94fa329c145786e679e7b82c71a38628ac8",
};
const OPENSSL_RSA = {
  modulus: "a852d9bee7c217bb04a3d451795b396cf6c80796ef0f613b3af2323986f47b6f0f304d03092af35e758bf8106be3aad5bdee4343118ae660ee3eeabad72f9d70e6a19135138f835df77ab20a59c02cd9ff96af11fce6847ca379ce4abe16e1d4e6fbccb75a6f047e04ac5ef40dcd473cf184c8c956063dfb5857322acb0e3b38790d94c3f62a59217db6ba418e0b5b0c47b3f857e5f9ca7cafe026d36f07cbc2af3a3ff9368a74bf4946197d781eec1addba972edbc9125404a5e032d8fffe3419be46d6affb468c2f8f002b3ae1f0a580fe911353f3eee2e699aed0e1cffbc5d567d99554e1a39207e24c4e149bbe70ebdbe5e87a661940112e7b5d937cf371",
  spkiPrefix: "30820122300d06092a864886f70d01010105000382010f003082010a0282010100",
  spkiSuffix: "0203010001",
  signature: "3c04c262af62af602fef8cacf61b7d6b69c25c92cfe8fb96165433102b4dd48e0b6693bee601449e4884a293b42c95a9686ed6a092a7bc368eadc4c963a35509b6612b8220aa24d04ea48caa75e5337dd41cd3f397743b7fbec4af13418b91c56afcd0026844b629e42b9046ac19f61c132fc4d615101b4f46c05a26063be1ee8f2f6fb35f814260d14fdc00229b14fef456128a7b4d751bc35ae7abf25f3e83ccf39da1ac7c34678d5ce0ffcf764f15f92b7f4e58e2609d1f9d7b037f8749f99cad6554065257190b4a34f143065c2ed1ff03e3e19d38313730ff88d0aa2cd3b67121ea148ca7c83627bca826e86cb578a3286d56b0930cc93d0fa621180c3d",
};

/** The signature known answers: each valid signature verifies, and with one bit flipped it does not. */
function signatureMismatches(crypto: CryptoProvider): string[] {
  const bad: string[] = [];
  const message = utf8("sample");
  const flipped = (hex: string) => { const b = fromHex(hex); b[b.length - 5]! ^= 0x10; return b; };
  for (const [name, v, curve, hash] of [["P-256", RFC6979_P256, "P-256", "SHA-256"], ["P-384", RFC6979_P384, "P-384", "SHA-384"]] as const) {
    const key = { kind: "ec", curve, point: fromHex(v.point), spki: fromHex(v.spkiPrefix + v.point) } as const;
    if (!crypto.verifyEcdsa(key, hash, message, fromHex(v.signature))) bad.push(`ECDSA ${name} (RFC 6979): valid signature refused`);
    if (crypto.verifyEcdsa(key, hash, message, flipped(v.signature))) bad.push(`ECDSA ${name}: a flipped bit verifies`);
    if (crypto.verifyEcdsa(key, hash, utf8("samplE"), fromHex(v.signature))) bad.push(`ECDSA ${name}: another message verifies`);
  }
  const rsa = { kind: "rsa", modulus: fromHex(OPENSSL_RSA.modulus), exponent: fromHex("010001"), spki: fromHex(OPENSSL_RSA.spkiPrefix + OPENSSL_RSA.modulus + OPENSSL_RSA.spkiSuffix) } as const;
  if (!crypto.verifyRsaPkcs1v15(rsa, "SHA-256", message, fromHex(OPENSSL_RSA.signature))) bad.push("RSA PKCS#1 v1.5 SHA-256: valid signature refused");
  if (crypto.verifyRsaPkcs1v15(rsa, "SHA-256", message, flipped(OPENSSL_RSA.signature))) bad.push("RSA: a flipped bit verifies");
  if (crypto.verifyRsaPkcs1v15(rsa, "SHA-384", message, fromHex(OPENSSL_RSA.signature))) bad.push("RSA: verifies under another hash");
  return bad;
}
const PLAIN = fromHex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");

/** Every mismatch as "what: got … expected …"; empty when the provider gives the published answers. */
export function providerMismatches(crypto: CryptoProvider): string[] {
  const bad: string[] = signatureMismatches(crypto);
  const eq = (what: string, got: Uint8Array | undefined, hex: string) => {
    const g = got === undefined ? "undefined" : toHex(got);
    if (g !== hex) bad.push(`${what}: got ${g} expected ${hex}`);
  };
  eq("SHA-256(abc)", crypto.sha256(utf8("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  eq("SHA-512(abc)", crypto.sha512(utf8("abc")),
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  const hmacKey = new Uint8Array(20).fill(0x0b);
  eq("HMAC-SHA-256 (RFC 4231 #1)", crypto.hmac("sha256", hmacKey, utf8("Hi There")), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  eq("HMAC-SHA-512 (RFC 4231 #1)", crypto.hmac("sha512", hmacKey, utf8("Hi There")),
    "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854");
  const ctrExpected = "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff";
  const counter = fromHex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
  eq("CTR-AES128 (SP 800-38A F.5.1)", crypto.aesCtr(KEY, counter).apply(PLAIN), ctrExpected);
  const stream = crypto.aesCtr(KEY, counter); // the same keystream in uneven pieces
  const pieces = [stream.apply(PLAIN.subarray(0, 5)), stream.apply(PLAIN.subarray(5, 16)), stream.apply(PLAIN.subarray(16, 17)), stream.apply(PLAIN.subarray(17))];
  eq("CTR-AES128 in pieces", Uint8Array.from(pieces.flatMap((p) => [...p])), ctrExpected);
  const iv = fromHex("000102030405060708090a0b0c0d0e0f");
  const cfbExpected = "3b3fd92eb72dad20333449f8e83cfb4ac8a64537a0b3a93fcde3cdad9f1ce58b";
  eq("CFB128-AES128 encrypt (SP 800-38A F.3.13)", crypto.aesCfb(KEY, iv, PLAIN, "encrypt"), cfbExpected);
  eq("CFB128-AES128 decrypt (F.3.14)", crypto.aesCfb(KEY, iv, fromHex(cfbExpected), "decrypt"), toHex(PLAIN));
  eq("CFB128-AES128 partial block", crypto.aesCfb(KEY, iv, PLAIN.subarray(0, 21), "encrypt"), cfbExpected.slice(0, 42));
  const zeroKey = new Uint8Array(16);
  const zeroNonce = new Uint8Array(12);
  const sealed = fromHex("0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf");
  eq("AES-128-GCM seal (test case 2)", crypto.aesGcmSeal(zeroKey, zeroNonce, new Uint8Array(16)), toHex(sealed));
  eq("AES-128-GCM open (test case 2)", crypto.aesGcmOpen(zeroKey, zeroNonce, sealed), "00000000000000000000000000000000");
  eq("AES-128-GCM empty (test case 1)", crypto.aesGcmSeal(zeroKey, zeroNonce, new Uint8Array(0)), "58e2fccefa7e3061367f1d57a4e7455a");
  const tampered = sealed.slice();
  tampered[0]! ^= 1;
  if (crypto.aesGcmOpen(zeroKey, zeroNonce, tampered) !== undefined) bad.push("AES-128-GCM: a tampered message opened");
  return bad;
}
