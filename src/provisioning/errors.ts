/**
 * A protocomm request that produces no response (Espressif: the handler returned an error). On
 * BLE the write fails with an ATT error; over HTTP the request gets a non-200 status.
 */
export class ProtocommError extends Error {
  override readonly name = "ProtocommError";
  constructor(readonly kind: "malformed" | "bad-state" | "wrong-pop" | "locked-out" | "unknown-endpoint" | "no-session" | "crypto" | "invalid", message: string) {
    super(message);
  }
}
