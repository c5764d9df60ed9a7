// Fake "net": like the ESP32, the MAC is undefined until Wi-Fi has been initialised.
import { world } from "./world.js";

const Net = {
  // undefined before Wi-Fi starts, as on the ESP32; typed as the SDK's typings say
  get(what: "MAC" | "IP", _interface?: "station" | "ap"): string {
    if (world.wifiMode === 0) return undefined as unknown as string;
    if (what === "MAC") return world.mac;
    if (what === "IP") return world.ip;
    throw new Error(`Net.get: ${String(what)} not faked`);
  },
};
export default Net;
