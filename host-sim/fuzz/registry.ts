// Every decoder and state machine that takes bytes from outside the device. Adding one to the
// fuzzer (short mode in `npm test`, long mode in `npm run fuzz -- --long`) is one line here.
import type { FuzzTarget } from "./target.js";
import { credentialRecordTarget } from "./targets/credential-record.js";
import { mqttCodecTarget } from "./targets/mqtt-codec.js";
import { mqttSessionTarget } from "./targets/mqtt-session.js";
import { slotPairTarget } from "./targets/slot-pair.js";
import { factoryConfigTarget } from "./targets/factory-config.js";
import { httpResponseTarget } from "./targets/http-response.js";
import { bootstrapReplyTarget, registerReplyTarget, secureBootstrapTarget } from "./targets/onboarding-replies.js";
import { emoncmsReplyTarget, mdnsResponseTarget, pairReplyTarget } from "./targets/hub-replies.js";
import { protobufTarget } from "./targets/protobuf.js";
import { provisioningEndpointsTarget } from "./targets/provisioning-endpoints.js";
import { security1Target, security2Target } from "./targets/security.js";
import { tlsHandshakeTarget } from "./targets/tls-handshake.js";
import { sharedRegisterReplyTarget } from "./targets/shared-register-reply.js";

export const FUZZ_TARGETS: readonly FuzzTarget[] = [
  mqttCodecTarget,
  mqttSessionTarget,
  credentialRecordTarget,
  slotPairTarget,
  protobufTarget,
  httpResponseTarget,
  bootstrapReplyTarget,
  secureBootstrapTarget,
  registerReplyTarget,
  sharedRegisterReplyTarget,
  factoryConfigTarget,
  mdnsResponseTarget,
  pairReplyTarget,
  emoncmsReplyTarget,
  provisioningEndpointsTarget,
  security1Target,
  security2Target,
  tlsHandshakeTarget,
];

export function fuzzTarget(name: string): FuzzTarget {
  const target = FUZZ_TARGETS.find((t) => t.name === name);
  if (!target) throw new Error(`no fuzz target "${name}" (have: ${FUZZ_TARGETS.map((t) => t.name).join(", ")})`);
  return target;
}
