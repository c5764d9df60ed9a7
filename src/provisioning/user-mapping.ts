// The MQTT half of RainMaker's user ID + secret key mapping (reference §4.1): once online (and
// after the node config is reported), the node publishes this once at QoS 1. Completion is the
// PUBACK; the cloud sends no reply on MQTT. It goes to this unit's own broker (the fleet's
// cloud), not to the ESP RainMaker cloud: only a mapping service listening on that broker (the
// reference cloud here) confirms it; the ESP RainMaker apps' "add node" step never sees it
// (README, "ESP RainMaker apps and user-node mapping").

export function userMappingTopic(nodeId: string): string {
  return `node/${nodeId}/user/mapping`;
}

/** `{"node_id","user_id","secret_key"[,"reset":true]}` (no timestamp; fits esp-rainmaker's 200-byte buffer for sane inputs). */
export function userMappingPayload(nodeId: string, userId: string, secretKey: string, reset = false): string {
  const body: Record<string, string | boolean> = { node_id: nodeId, user_id: userId, secret_key: secretKey };
  if (reset) body.reset = true;
  return JSON.stringify(body);
}
