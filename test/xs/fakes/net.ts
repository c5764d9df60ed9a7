// Fake "net". Mirrors modules/network/net/esp/modNet.c (xs_net_get, getNIF): with an interface
// name, an address only when Wi-Fi runs in a mode that has it (station: mode 1 or 3), else
// undefined — so the MAC is undefined until Wi-Fi has been initialised; the MAC is formatted by
// twoHex(), upper case ("A4:D1:…"). Other properties are not faked (the SDK answers them; the glue
// does not ask, and a question here should fail the check rather than pass with a made-up value).
import { world } from "./world.js";

const Net = {
  // undefined before Wi-Fi starts, as on the ESP32; typed as the SDK's typings say
  get(what: "MAC" | "IP", _interface?: "station" | "ap"): string {
    if (world.wifiMode !== 1 && world.wifiMode !== 3) return undefined as unknown as string;
    if (what === "MAC") return world.mac.toUpperCase();
    if (what === "IP") return world.ip;
    throw new Error(`Net.get: ${String(what)} not faked`);
  },
};
export default Net;
