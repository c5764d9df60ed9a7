// The device's credential store: one versioned CredentialRecord kept crash-consistently in flash.
import type { KeyValueStorage } from "../io/io.js";
import { SlotPair } from "./slot-pair.js";
import { decodeRecord, encodeRecord, RecordError, type CredentialRecord } from "./credential-record.js";

export type StoredRecord =
  | { readonly status: "empty" }
  | { readonly status: "ok"; readonly record: CredentialRecord; readonly sequence: number }
  /** Intact in flash (checksum good) but not understood, e.g. written by newer firmware. Kept, not overwritten by a boot. */
  | { readonly status: "unreadable"; readonly error: RecordError };

export class CredentialStore {
  readonly #slots: SlotPair;

  constructor(storage: KeyValueStorage, name = "cred") {
    this.#slots = new SlotPair(storage, name);
  }

  load(): StoredRecord {
    const slot = this.#slots.load();
    if (!slot) return { status: "empty" };
    try {
      return { status: "ok", record: decodeRecord(slot.payload), sequence: slot.sequence };
    } catch (e) {
      if (e instanceof RecordError) return { status: "unreadable", error: e };
      throw e;
    }
  }

  /** Replace the record. A power cut at any byte leaves the previous record or this one. */
  save(record: CredentialRecord): void {
    this.#slots.save(encodeRecord(record));
  }

  // Rotation: three single-record saves, so each step is as crash-safe as any save. Whatever
  // step the power dies in, the record holds a known-good `mqtt` and at most a `pending` to try.

  /** Keep the known-good credentials and remember `pending` to try next. */
  beginRotation(record: CredentialRecord, pending: CredentialRecord["mqtt"] & object): CredentialRecord {
    const next: CredentialRecord = { ...record, pending };
    this.save(next);
    return next;
  }

  /** The broker accepted the pending credentials: they become the known-good ones. */
  commitRotation(record: CredentialRecord): CredentialRecord {
    if (!record.pending) return record;
    const { pending, ...rest } = record;
    const next: CredentialRecord = { ...rest, mqtt: pending };
    this.save(next);
    return next;
  }

  /** The broker refused the pending credentials: forget them, keep the known-good ones. */
  rollbackRotation(record: CredentialRecord): CredentialRecord {
    if (!record.pending) return record;
    const { pending: _dropped, ...rest } = record;
    this.save(rest);
    return rest;
  }

  /**
   * Factory reset: forget the cloud credentials and the strategy state. The identity key is kept,
   * because the cloud knows the node by it (user-node mapping verifies signatures against it);
   * `{ identity: true }` also destroys the identity (decommissioning), leaving the flash empty.
   */
  factoryReset(options: { identity?: boolean } = {}): void {
    const current = this.load();
    if (options.identity || current.status !== "ok") {
      this.#slots.erase();
      return;
    }
    this.save({ version: current.record.version, identity: current.record.identity });
  }
}
