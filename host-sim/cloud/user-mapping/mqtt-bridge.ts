// The cloud's broker subscription for the node half of the secret-key mapping.
import mqtt from "mqtt";
import type { UserMappingCloud } from "./service.js";

export const USER_MAPPING_FILTER = "node/+/user/mapping";

export async function attachMappingSubscriber(
  cloud: UserMappingCloud,
  broker: { url: string; username?: string; password?: string; ca?: string; rejectUnauthorized?: boolean },
): Promise<{ close(): Promise<void> }> {
  const client = await mqtt.connectAsync(broker.url, {
    ...(broker.username !== undefined ? { username: broker.username } : {}),
    ...(broker.password !== undefined ? { password: broker.password } : {}),
    ...(broker.ca !== undefined ? { ca: broker.ca } : {}),
    rejectUnauthorized: broker.rejectUnauthorized ?? true,
    reconnectPeriod: 0,
    clientId: `cloud-user-mapping-${Math.random().toString(16).slice(2, 10)}`,
  });
  client.on("message", (topic, payload) => {
    const m = /^node\/([^/]+)\/user\/mapping$/.exec(topic);
    if (m) cloud.nodePublished(m[1]!, new Uint8Array(payload));
  });
  await client.subscribeAsync(USER_MAPPING_FILTER, { qos: 1 });
  return { close: async () => void (await client.endAsync()) };
}
