// The one small interface every onboarding strategy implements: from the factory config and the
// unit's own identity, obtain MQTT credentials, or say precisely why not. The chain (chain.ts)
// turns that "why" into retry, back-off or the next strategy.
import type { Io } from "../io/io.js";
import type { Logger } from "../log/logger.js";
import { checkMqttUsable, RecordError, type CredentialRecord, type MqttCredentials, type StrategyStateValue } from "../storage/credential-record.js";

export type FailureKind =
  /** Network down, DNS, TLS refused, timeout, 5xx: the service may come back. */
  | "unreachable"
  /** The service answered "no" to who we are: unknown ID, wrong key, unknown serial, bad request. */
  | "refused"
  /** Known to the service but waiting for a person or a quota (429, pending approval): ask again later. */
  | "not-approved"
  /** The operator disabled this unit. */
  | "disabled"
  /** A person looked at this unit's request and said no (hub approval): stop asking until reset. */
  | "denied"
  /** The service answered, but not in a shape we understand. */
  | "malformed-reply"
  /** This strategy has nothing to work with (no stored credentials, no config section). */
  | "not-applicable";

export interface StrategyFailure {
  readonly kind: FailureKind;
  /** Short and free of secrets: it goes to the log and the demo timeline. */
  readonly detail: string;
  /** HTTP status, CONNACK code, … when there was one. */
  readonly status?: number;
  /** The service said when to come back (Retry-After). */
  readonly retryAfterMs?: number;
}

export interface ObtainedCredentials {
  readonly mqtt: MqttCredentials;
  /** Remembered in the credential record (strategy.state) for the next boot. */
  readonly state?: Readonly<Record<string, StrategyStateValue>>;
}

export type StrategyResult =
  | { readonly ok: true; readonly credentials: ObtainedCredentials }
  | { readonly ok: false; readonly failure: StrategyFailure };

export interface OnboardingContext {
  readonly io: Io;
  readonly log: Logger;
  /** The record as it is now: identity always, credentials and strategy state when present. */
  readonly record: CredentialRecord;
  readonly nodeId: string;
  /** Wi-Fi MAC "AA:BB:CC:DD:EE:FF" (undefined before Wi-Fi has started). */
  readonly mac: string | undefined;
  /** Set when the broker refused the stored credentials: "stored" must not offer them again. */
  readonly storedRejected: boolean;
  /** The broker's last refusal and which strategy's credentials it refused. */
  readonly refusal?: { readonly strategy: string; readonly reason: string };
}

export interface Strategy {
  readonly name: string;
  obtain(ctx: OnboardingContext): Promise<StrategyResult>;
}

export const fail = (kind: FailureKind, detail: string, extra: { status?: number; retryAfterMs?: number } = {}): StrategyResult =>
  ({ ok: false, failure: { kind, detail, ...extra } });

/** The MAC as 12 upper-case hex digits, the default per-unit serial / external ID. */
/**
 * Why a MAC-based identity cannot be used: the ESP32 reads its MAC only once Wi-Fi has started,
 * and the SDK's desktop simulator has none at all; there the factory config must say
 * externalId "node-id" (the unit's own node ID, from its identity key).
 */
export const NO_MAC = 'no MAC: not readable before Wi-Fi starts, and the SDK\'s desktop simulator has none (use the node ID there: bootstrap.externalId, register.serial or shared.clientId "node-id")';

export function macDigits(mac: string | undefined): string | undefined {
  return mac?.replace(/:/g, "").toUpperCase();
}

/**
 * Credentials a reply handed us that the MQTT client could not use (U+0000 in an ID, …) are the
 * reply's fault: refused with the strategy's typed error before anything is stored (issue 14, H2).
 */
export function usableCredentials(mqtt: MqttCredentials, refuse: (message: string) => Error): MqttCredentials {
  try {
    checkMqttUsable(mqtt);
  } catch (e) {
    if (e instanceof RecordError) throw refuse(e.message);
    throw e;
  }
  return mqtt;
}
