// What the MQTT client accepts from its callers, checked with the encoder's own rules before
// anything is queued, stored or sent: a value the encoder would refuse must be refused here, to
// the caller, as an MqttInputError — never later, inside a socket or timer callback, where the
// exception would abort XS on the board (and, queued, would throw again on every reconnect).
// The checks are exported for the places that store MQTT values (credential records, rotation
// commands, onboarding replies), so nothing is kept that the client cannot use.
import type { Secret } from "../secrets/secret.js";
import { isValidTopicFilter, isValidTopicName, mqttStringProblem } from "./codec.js";

export type MqttInputErrorCode =
  | "bad-topic" // a PUBLISH or will topic name: empty, a wildcard, U+0000, a lone surrogate, too long
  | "bad-filter" // a SUBSCRIBE topic filter
  | "bad-client-id"
  | "bad-username"
  | "bad-password"
  | "bad-payload"; // not bytes, or larger than one packet may carry

export class MqttInputError extends Error {
  readonly code: MqttInputErrorCode;

  constructor(code: MqttInputErrorCode, message: string) {
    super(message); // names the field and the rule, never the value
    this.code = code;
  }
}

/** Largest remaining length of a packet (§2.2.3); a PUBLISH must fit it with its header fields. */
const MAX_REMAINING_LENGTH = 268_435_455;

export function checkTopicName(topic: unknown, what = "topic"): string {
  const problem = mqttStringProblem(topic);
  if (problem !== undefined) throw new MqttInputError("bad-topic", `${what} ${problem}`);
  if (!isValidTopicName(topic as string)) throw new MqttInputError("bad-topic", `${what} is empty or has a wildcard [MQTT-3.3.2-2]`);
  return topic as string;
}

export function checkTopicFilter(filter: unknown, what = "topic filter"): string {
  const problem = mqttStringProblem(filter);
  if (problem !== undefined) throw new MqttInputError("bad-filter", `${what} ${problem}`);
  if (!isValidTopicFilter(filter as string)) throw new MqttInputError("bad-filter", `${what} is empty or misplaces a wildcard [MQTT-4.7.1]`);
  return filter as string;
}

/** A client ID the CONNECT encoder takes: an MQTT string, non-empty unless the session is clean [MQTT-3.1.3-7]. */
export function checkClientId(clientId: unknown, cleanSession = false): string {
  const problem = mqttStringProblem(clientId);
  if (problem !== undefined) throw new MqttInputError("bad-client-id", `client ID ${problem}`);
  if (clientId === "" && !cleanSession) throw new MqttInputError("bad-client-id", "an empty client ID needs a clean session [MQTT-3.1.3-7]");
  return clientId as string;
}

/** User name and password as CONNECT carries them: a password needs a user name [MQTT-3.1.2-22]. */
export function checkCredentials(username: unknown, password: Secret | undefined): void {
  if (username !== undefined) {
    const problem = mqttStringProblem(username);
    if (problem !== undefined) throw new MqttInputError("bad-username", `user name ${problem}`);
  }
  if (password !== undefined) {
    if (username === undefined) throw new MqttInputError("bad-password", "a password needs a user name [MQTT-3.1.2-22]");
    if (password.byteLength > 0xffff) throw new MqttInputError("bad-password", `password is ${password.byteLength} bytes, at most 65535 fit`);
  }
}

export function checkPayload(payload: unknown, topicBytes: number, max = MAX_REMAINING_LENGTH, what = "payload"): Uint8Array {
  if (!(payload instanceof Uint8Array)) throw new MqttInputError("bad-payload", `${what} is not a Uint8Array`);
  const packet = 2 + topicBytes + 2 + payload.length; // topic length, topic, packet identifier, payload
  if (packet > max) throw new MqttInputError("bad-payload", `${what} of ${payload.length} bytes makes a packet larger than ${max} bytes`);
  return payload;
}
