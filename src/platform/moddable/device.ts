// MAC and restart. The station MAC is only readable once Wi-Fi is initialised (ESP32 truth:
// Net.get("MAC") is undefined before); the SDK reports it as "a4:d1:…" or "A4:D1:…". The SDK's
// desktop simulator has no MAC at all (modNet.c answers only "IP"): identify units there by
// node ID (factory config externalId "node-id").
//
// Restart: System.restart() is esp_restart() on the ESP32; on the desktop simulator it loops
// forever (system.c has no restart for it), so the build says whether it may be called.
import Net from "net";
import type { DeviceInfo } from "../../io/io.js";
import { BoardError } from "./errors.js";

export function boardDevice(canRestart: boolean): DeviceInfo {
  return Object.freeze({
    mac(): string | undefined {
      const mac = Net.get("MAC", "station");
      return typeof mac === "string" && /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/.test(mac) ? mac.toUpperCase() : undefined;
    },
    restart(): void {
      if (!canRestart) throw new BoardError("restart-unavailable", "this runtime cannot restart (the SDK's desktop simulator has no System.restart)");
      System.restart();
    },
  });
}
