// The record side of RainMaker's user ID + secret key mapping: the pair the app sent over
// cloud_user_assoc waits in the record until the broker has acknowledged its publish, so a power
// cut anywhere in between only means publishing it again after the next boot. Each change is one
// record save (the caller saves what these return).
import type { Secret } from "../secrets/secret.js";
import type { CredentialRecord } from "../storage/credential-record.js";
import { userMappingPayload, userMappingTopic } from "../provisioning/user-mapping.js";

/** The pair arrived: remember it; `reset` when it maps the node to a user other than the confirmed one. */
export function mappingRequested(record: CredentialRecord, userId: string, secretKey: Secret): CredentialRecord {
  const confirmed = record.user?.userId;
  const reset = confirmed !== undefined && confirmed !== userId;
  return { ...record, user: { ...(confirmed !== undefined ? { userId: confirmed } : {}), pending: { userId, secretKey, reset } } };
}

/** The broker acknowledged the publish: the pending user becomes the confirmed one. */
export function mappingDelivered(record: CredentialRecord): CredentialRecord {
  const pending = record.user?.pending;
  if (pending === undefined) return record;
  return { ...record, user: { userId: pending.userId } };
}

/** Topic and payload of the mapping message for the pending pair, if there is one. */
export function mappingMessage(record: CredentialRecord, nodeId: string): { topic: string; payload: string } | undefined {
  const p = record.user?.pending;
  if (p === undefined) return undefined;
  return { topic: userMappingTopic(nodeId), payload: userMappingPayload(nodeId, p.userId, p.secretKey.revealString(), p.reset) };
}
