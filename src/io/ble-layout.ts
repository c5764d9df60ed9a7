// The GATT table a BLE peripheral declares once per boot. The SDK's ESP32 GATT server
// (modules/io/ble/server/esp32/bleserver.c) keeps one server per boot (a second `new GATTServer`
// throws "only one", and close() does not release it) and registers services only before the stack
// is ready ("can't add service now"). A peripheral therefore keeps the table of its first start()
// and later windows must declare the same one; the board glue and the simulated link both check
// this with the key below, so a change of table fails on the host exactly as it would on the board.
import type { GattService } from "./io.js";

export class BleLayoutError extends Error {
  readonly code = "ble-layout";
}

/** A canonical text of everything the stack registers: UUIDs, properties, descriptor values. */
export function gattLayoutKey(services: readonly GattService[]): string {
  const hex = (bytes: Uint8Array): string => {
    let s = "";
    for (const b of bytes) s += (b < 16 ? "0" : "") + b.toString(16);
    return s;
  };
  return services
    .map((s) => `${s.uuid.toLowerCase()}{${s.characteristics
      .map((c) => `${c.uuid.toLowerCase()}[${[...c.properties].sort().join(",")}](${(c.descriptors ?? []).map((d) => `${d.uuid.toLowerCase()}=${hex(d.value)}`).join(";")})`)
      .join("|")}}`)
    .join("/");
}
