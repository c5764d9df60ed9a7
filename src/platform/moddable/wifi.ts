// Wi-Fi station on the SDK's "wifi" module. Chosen over the ECMA-419 embedded:network/interface/wifi
// because the provisioning protocol must tell a wrong passphrase from an absent network: only the
// "wifi" module reports why a connection failed (-1 = passphrase rejected: MIC failure or handshake
// timeout, xs6wifi.c), and it also exists in the desktop simulator (a timer-driven fake there).
// Its API takes the SSID as a string, so an SSID that is not UTF-8 cannot be joined.
import WiFi from "wifi";
import type { WiFiOptions } from "wifi";
import Net from "net";
import Timer from "timer";
import type { WifiAuthMode, WifiConnectOptions, WifiEvent, WifiNetwork, WifiStation } from "../../io/io.js";
import { fromUtf8, utf8 } from "../../bytes/bytes.js";
import { toArrayBuffer } from "./pem.js";
import { clockIsSet, syncClock } from "./clock.js";
import { BoardTimers } from "./timers.js";
import { ClockSync } from "../../time/clock-sync.js";

const AUTH_MODES: Readonly<Record<string, WifiAuthMode>> = Object.freeze({
  none: "open",
  wep: "wep",
  wpa_psk: "wpa-psk",
  wpa2_psk: "wpa2-psk",
  wpa_wpa2_psk: "wpa-wpa2-psk",
  wpa2_enterprise: "wpa2-enterprise",
  wpa3_psk: "wpa3-psk",
  wpa2_wpa3_psk: "wpa2-wpa3-psk",
});

/** A scan result as the ESP32 code builds it (xs6wifi.c); the SDK's typings omit channel and hidden. */
export interface ScanItem {
  readonly ssid: string;
  readonly authentication?: string;
  readonly rssi: number;
  readonly channel: number;
  /** Absent in the desktop simulator's fake access points. */
  readonly bssid?: ArrayBuffer;
}

export function networkFromScan(item: ScanItem): WifiNetwork {
  return {
    ssid: utf8(item.ssid),
    bssid: bssidBytes(item.bssid),
    channel: item.channel,
    rssi: item.rssi,
    // The ESP32 driver folds every mode newer than WPA/WPA2 into "wpa_wpa2_psk"; an unknown or
    // missing one is reported as protected so the phone asks for a passphrase.
    auth: AUTH_MODES[item.authentication ?? ""] ?? "wpa2-psk",
  };
}

function bssidBytes(bssid: ArrayBuffer | undefined): Uint8Array {
  if (bssid instanceof ArrayBuffer && bssid.byteLength === 6) return new Uint8Array(bssid.slice(0));
  return new Uint8Array(6); // the simulator's access points have none
}

export class BoardWifi implements WifiStation {
  readonly #clock: ClockSync | undefined;
  #station: WiFi | undefined;
  #scanning = false;

  /**
   * `sntpHost`: where to get the time after joining while the clock is unset (TLS needs it);
   * attempts repeat with back-off until the clock is set, across joins (src/time/clock-sync.ts).
   */
  constructor(sntpHost?: string) {
    this.#clock = sntpHost === undefined ? undefined : new ClockSync(new BoardTimers(), clockIsSet, (done) => syncClock(sntpHost, done));
  }

  /** The SNTP schedule (for checks). */
  get clockSync(): ClockSync | undefined {
    return this.#clock;
  }

  start(): void {
    if (WiFi.mode !== WiFi.Mode.station) WiFi.mode = WiFi.Mode.station;
  }

  scan(onResults: (networks: readonly WifiNetwork[]) => void): void {
    if (this.#scanning) return; // the driver allows one scan at a time; the running one will answer
    this.start();
    this.#scanning = true;
    const found: WifiNetwork[] = [];
    WiFi.scan({}, (item) => {
      if (item === null || item === undefined) { // the simulator ends with undefined, the ESP32 with null
        this.#scanning = false;
        onResults(found);
      } else {
        found.push(networkFromScan(item as unknown as ScanItem));
      }
    });
  }

  connect(options: WifiConnectOptions, onEvent: (event: WifiEvent) => void): void {
    this.disconnect();
    let ssid: string;
    try {
      ssid = fromUtf8(options.ssid);
    } catch {
      // The SDK cannot express this SSID; to the phone it is a network we cannot find.
      Timer.set(() => onEvent({ type: "disconnected", reason: "network-not-found" }), 0);
      return;
    }
    let associated = false;
    Timer.set(() => { if (this.#station === station) onEvent({ type: "connecting" }); }, 0);
    // `channel` is honoured by the ESP32 code though the SDK's typings do not list it
    const settings: WiFiOptions & { channel?: number } = {
      ssid,
      ...(options.passphrase !== undefined ? { password: options.passphrase.revealString() } : {}),
      ...(options.bssid !== undefined ? { bssid: toArrayBuffer(options.bssid) } : {}),
      ...(options.channel !== undefined ? { channel: options.channel } : {}),
    };
    // "disconnect" carries a reason as a second argument at run time (not in the SDK's typings)
    const station: WiFi = new WiFi(settings, (message: string, reason?: number) => {
      if (this.#station !== station) return; // a later connect() or disconnect() replaced it
      if (message === "connect") {
        associated = true;
      } else if (message === "gotIP") {
        const up = () => { if (this.#station === station) onEvent({ type: "connected", ip: Net.get("IP", "station") ?? "" }); };
        // "connected" is reported once TLS can work: with the time set, or after the first attempt
        // failed (retries then go on in the background with back-off until the clock is set).
        if (this.#clock === undefined) up();
        else this.#clock.kick(up);
      } else if (message === "disconnect") {
        const failure = reason === -1 ? "auth-error" : associated ? "connection-lost" : "network-not-found";
        associated = false;
        onEvent({ type: "disconnected", reason: failure });
      }
    });
    this.#station = station;
  }

  disconnect(): void {
    const station = this.#station;
    this.#station = undefined;
    if (station === undefined) return;
    station.close();
    WiFi.disconnect();
  }
}
