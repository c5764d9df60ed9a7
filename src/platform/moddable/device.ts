// MAC and restart. The station MAC is only readable once Wi-Fi is initialised (ESP32 truth:
// Net.get("MAC") is undefined before); the SDK reports it as "a4:d1:…" or "A4:D1:…".
import Net from "net";
import type { DeviceInfo } from "../../io/io.js";

export const boardDevice: DeviceInfo = Object.freeze({
  mac(): string | undefined {
    const mac = Net.get("MAC", "station");
    return typeof mac === "string" && /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/.test(mac) ? mac.toUpperCase() : undefined;
  },
  restart(): void {
    System.restart();
  },
});
