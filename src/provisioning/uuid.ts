// GATT UUIDs as Espressif's protocomm_ble derives them (reference §1.2).

/** protocomm's default service UUID (wifi_provisioning / network_provisioning scheme_ble.c). */
export const DEFAULT_SERVICE_UUID = "1775244d-6b43-439b-877c-060f2d9bed07";
/** The UUID RainMaker's app_network and the wifi_prov example use. */
export const RAINMAKER_SERVICE_UUID = "021a9004-0382-4aea-bff4-6b3f1c5adfb4";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The 16-byte little-endian array (as ESP-IDF stores a 128-bit UUID). */
export function uuidToLeBytes(uuid: string): Uint8Array {
  const u = uuid.toLowerCase();
  if (!UUID_RE.test(u)) throw new Error(`not a 128-bit UUID: ${uuid}`);
  const hex = u.replace(/-/g, "");
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[15 - i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function leBytesToUuid(bytes: Uint8Array): string {
  let hex = "";
  for (let i = 15; i >= 0; i--) hex += bytes[i]!.toString(16).padStart(2, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Overwrite bytes [12] and [13] of the LE service UUID with the endpoint's 16-bit ID (LE). */
export function characteristicUuid(serviceUuid: string, id16: number): string {
  const b = uuidToLeBytes(serviceUuid);
  b[12] = id16 & 0xff;
  b[13] = (id16 >> 8) & 0xff;
  return leBytesToUuid(b);
}

/** The endpoint ID a characteristic UUID carries (bytes [12..13]). */
export function endpointIdOf(characteristic: string): number {
  const b = uuidToLeBytes(characteristic);
  return b[12]! | (b[13]! << 8);
}
