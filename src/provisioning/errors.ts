/**
 * A protocomm request that produces no response (Espressif: the handler returned an error). On
 * BLE the read that follows the write fails with ATT Invalid Offset (the SDK acknowledges every
 * write: src/provisioning/gatt.ts); over HTTP the request gets a non-200 status.
 */
export class ProtocommError extends Error {
  override readonly name = "ProtocommError";
  /** The same as `kind`, under the name every typed error of the firmware uses. */
  readonly code: ProtocommErrorKind;
  constructor(readonly kind: ProtocommErrorKind, message: string) {
    super(message);
    this.code = kind;
  }
}

/** `closed`: the window was closed or provisioning succeeded; nothing is served any more. */
export type ProtocommErrorKind = "malformed" | "bad-state" | "wrong-pop" | "locked-out" | "unknown-endpoint" | "no-session" | "crypto" | "invalid" | "closed";
