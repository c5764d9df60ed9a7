// The SDK's classic modules the glue uses (documentation/base, documentation/network,
// documentation/files, documentation/crypt), plus the globals a Moddable app has. Where the SDK's
// own typings are narrower than its runtime these follow the typings (see sockets.d.ts).

/** The SDK's buffer type (xs/includes/xs.d.ts): an ArrayBuffer or a view of one. */
type ByteBuffer = ArrayBufferLike | ArrayBufferView;

declare module "timer" {
  export default class Timer {
    private constructor();
    static set(callback: (timer: Timer) => void, delay?: number, repeat?: number): Timer;
    static clear(timer: Timer | undefined): void;
    private brand: boolean;
  }
}

declare module "time" {
  const Time: {
    /** Sets the system clock, in seconds since the epoch (what Date.now() then reads). */
    set(seconds: number): void;
    /** A millisecond counter since boot, unaffected by set(); 32 bits on the ESP32 (wraps). */
    readonly ticks: number;
  };
  export default Time;
}

declare module "sntp" {
  export default class SNTP {
    /** Callback messages: time (value = seconds since the epoch), retry, error. */
    static readonly time: 1;
    static readonly retry: 2;
    static readonly error: -1;
    constructor(options: { host: string }, callback: (message: number, value?: number) => unknown);
  }
}

declare module "preference" {
  /** NVS on ESP32: domain and key ≤ 15 characters; each set erases, writes and commits one key. */
  const Preference: {
    set(domain: string, key: string, value: string | boolean | number | ArrayBuffer): void;
    get(domain: string, key: string): string | boolean | number | ArrayBuffer | undefined;
    delete(domain: string, key: string): void;
    keys(domain: string): string[];
  };
  export default Preference;
}

declare module "file" {
  /**
   * The SDK's file module as its lin build implements it (modules/files/file/lin/modFile.c): opening
   * for writing does not truncate an existing file; reading an empty file throws; rename's target is
   * absolute or a name in the same folder. Only the desktop simulator's store links it.
   */
  export class File {
    constructor(path: string, write?: boolean);
    read(type: typeof ArrayBuffer, bytes?: number): ArrayBuffer;
    write(value: ArrayBuffer | string, ...moreValues: (ArrayBuffer | string)[]): void;
    close(): void;
    readonly length: number;
    position: number;
    static delete(path: string): boolean;
    static exists(path: string): boolean;
    static rename(from: string, to: string): boolean;
  }
}

declare module "net" {
  const Net: {
    /** "A4:D1:8C:DB:C0:20"; undefined until Wi-Fi is initialised on the ESP32 (the SDK's typings say string). */
    get(what: "MAC", interface_?: "station" | "ap"): string;
    get(what: "IP", interface_?: "station" | "ap"): string;
  };
  export default Net;
}

declare module "wifi" {
  /** The ESP32 also takes `channel` (1–13, xs6wifi.c); the SDK's typings do not list it. */
  export type WiFiOptions = {
    ssid: string;
    password?: string;
    /** 6 bytes. */
    bssid?: ArrayBuffer;
  };

  /**
   * At run time "disconnect" comes with a second argument: -1 = passphrase rejected (MIC failure,
   * handshake timeout), else 0. The SDK's typings declare the message only.
   */
  export type WiFiCallback = (message: "connect" | "gotIP" | "lostIP" | "disconnect" | "station_connect" | "station_disconnect") => void;

  /** At run time items also carry `channel` and `hidden`; the simulator's have no `bssid`. */
  export type WiFiScanCallback = (item: {
    ssid: string;
    authentication: string;
    rssi: number;
    bssid: ArrayBuffer;
  } | null) => void;

  export type WiFiMode = -5 | 0 | 1 | 2 | 3;
  export type ScanOptions = { hidden?: boolean; channel?: number };

  class WiFi {
    static readonly Mode: { off: -5; none: 0; station: 1; accessPoint: 2 };
    constructor(options?: WiFiOptions, callback?: WiFiCallback);
    close(): void;
    static scan(options: ScanOptions, callback: WiFiScanCallback): void;
    static mode: WiFiMode;
    static connect(options?: WiFiOptions): void;
    static disconnect(): void;
  }
  export { WiFi as default };
}

declare module "crypt" {
  export class Digest {
    constructor(algorithm: "SHA256" | "SHA384" | "SHA512");
    /** The runtime also takes typed arrays; the SDK's typings say string or ArrayBuffer. */
    write(data: string | ArrayBuffer): void;
    close(): ArrayBuffer;
  }
}

declare module "mc/config" {
  /** The manifest's "config" section (and `mcconfig … key=value` overrides), frozen. */
  const config: Readonly<Record<string, unknown>>;
  export default config;
}

/** `System` is installed as a global by the SDK's "system" module (modules/io/system). */
declare var System: {
  restart(): void;
  /** DNS lookup; `address` is undefined when the name does not resolve. */
  resolve(name: string, callback: (name: string, address?: string) => void): void;
};

/** Writes to the serial console (and xsbug in debug builds). */
declare function trace(...values: unknown[]): void;
