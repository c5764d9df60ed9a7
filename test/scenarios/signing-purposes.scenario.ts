// Issue 14 H1: one framing for everything the identity key signs, and ch_resp signing only what a
// cloud challenge can look like, rate-limited, off once the mapping is done. Engine-neutral.
import { toHex, utf8 } from "../../src/bytes/bytes.js";
import { verify } from "../../src/identity/ed25519.js";
import { generateIdentity, nodeIdOf } from "../../src/identity/identity.js";
import { framedMessage, signFor, SIGNING_PURPOSES, verifyFor } from "../../src/identity/signing.js";
import { registrationMessage } from "../../src/onboarding/shared-register.js";
import { pairSignedText } from "../../src/onboarding/hub/pair.js";
import { ChallengeGate, challengeFormatProblem } from "../../src/provisioning/challenge-response.js";
import { ProvisioningClient } from "../../src/provisioning/client.js";
import { DEFAULT_SERVICE_UUID } from "../../src/provisioning/uuid.js";
import { openProvisioningWindow } from "../../src/provisioning/window.js";
import { Secret } from "../../src/secrets/secret.js";
import { CredentialStore } from "../../src/storage/credential-store.js";
import { BleProtocommTransport, SimBleRadio } from "../../host-sim/ble/link.js";
import { withRadios } from "../../host-sim/provisioning/kit.js";
import { CHALLENGE_SIGNATURE, ConfigError, parseFactoryConfig } from "../../src/config/factory-config.js";
import type { ProvisioningWindow } from "../../src/provisioning/window.js";
import { bootWithRadios, radioConfig } from "./radio-rig.js";
import { check, checkEqual, waitFor, type Scenario, type ScenarioContext } from "./harness.js";

const ChRespStatus = { Success: 0, Fail: 1, InvalidParam: 2, Disabled: 3 };

async function phoneWithPop(ctx: ScenarioContext, challengeResponse: boolean) {
  const d = ctx.device();
  const radio = new SimBleRadio();
  const dev = withRadios(d.io, radio, undefined, { scanMs: 5, connectMs: 10 });
  const identity = generateIdentity(d.io);
  const window = openProvisioningWindow(dev.io, identity, { security: 1, pop: Secret.fromString("abcd1234"), challengeResponse, challengeRate: { maxSignatures: 3, minIntervalMs: 0 } });
  const gatt = await radio.connect(window.deviceName, { mtu: 512 });
  const transport = await BleProtocommTransport.open(gatt, DEFAULT_SERVICE_UUID);
  const client = new ProvisioningClient(transport, d.io.random, (ms) => new Promise<void>((r) => d.io.timers.set(r, ms)));
  await client.establishSession(1, { pop: "abcd1234" });
  return { d, identity, window, client, transport };
}

export const scenarios: Scenario[] = [
  {
    name: "H1: a signature made for one purpose verifies for no other purpose",
    run(ctx) {
      const identity = generateIdentity(ctx.device().io);
      // The framing by hand from the module's comment: "onboard-sig-v1" NUL purpose NUL payload.
      checkEqual(toHex(framedMessage("hub-pair", utf8("x"))), toHex(utf8("onboard-sig-v1\u0000hub-pair\u0000x")), "framed bytes");
      const payload = utf8("the same payload bytes");
      for (const purpose of SIGNING_PURPOSES) {
        const signature = signFor(ctx.crypto, identity, purpose, payload);
        check(verifyFor(ctx.crypto, identity.publicKey, purpose, payload, signature), `${purpose}: verifies for its purpose`);
        check(!verify(ctx.crypto, signature, payload, identity.publicKey), `${purpose}: the raw payload does not verify`);
        for (const other of SIGNING_PURPOSES) {
          if (other !== purpose) check(!verifyFor(ctx.crypto, identity.publicKey, other, payload, signature), `${purpose} signature refused as ${other}`);
        }
      }
      // A payload crafted to look like another purpose's frame still lands in its own frame.
      const crafted = utf8("\u0000shared-register\u0000register-v1");
      const s = signFor(ctx.crypto, identity, "rmaker-challenge", crafted);
      check(!verifyFor(ctx.crypto, identity.publicKey, "shared-register", utf8("register-v1"), s), "no frame confusion through the payload");
    },
  },
  {
    name: "H1: ch_resp accepts only challenge-shaped text, rate-limited and off once disabled",
    run() {
      check(challengeFormatProblem(utf8("a".repeat(64))) === undefined, "64 hex-like characters pass");
      check(challengeFormatProblem(utf8("cloud-challenge-1234")) === undefined, "base64url-like text passes");
      for (const bad of ["short", "register-v1\nd0123\nnode\nnonce", "with a space in it!!", "nul\u0000inside-the-challenge", "é".repeat(10), "x".repeat(257)]) {
        check(challengeFormatProblem(utf8(bad)) !== undefined, `refused: ${JSON.stringify(bad.slice(0, 20))}`);
      }
      const gate = new ChallengeGate({ maxSignatures: 2, minIntervalMs: 1000 });
      const c = utf8("0123456789abcdef0123");
      checkEqual(gate.admit(c, 10_000), "sign", "first");
      checkEqual(gate.admit(c, 10_500), "too-soon", "inside the interval");
      checkEqual(gate.admit(utf8("bad challenge"), 12_000), "bad-format", "format before rate");
      checkEqual(gate.admit(c, 11_000), "sign", "second, after the interval");
      checkEqual(gate.admit(c, 20_000), "disabled", "the window's budget is spent");
      const g2 = new ChallengeGate();
      g2.disable();
      checkEqual(g2.admit(c, 0), "disabled", "disabled after the mapping");
    },
  },
  {
    name: "H1: a phone with the PoP gets no registration or pairing signature through ch_resp",
    async run(ctx) {
      const { identity, window, client, transport } = await phoneWithPop(ctx, true);
      try {
        const nodeId = nodeIdOf(ctx.crypto, identity);
        const nonce = toHex(new Uint8Array(16).fill(7));
        const registration = `register-v1\nd0123456789ab\n${nodeId}\n${nonce}`;
        const pairing = `onboard-hub-pair-v2\n${nodeId}\n${nonce}\n${"ab".repeat(32)}\nESP32-A1B2C3`;
        for (const text of [registration, pairing]) {
          const r = await client.challengeResponse(text);
          checkEqual(r.status, ChRespStatus.InvalidParam, "multi-line text is not a challenge");
          checkEqual(r.signature.length, 0, "and gets no signature");
        }
        // A challenge-shaped string still signs only inside the "rmaker-challenge" frame.
        const r = await client.challengeResponse("d0123456789ab-register-v1");
        checkEqual(r.status, ChRespStatus.Success, "a challenge-shaped string is signed");
        check(verifyFor(ctx.crypto, identity.publicKey, "rmaker-challenge", utf8("d0123456789ab-register-v1"), r.signature), "as a mapping signature");
        check(!verifyFor(ctx.crypto, identity.publicKey, "shared-register", registrationMessage("d0123456789ab", nodeId, nonce), r.signature), "never as a registration");
        check(!verifyFor(ctx.crypto, identity.publicKey, "hub-pair", pairSignedText(nodeId, new Uint8Array(16).fill(7), new Uint8Array(32).fill(0xab), "ESP32-A1B2C3"), r.signature), "never as a pairing request");
        // The app's Disable (or Wi-Fi credentials after a signature) ends it for the window.
        checkEqual(await client.setConfig("home-net", "correct horse battery"), 0, "credentials accepted");
        checkEqual((await client.challengeResponse("another-challenge-string")).status, ChRespStatus.Disabled, "off once the mapping is done");
      } finally {
        await transport.client.disconnect();
        window.close();
      }
    },
  },
  {
    name: "H1: without a mapping cloud that verifies our signatures, ch_resp is neither served nor advertised",
    async run(ctx) {
      const { window, client, transport } = await phoneWithPop(ctx, false);
      try {
        const info = await client.version();
        check(info.raw.rmaker_extra === undefined, "no rmaker_extra in proto-ver");
        check(!window.service.endpoints.some((e) => e.name === "ch_resp"), "no ch_resp endpoint");
        let refused = false;
        try {
          await client.challengeResponse("0123456789abcdef0123");
        } catch {
          refused = true;
        }
        check(refused, "a ch_resp request finds no endpoint");
      } finally {
        await transport.client.disconnect();
        window.close();
      }
    },
  },
  {
    name: "issue 15.4: ch_resp is advertised only when the factory config names a mapping cloud that verifies our signatures",
    async run(ctx) {
      const refused = (config: unknown, field: string) => {
        try {
          parseFactoryConfig(config);
        } catch (e) {
          check(e instanceof ConfigError && e.path === field, `refused at ${field}: ${e instanceof Error ? e.message : String(e)}`);
          return;
        }
        check(false, `config accepted: ${JSON.stringify(config)}`);
      };
      refused({ chain: ["stored"], userMapping: { challengeResponse: { cloud: "https://api.rainmaker.espressif.com/v1", signature: CHALLENGE_SIGNATURE } } }, "userMapping.challengeResponse.cloud");
      refused({ chain: ["stored"], userMapping: { challengeResponse: { cloud: "https://mapping.example.com" } } }, "userMapping.challengeResponse.signature");
      refused({ chain: ["stored"], userMapping: { challengeResponse: { cloud: "https://mapping.example.com", signature: "rsa-pss" } } }, "userMapping.challengeResponse.signature");
      const named = parseFactoryConfig({ chain: ["stored"], userMapping: { challengeResponse: { cloud: "https://mapping.example.com", signature: CHALLENGE_SIGNATURE } } });
      const plain = parseFactoryConfig({ chain: ["stored"] });
      for (const [factory, expected] of [[named, true], [plain, false]] as const) {
        const d = ctx.device();
        const windows: ProvisioningWindow[] = [];
        const { device } = bootWithRadios(d, { ...radioConfig("abcd1234", { onWindow: (w) => windows.push(w) }), factory });
        try {
          await waitFor(d.io, () => windows.length > 0, 2000, "the window opens on blank Wi-Fi");
          const w = windows[0]!;
          const info = JSON.parse(w.service.versionJson()) as { rmaker_extra?: { cap: string[] } };
          checkEqual(info.rmaker_extra?.cap.includes("ch_resp") ?? false, expected, `rmaker_extra.cap with${expected ? "" : "out"} userMapping.challengeResponse`);
          checkEqual(w.service.endpoints.some((e) => e.name === "ch_resp"), expected, "the ch_resp endpoint follows the config");
          check(w.service.endpoints.some((e) => e.name === "cloud_user_assoc"), "cloud_user_assoc stays (secret-key mapping over our broker)");
        } finally {
          device.shutdown();
        }
      }
    },
  },
  {
    name: "H1: a window reopened while a network is stored (jammed Wi-Fi) does not reopen ch_resp, even with a mapping cloud configured",
    async run(ctx) {
      const d = ctx.device();
      const identity = generateIdentity(d.io);
      // A stored network with a stale passphrase: the joins fail, the unit opens the window again.
      new CredentialStore(d.io.storage).save({ version: 1, identity, wifi: { ssid: utf8("home-net"), passphrase: Secret.fromString("stale") } });
      const unit = d.reboot();
      const windows: ProvisioningWindow[] = [];
      const factory = parseFactoryConfig({ chain: ["stored"], userMapping: { challengeResponse: { cloud: "https://mapping.example.com", signature: CHALLENGE_SIGNATURE } } });
      const { device } = bootWithRadios(unit, { ...radioConfig("abcd1234", { onWindow: (w) => windows.push(w), wifiJoin: { backoff: { initialMs: 20, maxMs: 40, minMs: 5 }, maxFailures: 2 } }), factory });
      try {
        await waitFor(unit.io, () => windows.length > 0, 10_000, "the window after failed joins");
        const info = JSON.parse(windows[0]!.service.versionJson()) as { rmaker_extra?: unknown };
        check(info.rmaker_extra === undefined, "ch_resp not advertised while a network is stored");
        check(!windows[0]!.service.endpoints.some((e) => e.name === "ch_resp"), "ch_resp not served");
      } finally {
        device.shutdown();
      }
    },
  },
];
