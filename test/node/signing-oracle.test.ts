// Issue 14 H1, end to end with the real verifiers: a phone that knows the PoP (printed on the
// label; a previous owner keeps it) opens a session over the protocomm HTTP transport and asks
// ch_resp to sign a registration request and a hub pairing request. It must get nothing that
// the reference cloud's registration handler or the reference hub accepts — even on a unit
// whose factory config does enable ch_resp. On the old main, ch_resp signed the raw bytes and
// both verifiers accepted the result.
import assert from "node:assert/strict";
import { createHash, randomFillSync } from "node:crypto";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { toHex } from "../../src/bytes/bytes.js";
import { generateIdentity, nodeIdOf } from "../../src/identity/identity.js";
import { ProvisioningClient } from "../../src/provisioning/client.js";
import { openProvisioningWindow } from "../../src/provisioning/window.js";
import { Secret } from "../../src/secrets/secret.js";
import { handleRegistration } from "../../host-sim/cloud/shared-registration.js";
import { CloudState } from "../../host-sim/cloud/state.js";
import { PairRequestError, parsePairRequest } from "../../host-sim/hub/pairing.js";
import { HttpProtocommTransport, startHttpTransport } from "../../host-sim/provisioning/http-transport.js";
import { createSimDevice } from "../../host-sim/sim-device.js";

const random = (b: Uint8Array): void => void randomFillSync(b);

/** The cloud's registration handler over an in-memory state; resolves with its reply. */
function registrationCloud() {
  const state = new CloudState();
  state.data.shared.push({ username: "shared", password: "shared-password", clientIdPattern: "^[0-9A-Za-z]{1,23}$", register: true });
  const replies: { topic: string; body: Record<string, unknown> }[] = [];
  let settle: (() => void) | undefined;
  const deps = {
    state,
    publish: async (topic: string, payload: string) => {
      replies.push({ topic, body: JSON.parse(payload) as Record<string, unknown> });
      settle?.();
    },
    changed: async () => {},
    emit: () => {},
  };
  return {
    async submit(clientId: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
      const done = new Promise<void>((r) => (settle = r));
      handleRegistration(deps, { clientId, topic: `register/${clientId}/request`, payload: Buffer.from(JSON.stringify(body)) });
      await done;
      // The reply envelope (issue 14 H3): {"v":2,"reply":"<JSON text>","signature"}.
      return JSON.parse(String(replies.at(-1)!.body.reply)) as Record<string, unknown>;
    },
  };
}

test("H1: a phone-side attacker with the PoP obtains no registration or pairing signature through ch_resp", async () => {
  const sim = createSimDevice();
  const identity = generateIdentity(sim.io);
  const nodeId = nodeIdOf(sim.io.crypto, identity);
  // Worst case: a unit whose factory config enables ch_resp.
  const window = openProvisioningWindow(sim.io, identity, { security: 1, pop: Secret.fromString("abcd1234"), ble: false, challengeResponse: true, challengeRate: { maxSignatures: 10, minIntervalMs: 0 } });
  const http = await startHttpTransport(window.service);
  const transport = new HttpProtocommTransport(http.host, http.port);
  try {
    const phone = new ProvisioningClient(transport, random, (ms) => sleep(ms));
    await phone.establishSession(1, { pop: "abcd1234" });
    const info = await phone.version();
    assert.deepEqual((info.raw.rmaker_extra as { cap: string[] }).cap, ["ch_resp"]);

    // 1. Registration: the shared login's register-on-first-connect request for client ID C.
    const clientId = "d0123456789ab";
    const nonce = toHex(randomFillSync(new Uint8Array(16)));
    const registrationText = `register-v1\n${clientId}\n${nodeId}\n${nonce}`;
    const cloud = registrationCloud();
    const asRegistration = async (signature: Uint8Array) =>
      cloud.submit(clientId, { v: 1, nodeId, publicKey: toHex(identity.publicKey), nonce, signature: toHex(signature.length === 64 ? signature : new Uint8Array(64)) });
    const r1 = await phone.challengeResponse(registrationText);
    assert.notEqual(r1.status, 0, "the registration text is refused as a challenge");
    assert.equal((await asRegistration(r1.signature)).error, "bad-request", "nothing usable comes back");
    // A challenge-shaped variant is signed, but only inside the mapping frame.
    const r2 = await phone.challengeResponse(`register-v1-${clientId}-${nodeId}-${nonce}`);
    assert.equal(r2.status, 0);
    const reply = await asRegistration(r2.signature);
    assert.equal(reply.error, "bad-request", `the cloud refuses it: ${JSON.stringify(reply)}`);
    assert.equal(reply.username, undefined, "no login for the attacker");

    // 2. Hub pairing: the reference hub checks the request on its own (node:crypto).
    const hubKeyHex = createHash("sha256").update("some hub").digest("hex");
    const pairNonce = toHex(randomFillSync(new Uint8Array(16)));
    const pairBody = (signature: Uint8Array) => Buffer.from(JSON.stringify({ v: 2, node_id: nodeId, public_key: toHex(identity.publicKey), name: "ESP32-A1B2C3", nonce: pairNonce, signature: toHex(signature.length === 64 ? signature : new Uint8Array(64)) }));
    for (const text of [`onboard-hub-pair-v2\n${nodeId}\n${pairNonce}\n${hubKeyHex}\nESP32-A1B2C3`, `onboard-hub-pair-v1\n${nodeId}\n${pairNonce}\n${hubKeyHex}`, `onboard-hub-pair-${nodeId}-${pairNonce}`]) {
      const r = await phone.challengeResponse(text);
      assert.throws(() => parsePairRequest(pairBody(r.signature), hubKeyHex), PairRequestError, `refused by the hub: ${JSON.stringify(text.slice(0, 30))}`);
    }
    assert.ok(window.service.challengeSignatures >= 1, "the endpoint did sign challenge-shaped strings (so the refusals above are the framing's doing)");
  } finally {
    transport.close();
    window.close();
    await http.close();
    sim.io.shutdown();
  }
});
