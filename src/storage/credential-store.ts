// The device's credential store: one versioned CredentialRecord kept crash-consistently in flash.
//
// Loading takes the newest slot whose record decodes; a newer slot that is intact but not
// understood (another firmware's record, a value this firmware refuses) does not block the boot
// when the older slot decodes. Saving decodes the record about to be written first and refuses,
// typed, what it could not read back: nothing reaches flash that would leave the unit unbootable.
// A save that drops a secret the current record holds also overwrites the stale slot, so the old
// secret (Wi-Fi passphrase, MQTT password, mapping key) leaves the flash.
import type { KeyValueStorage } from "../io/io.js";
import { toHex } from "../bytes/bytes.js";
import { SlotPair } from "./slot-pair.js";
import { decodeRecord, encodeRecord, RecordError, type CredentialRecord, type MqttCredentials } from "./credential-record.js";

export type StoredRecord =
  | { readonly status: "empty" }
  /** `skipped`: a newer slot was intact but could not be decoded; this older record is used instead. */
  | { readonly status: "ok"; readonly record: CredentialRecord; readonly sequence: number; readonly skipped?: RecordError }
  /** Intact in flash (checksum good) but not understood, e.g. written by newer firmware. Kept, not overwritten by a boot. */
  | { readonly status: "unreadable"; readonly error: RecordError }
  /** Both slots present and neither intact (torn, bit-rotted, unreadable): as good as empty, but worth an error in the log. */
  | { readonly status: "corrupt"; readonly damaged: number };

export type StoreRefusalCode = "unreadable-record" | "too-large";

/** A save refused before anything was written: the record would not read back. */
export class StoreRefused extends Error {
  constructor(readonly code: StoreRefusalCode, message: string) {
    super(message);
  }
}

/** NVS blob limit on the board (nvs_set_blob); a larger value would be refused by the chip mid-save. */
export const MAX_RECORD_BYTES = 508_000 - 17;

export class CredentialStore {
  readonly #slots: SlotPair;

  constructor(storage: KeyValueStorage, name = "cred") {
    this.#slots = new SlotPair(storage, name);
  }

  load(): StoredRecord {
    const scan = this.#slots.scan();
    let newest: RecordError | undefined;
    for (const slot of scan.records) {
      try {
        const record = decodeRecord(slot.payload);
        this.#slots.adopt(slot); // the next save overwrites the other slot, whatever it holds
        return newest === undefined
          ? { status: "ok", record, sequence: slot.sequence }
          : { status: "ok", record, sequence: slot.sequence, skipped: newest };
      } catch (e) {
        if (!(e instanceof RecordError)) throw e;
        newest ??= e;
      }
    }
    if (newest !== undefined) return { status: "unreadable", error: newest };
    // One damaged slot beside an empty one is a first save cut short: nothing was lost. Both damaged is.
    return scan.damaged.length === 2 ? { status: "corrupt", damaged: 2 } : { status: "empty" };
  }

  /**
   * Replace the record. A power cut at any byte leaves the previous record or this one. Throws
   * StoreRefused, having written nothing, if the record would not decode or not fit.
   */
  save(record: CredentialRecord): void {
    const bytes = encodeRecord(record);
    try {
      decodeRecord(bytes);
    } catch (e) {
      if (e instanceof RecordError) throw new StoreRefused("unreadable-record", `record refused before writing: ${e.message}`);
      throw e;
    }
    if (bytes.length > MAX_RECORD_BYTES) throw new StoreRefused("too-large", `record of ${bytes.length} bytes exceeds the ${MAX_RECORD_BYTES}-byte limit`);
    const previous = this.#slots.load();
    let scrub = false;
    if (previous) {
      const kept = new Set(secretsOf(record));
      let old: CredentialRecord | undefined;
      try {
        old = decodeRecord(previous.payload);
      } catch {
        old = undefined; // an unusable current record: overwrite the stale slot too
      }
      scrub = old === undefined || secretsOf(old).some((secret) => !kept.has(secret));
    }
    this.#slots.save(bytes, { scrub });
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

/** Every secret a record holds, as hex, to tell which ones a save drops. */
function secretsOf(record: CredentialRecord): string[] {
  const out = [toHex(record.identity.secretKey.revealBytes())];
  const mqtt = (m: MqttCredentials | undefined) => {
    if (m?.password) out.push(toHex(m.password.revealBytes()));
    if (m?.clientKey) out.push(toHex(m.clientKey.revealBytes()));
  };
  mqtt(record.mqtt);
  mqtt(record.pending);
  if (record.wifi) out.push(toHex(record.wifi.passphrase.revealBytes()));
  if (record.user?.pending) out.push(toHex(record.user.pending.secretKey.revealBytes()));
  return out;
}
