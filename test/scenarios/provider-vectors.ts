// Published known answers for every primitive of the crypto provider (src/crypto/provider.ts),
// checked against each engine's provider (scenario, Node and XS) and the board's provider over the
// SDK fakes (test/xs/fakes/guest.mts). Sources: FIPS 180-2 examples (SHA-256/512 "abc"),
// RFC 4231 §4.2 test case 1 (HMAC), NIST SP 800-38A F.3.13 (CFB128-AES128) and F.5.1
// (CTR-AES128), McGrew & Viega GCM spec test cases 2 and 3 (AES-128-GCM).
import { fromHex, toHex, utf8 } from "../../src/bytes/bytes.js";
import type { CryptoProvider } from "../../src/crypto/provider.js";

const KEY = fromHex("2b7e151628aed2a6abf7158809cf4f3c");
const PLAIN = fromHex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");

/** Every mismatch as "what: got … expected …"; empty when the provider gives the published answers. */
export function providerMismatches(crypto: CryptoProvider): string[] {
  const bad: string[] = [];
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
