// Some brokers let a disabled device connect but drop it when it publishes (Magistrala's MQTT
// adapter; aedes when authorizePublish fails). MQTT 3.1.1 has no way to say "refused" there, so
// the sign is a pattern: the broker closes the connection shortly after our publish, in a session
// that never got a PUBACK, several sessions in a row. Sans-I/O: the device reports what happens,
// with the time, and asks for the verdict when a session ends.

export interface PublishRefusalPolicy {
  /** Sessions in a row ended that way before the credentials count as refused (default 3). */
  readonly strikes?: number;
  /** How soon after our publish the close must come to count (default 5 s). */
  readonly windowMs?: number;
}

export type SessionVerdict =
  | { readonly kind: "ignored" }
  | { readonly kind: "strike"; readonly strikes: number; readonly of: number; readonly sincePublishMs: number }
  | { readonly kind: "refused"; readonly strikes: number; readonly of: number; readonly sincePublishMs: number };

export class PublishRefusalWatch {
  readonly #strikesNeeded: number;
  readonly #windowMs: number;
  #strikes = 0;
  #online = false;
  #acked = false;
  #lastPublishAt = 0;

  constructor(policy: PublishRefusalPolicy = {}) {
    this.#strikesNeeded = policy.strikes ?? 3;
    this.#windowMs = policy.windowMs ?? 5_000;
  }

  /** The session has had a PUBACK: the broker takes our publishes. */
  get acknowledged(): boolean { return this.#acked; }

  /** CONNACK 0; the outbox is resent right now, which counts as publishing. */
  sessionOnline(now: number): void {
    this.#online = true;
    this.#acked = false;
    this.#lastPublishAt = now;
  }

  /** A new connection is being made (nothing to judge until it is online). */
  connecting(): void {
    this.#online = false;
  }

  published(now: number): void {
    if (this.#online) this.#lastPublishAt = now;
  }

  /** A PUBACK: the row of strikes is broken. */
  acknowledge(): void {
    this.#acked = true;
    this.#strikes = 0;
  }

  /** Start counting afresh (new credentials, factory reset). */
  reset(): void {
    this.#strikes = 0;
  }

  /**
   * The session ended: `reason` as the MQTT client gives it ("transport" for a dropped connection),
   * `unacknowledged` = QoS 1 messages still waiting for their PUBACK.
   */
  sessionEnded(reason: string, now: number, unacknowledged: number): SessionVerdict {
    const wasOnline = this.#online;
    this.#online = false;
    if (!wasOnline || reason === "stopped") return { kind: "ignored" };
    const sincePublishMs = now - this.#lastPublishAt;
    if (reason !== "transport" || this.#acked || unacknowledged === 0 || sincePublishMs > this.#windowMs) {
      this.#strikes = 0; // something else ended the session: the row is broken
      return { kind: "ignored" };
    }
    if (++this.#strikes < this.#strikesNeeded) return { kind: "strike", strikes: this.#strikes, of: this.#strikesNeeded, sincePublishMs };
    const strikes = this.#strikes;
    this.#strikes = 0;
    return { kind: "refused", strikes, of: this.#strikesNeeded, sincePublishMs };
  }
}
