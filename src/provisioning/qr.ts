// The QR payload Espressif's apps scan (reference §4.3).
import type { SecurityVersion } from "./security.js";

export interface QrPayloadOptions {
  readonly name: string;
  readonly pop?: string;
  readonly transport: "ble" | "softap";
  readonly security?: SecurityVersion;
  /** Security 2 username (the apps default to "wifiprov"). */
  readonly username?: string;
}

/** `{"ver":"v1","name":…,"pop":…,"transport":"ble"}`, plus `username` for Sec2 and `security` when not 2. */
export function qrPayload(o: QrPayloadOptions): string {
  const out: Record<string, string | number> = { ver: "v1", name: o.name };
  if (o.pop !== undefined && o.pop.length > 0) out.pop = o.pop;
  out.transport = o.transport;
  if (o.security === 2 && o.username !== undefined) out.username = o.username;
  if (o.security !== undefined && o.security !== 2) out.security = o.security;
  return JSON.stringify(out);
}
