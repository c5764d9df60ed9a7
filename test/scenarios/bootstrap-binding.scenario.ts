// Issue 14, H4: what binds a bootstrap reply to this unit, and what a reply over an unverified link
// may decide. The Mainflux bootstrap protocol names neither the unit nor the request in its reply,
// and its secure variant is AES-CFB with one fleet-wide key and no MAC: whoever is on the path can
// replay another unit's reply, and can truncate the ciphertext and rewrite its last block at will
// (CFB: flipping ciphertext bits flips the same plaintext bits, and the last block garbles nothing
// after it). So: over plain HTTP the reply never sets the broker URL or the CA; a reply whose content
// names another external ID is refused; over plain HTTP a unit keeps the thing ID it bootstrapped
// with. Forgeries below start from the recorded real replies (the attacker's known plaintext is the
// service's own decryption); the binding cases use JSON written here (self-derived, marked).
// Runs on Node and inside XS.
import { concat, fromHex, fromUtf8, utf8 } from "../../src/bytes/bytes.js";
import { bootstrapProfile } from "../../src/onboarding/bootstrap-version.js";
import { BootstrapBindingError, BootstrapReplyError, checkReplyBinding, credentialsFromReply, ignoredOverInsecure, parseBootstrapReply } from "../../src/onboarding/bootstrap.js";
import { decryptReply, encryptReply, serviceKeyBytes } from "../../src/onboarding/secure-bootstrap.js";
import { InsecureTransportError, replyTrust } from "../../src/onboarding/transport-trust.js";
import { Secret } from "../../src/secrets/secret.js";
import type { CredentialRecord } from "../../src/storage/credential-record.js";
import { check, checkEqual, checkThrows, type Scenario } from "./harness.js";
import { recordedBootstrapConfig } from "./bootstrap-recorded.scenario.js";
import { RECORDED } from "./mainflux-recordings.js";

const FLEET = { url: "mqtts://fleet.example:8883", ca: "-----BEGIN CERTIFICATE-----\nfleet\n-----END CERTIFICATE-----\n" };
const IDENTITY = { secretKey: Secret.fromBytes(new Uint8Array(32).fill(1)), publicKey: new Uint8Array(32).fill(2) };
const BLANK: CredentialRecord = { version: 1, identity: IDENTITY };

/** Truncate a secure reply after `keep` plaintext bytes and make the next bytes read `tail`: needs only the known plaintext. */
function rewriteTail(body: Uint8Array, knownPlaintext: Uint8Array, keep: number, tail: Uint8Array): Uint8Array {
  const ct = body.slice(16, 16 + keep + tail.length);
  for (let i = 0; i < tail.length; i++) ct[keep + i] = ct[keep + i]! ^ knownPlaintext[keep + i]! ^ tail[i]!;
  return concat(body.slice(0, 16), ct);
}

export const scenarios: Scenario[] = [
  {
    name: "H4: bootstrap and register refuse http:// unless insecureTransport; https is verified TLS",
    run(ctx) {
      checkEqual(replyTrust("https://cloud:9013", undefined), "verified-tls", "https");
      const refused = checkThrows(() => replyTrust("http://cloud:9013", undefined), InsecureTransportError, "http without the flag");
      checkEqual(refused.code, "insecure-transport", "typed");
      checkThrows(() => replyTrust("http://cloud:9013", false), InsecureTransportError, "http with the flag false");
      checkEqual(replyTrust("http://cloud:9013", true), "insecure", "http allowed by the factory config");
    },
  },
  {
    name: "H4: a truncated and rewritten last CFB block of a real secure reply decrypts cleanly (no integrity) but cannot set the broker or CA over plain HTTP",
    run(ctx) {
      for (const file of ["013-thing-secure-all", "0525-thing-secure-ascii-nocert"]) {
        const entry = RECORDED.find((e) => e.file === file)!;
        const ok = entry.exchanges.find((x) => x.case === "ok")!;
        const config = recordedBootstrapConfig(entry);
        const key = serviceKeyBytes(config.secure!.key, config.secure!.keyEncoding);
        const body = fromHex(ok.bodyHex!);
        const known = utf8(ok.decrypted!);
        // Keep everything up to the block boundary inside the broker's host name, then write the rest.
        const host = ok.decrypted!.indexOf("mqtts://") + 8;
        const keep = Math.ceil(host / 16) * 16;
        check(keep > host && keep < host + 14, `${file}: the block boundary falls inside "broker.example"`);
        const forged = rewriteTail(body, known, keep, utf8('evil\\"}"}'));
        const text = fromUtf8(decryptReply(ctx.crypto, key, forged));
        checkEqual(text, ok.decrypted!.slice(0, keep) + 'evil\\"}"}', `${file}: the forgery decrypts to the attacker's text`);
        const reply = parseBootstrapReply(text, config.version);
        check(reply.caCert === undefined && reply.clientCert === undefined, `${file}: the certificates after the cut are gone`);
        const insecure = credentialsFromReply(reply, FLEET, { version: config.version, trust: "insecure" });
        checkEqual([insecure.brokerUrl, insecure.ca], [FLEET.url, FLEET.ca], `${file}: over plain HTTP the broker and CA stay the factory's`);
        checkEqual(ignoredOverInsecure(reply), ["content.broker_url"], `${file}: the forged broker is reported as ignored`);
        // What TLS protects: the same reply, were it to arrive over verified TLS, would move the unit.
        check(credentialsFromReply(reply, FLEET, { version: config.version, trust: "verified-tls" }).brokerUrl.includes("evil"), `${file}: verified TLS trusts the reply's broker`);
        // A cut that leaves broken JSON is a typed refusal, never a half-applied reply.
        checkThrows(() => parseBootstrapReply(fromUtf8(decryptReply(ctx.crypto, key, body.slice(0, 16 + keep))), config.version), BootstrapReplyError, `${file}: plain truncation`);
      }
    },
  },
  {
    name: "H4: another unit's replayed reply is refused when the content names the unit; required with requireContentExternalId",
    run(ctx) {
      // Self-derived: content with external_id is our convention for binding (the operator writes it).
      const profile = bootstrapProfile("mainflux-0.13");
      check(profile.reply.kind === "flat", "0.13 has flat fields");
      const replyFor = (externalId: string | undefined, thing: string) => parseBootstrapReply(JSON.stringify({
        mainflux_id: thing, mainflux_key: `key-of-${thing}`, mainflux_channels: [],
        ...(externalId !== undefined ? { content: JSON.stringify({ external_id: externalId }) } : {}),
      }), "mainflux-0.13");
      const victim = "02:00:00:00:00:0A";
      // The reply is encrypted with the fleet key, which every unit holds: B's reply decrypts fine at A.
      const fleetKey = utf8("0123456789abcdef0123456789abcdef");
      const bReply = encryptReply(ctx.crypto, fleetKey, new Uint8Array(16).fill(7), utf8(JSON.stringify({ mainflux_id: "thing-B", mainflux_key: "kB", content: JSON.stringify({ external_id: "02:00:00:00:00:0B" }) })));
      const replayed = parseBootstrapReply(fromUtf8(decryptReply(ctx.crypto, fleetKey, bReply)), "mainflux-0.13");
      for (const trust of ["insecure", "verified-tls"] as const) {
        const e = checkThrows(() => checkReplyBinding(replayed, victim, {}, trust, BLANK), BootstrapBindingError, `replayed reply of B refused at A (${trust})`);
        checkEqual(e.code, "reply-not-bound", "typed");
        check(!e.message.includes("kB"), "no key in the message");
      }
      checkReplyBinding(replyFor(victim, "thing-A"), victim, { requireContentExternalId: true }, "insecure", BLANK);
      checkThrows(() => checkReplyBinding(replyFor(undefined, "thing-A"), victim, { requireContentExternalId: true }, "insecure", BLANK), BootstrapBindingError, "required and absent");
      checkReplyBinding(replyFor(undefined, "thing-A"), victim, {}, "insecure", BLANK); // not required, absent: accepted (residual risk)
      checkThrows(() => checkReplyBinding(parseBootstrapReply(JSON.stringify({ mainflux_id: "t", mainflux_key: "k", content: '{"external_id":7}' }), "mainflux-0.13"), victim, {}, "insecure", BLANK), BootstrapBindingError, "a non-string external_id");
    },
  },
  {
    name: "H4: over plain HTTP a re-bootstrap keeps the thing ID the unit bootstrapped with; over verified TLS it may change",
    run(ctx) {
      const victim = "02:00:00:00:00:0A";
      const before: CredentialRecord = {
        ...BLANK,
        mqtt: { brokerUrl: FLEET.url, clientId: "thing-A", username: "thing-A", password: Secret.fromString("kA") },
        strategy: { name: "bootstrap", state: { externalId: victim, version: "mainflux-0.13" } },
      };
      const reply = (thing: string) => parseBootstrapReply(JSON.stringify({ mainflux_id: thing, mainflux_key: "k" }), "mainflux-0.13");
      checkReplyBinding(reply("thing-A"), victim, {}, "insecure", before);
      checkThrows(() => checkReplyBinding(reply("thing-B"), victim, {}, "insecure", before), BootstrapBindingError, "another thing ID over plain HTTP");
      checkReplyBinding(reply("thing-B"), victim, {}, "verified-tls", before); // a recreated config, vouched for by TLS
      checkReplyBinding(reply("thing-B"), "02:00:00:00:00:0C", {}, "insecure", before); // another external ID: nothing to keep
    },
  },
];
