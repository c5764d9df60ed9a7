// Fake of the SDK's "wifi" module as it runs on the ESP32. Mirrors modules/network/wifi/esp32/wifi.js
// + xs6wifi.c: ssid required and ≤ 32 bytes, password ≤ 64, bssid an ArrayBuffer of 6 bytes,
// channel 1–13; `mode` reads -5 (off) until Wi-Fi is initialised (gWiFiState starts at -2); connect
// and scan initialise it in station mode; a second scan while one runs → "already scanning"; scan
// items carry ssid, rssi, channel, hidden (false), bssid (ArrayBuffer) and authentication, then
// null; "disconnect" carries -1 when the passphrase was rejected. The test drives events.
import { addTimer, onReset, world } from "./world.js";

type Message = "connect" | "gotIP" | "lostIP" | "disconnect" | "station_connect" | "station_disconnect";
type Callback = (message: Message, reason?: number) => void;

export interface ScanItem { ssid: string; authentication?: string; rssi: number; channel: number; bssid?: ArrayBuffer; hidden?: boolean }

export const radio = {
  instances: [] as WiFi[],
  lastOptions: undefined as Record<string, unknown> | undefined,
  scanResults: [] as ScanItem[],
  scans: 0,
  scanning: false,
  /** Deliver an event to every open instance, as the SDK broadcasts. */
  emit(message: Message, reason?: number): void {
    for (const w of radio.instances.filter((i) => !i.closed)) w.callback(message, reason);
  },
};

onReset.push(() => { radio.scanning = false; });

const utf8Length = (s: string) => {
  let n = 0;
  for (const ch of s) { const c = ch.codePointAt(0)!; n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4; }
  return n;
};

export default class WiFi {
  readonly callback: Callback;
  closed = false;

  constructor(options?: object, callback?: Callback) {
    this.callback = callback ?? (() => undefined);
    if (options) WiFi.connect(options);
    radio.instances.push(this);
  }
  close(): void { this.closed = true; }

  static get mode(): -5 | 0 | 1 | 2 | 3 { return world.wifiMode as -5 | 0 | 1 | 2 | 3; }
  static set mode(value: -5 | 0 | 1 | 2 | 3) {
    if (value !== -5 && value !== 0 && value !== 1 && value !== 2 && value !== 3) throw new Error("invalid wi-fi mode");
    world.wifiMode = value;
  }
  static readonly Mode = Object.freeze({ off: -5 as const, none: 0 as const, station: 1 as const, accessPoint: 2 as const });

  static connect(anyOptions?: object): void {
    if (world.wifiMode <= 0) world.wifiMode = 1; // initWiFi(WIFI_MODE_STA)
    if (!anyOptions) { radio.lastOptions = undefined; return; }
    const options = anyOptions as Record<string, unknown>;
    if (typeof options.ssid !== "string" || options.ssid === "") throw new Error("ssid required");
    if (utf8Length(options.ssid) > 32) throw new Error("ssid too long - 32 bytes max");
    if (options.password !== undefined && (typeof options.password !== "string" || utf8Length(options.password) > 64)) throw new Error("password too long - 64 bytes max");
    if (options.bssid !== undefined && (!(options.bssid instanceof ArrayBuffer) || options.bssid.byteLength !== 6)) throw new Error("bssid must be 6 bytes");
    if (options.channel !== undefined && (typeof options.channel !== "number" || options.channel < 1 || options.channel > 13)) throw new Error("invalid channel");
    radio.lastOptions = { ...options };
  }
  static disconnect(): void { WiFi.connect(); }

  /** Items as the ESP32 builds them (plus channel); the simulator's lack bssid: the callback type follows the SDK's typings. */
  static scan(_options: object, callback: (item: { ssid: string; authentication: string; rssi: number; bssid: ArrayBuffer } | null) => void): void {
    if (world.wifiMode === -5) world.wifiMode = 1; // initWiFi(WIFI_MODE_STA)
    else if (world.wifiMode === 0) throw new Error("scan request failed"); // esp_wifi_scan_start in WIFI_MODE_NULL
    if (radio.scanning) throw new Error("already scanning");
    radio.scanning = true;
    radio.scans++;
    const items = radio.scanResults.slice();
    addTimer(() => {
      radio.scanning = false;
      // each item's callback runs in xsTry/xsCatch (an exception skips the item); the final null does not
      for (const item of items) {
        try {
          callback({ hidden: false, bssid: new ArrayBuffer(6), ...item } as unknown as { ssid: string; authentication: string; rssi: number; bssid: ArrayBuffer });
        } catch { /* xsCatch {} */ }
      }
      callback(null);
    }, 1500, 0);
  }
}
