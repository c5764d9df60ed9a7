// Device facts for the I/O object: the Wi-Fi MAC and restart.
//
// Board truth: `Net.get("MAC")` is undefined until Wi-Fi has been initialised, so a core that
// reads the MAC at boot, before starting Wi-Fi, must cope with `undefined`. The simulator starts
// with the MAC unreadable when asked to (`macAvailable: false`) and reveals it on `startWifi()`.
import type { DeviceInfo } from "../../src/io/io.js";
import type { RandomSource } from "./random.js";

export interface SimDeviceInfoOptions {
  /** "AA:BB:CC:DD:EE:FF" (any case); default: Espressif's OUI 24:0A:C4 + 3 bytes from `random`. */
  readonly mac?: string;
  /** Whether the MAC is readable before `startWifi()`. Default true. */
  readonly macAvailable?: boolean;
  /** Called by `restart()`; the simulator ends or re-creates this device there. */
  readonly onRestart?: () => void;
}

const MAC_PATTERN = /^[0-9A-F]{2}(:[0-9A-F]{2}){5}$/;
const ESPRESSIF_OUI = [0x24, 0x0a, 0xc4];

export class SimDeviceInfo implements DeviceInfo {
  readonly #mac: string;
  readonly #onRestart: (() => void) | undefined;
  #macAvailable: boolean;
  #restarts = 0;

  constructor(options: SimDeviceInfoOptions, random: RandomSource) {
    this.#mac = options.mac === undefined ? randomMac(random) : normaliseMac(options.mac);
    this.#macAvailable = options.macAvailable ?? true;
    this.#onRestart = options.onRestart;
  }

  mac(): string | undefined {
    return this.#macAvailable ? this.#mac : undefined;
  }

  restart(): void {
    this.#restarts++;
    this.#onRestart?.();
  }

  /** Wi-Fi has started: from now on the MAC is readable. */
  startWifi(): void {
    this.#macAvailable = true;
  }

  /** The MAC whether or not Wi-Fi has started (for the simulator's own bookkeeping). */
  get assignedMac(): string {
    return this.#mac;
  }

  /** How many times the core asked for a restart. */
  get restartCount(): number {
    return this.#restarts;
  }
}

function normaliseMac(mac: string): string {
  const upper = mac.toUpperCase();
  if (!MAC_PATTERN.test(upper)) throw new RangeError(`MAC must look like "AA:BB:CC:DD:EE:FF", got "${mac}"`);
  return upper;
}

function randomMac(random: RandomSource): string {
  const tail = new Uint8Array(3);
  random(tail);
  return [...ESPRESSIF_OUI, ...tail].map((b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":");
}
