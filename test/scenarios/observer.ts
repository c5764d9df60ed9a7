// A scenario's own MQTT subscriber on the broker's observer account: it watches what a device
// publishes, through our own client, so it runs on every engine the scenario runs on.
import { fromUtf8 } from "../../src/bytes/bytes.js";
import type { Io } from "../../src/io/io.js";
import { MqttClient, type ClientEvent } from "../../src/mqtt/client.js";
import { Secret } from "../../src/secrets/secret.js";
import { waitFor, type BrokerEnv } from "./harness.js";

export interface Observer {
  readonly client: MqttClient;
  readonly messages: { topic: string; payload: string; retain: boolean }[];
}

/** Connects on the observer account, subscribes to `filter` at QoS 1 and resolves once subscribed. */
export async function observe(io: Io, broker: BrokerEnv, filter: string): Promise<Observer> {
  const messages: Observer["messages"] = [];
  let subscribed = false;
  const random = new Uint8Array(4);
  io.random(random);
  const client = new MqttClient(io, {
    endpoint: { host: broker.host, port: broker.port, ca: broker.ca },
    clientId: `obs${Array.from(random).join("")}`,
    username: broker.observer.username,
    password: Secret.fromString(broker.observer.password),
    keepaliveSeconds: 30,
    cleanSession: true,
  });
  client.on((e: ClientEvent) => {
    if (e.type === "message") messages.push({ topic: e.topic, payload: fromUtf8(e.payload), retain: e.retain });
    if (e.type === "subscribed") subscribed = true;
  });
  client.subscribe(filter, 1);
  client.start();
  await waitFor(io, () => subscribed, 10_000, "observer subscription");
  return { client, messages };
}
