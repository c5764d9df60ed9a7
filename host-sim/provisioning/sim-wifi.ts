// Simulated Wi-Fi networks and a station implementing the core's `WifiStation` (src/io/io.ts).
// Engine-neutral: only the I/O timers. Connecting succeeds, or fails with the reasons an ESP32
// reports: wrong passphrase → auth-error, unknown SSID (or BSSID) → network-not-found.
import type { Timers, WifiConnectOptions, WifiEvent, WifiNetwork, WifiStation } from "../../src/io/io.js";
import type { WifiAuthMode } from "../../src/io/io.js";
import { utf8 } from "../../src/bytes/bytes.js";

export interface SimNetwork {
  readonly ssid: string;
  readonly passphrase: string;
  readonly auth?: WifiAuthMode;
  readonly channel?: number;
  readonly rssi?: number;
  readonly bssid?: Uint8Array;
  /** IP the DHCP server hands out. */
  readonly ip?: string;
}

export interface SimWifiOptions {
  readonly networks: readonly SimNetwork[];
  readonly timers: Timers;
  readonly scanMs?: number;
  readonly connectMs?: number;
  /** Called on start(), e.g. to make the MAC readable. */
  readonly onStart?: () => void;
}

const enc = utf8;

export class SimWifiStation implements WifiStation {
  started = false;
  connectedTo: SimNetwork | undefined;
  readonly attempts: { ssid: Uint8Array }[] = [];
  #generation = 0;
  #linkEvents: ((event: WifiEvent) => void) | undefined;
  readonly #outOfRange = new Set<string>();

  constructor(readonly options: SimWifiOptions) {}

  start(): void {
    this.started = true;
    this.options.onStart?.();
  }

  /**
   * Take an access point out of range (or bring it back): a station joined to it loses the link
   * ("disconnected", connection-lost), and it is neither scanned nor joinable until it returns.
   */
  setInRange(ssid: string, inRange: boolean): void {
    if (inRange) {
      this.#outOfRange.delete(ssid);
      return;
    }
    this.#outOfRange.add(ssid);
    const linked = this.#linkEvents;
    if (this.connectedTo?.ssid !== ssid || linked === undefined) return;
    this.connectedTo = undefined;
    this.#linkEvents = undefined;
    this.options.timers.set(() => linked({ type: "disconnected", reason: "connection-lost" }), 0);
  }

  #list(): WifiNetwork[] {
    return this.options.networks.map((n, i) => ({
      ssid: enc(n.ssid),
      bssid: n.bssid ?? Uint8Array.of(0x02, 0x00, 0x00, 0x00, 0x00, i + 1),
      channel: n.channel ?? 1 + ((i * 5) % 11),
      rssi: n.rssi ?? -40 - i * 7,
      auth: n.auth ?? (n.passphrase === "" ? "open" : "wpa2-psk"),
    }));
  }

  #inRange(): WifiNetwork[] {
    return this.#list().filter((_n, i) => !this.#outOfRange.has(this.options.networks[i]!.ssid));
  }

  scan(onResults: (networks: readonly WifiNetwork[]) => void): void {
    if (!this.started) throw new Error("Wi-Fi not started");
    this.options.timers.set(() => onResults(this.#inRange()), this.options.scanMs ?? 50);
  }

  connect(options: WifiConnectOptions, onEvent: (event: WifiEvent) => void): void {
    if (!this.started) throw new Error("Wi-Fi not started");
    const gen = ++this.#generation;
    this.connectedTo = undefined;
    this.#linkEvents = undefined;
    this.attempts.push({ ssid: options.ssid.slice() });
    const list = this.#list();
    this.options.timers.set(() => {
      if (gen !== this.#generation) return;
      onEvent({ type: "connecting" });
      this.options.timers.set(() => {
        if (gen !== this.#generation) return;
        const index = list.findIndex((n) => same(n.ssid, options.ssid) && (options.bssid === undefined || same(n.bssid, options.bssid)));
        const net = this.options.networks[index];
        if (net === undefined || this.#outOfRange.has(net.ssid)) return onEvent({ type: "disconnected", reason: "network-not-found" });
        const given = options.passphrase?.revealString() ?? "";
        if (net.passphrase !== given) return onEvent({ type: "disconnected", reason: "auth-error" });
        this.connectedTo = net;
        this.#linkEvents = onEvent;
        onEvent({ type: "connected", ip: net.ip ?? `192.168.1.${100 + index}` });
      }, this.options.connectMs ?? 100);
    }, 0);
  }

  disconnect(): void {
    this.#generation++;
    this.connectedTo = undefined;
    this.#linkEvents = undefined;
  }
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
