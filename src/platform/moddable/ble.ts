// The BLE GATT peripheral on the SDK's ECMA-419 GATT server (embedded:io/bluetoothle/peripheral,
// NimBLE on the ESP32). This API rather than the older BLEServer because it declares services at
// run time with descriptors (the 0x2901 user descriptions the provisioning apps read) and hands
// over long (prepared) writes whole; BLEServer truncates writes longer than one buffer.
//
// What the SDK does at run time (modules/io/ble/server/esp32/bleserver.js + bleserver.c, 8.2.3),
// which this glue is built around:
//   - one server per boot: `new GATTServer` throws "only one" once a server exists, and close()
//     frees the JavaScript side without releasing it (nor NimBLE's registered services). So the
//     server is made at the first start() and kept; a window opens and closes advertising and the
//     connection on it; later windows must declare the same table (src/io/ble-layout.ts);
//   - advertising data is built by `convert()` in bleserver.js: `flags` is the AD flags byte as
//     given. The ESP32 GATTServer has no static `advertise` (only the SDK's typings declare it);
//   - every callback runs inside xsBeginHost/xsEndHost: an exception escaping it is fxAbort, i.e.
//     esp_restart() on the board, a boot loop while the unit waits to be provisioned. Every
//     callback here is guarded, including the logging in its catch;
//   - a write is always acknowledged (writeCharacteristic sets `failed = 0` after the callback;
//     the only other outcome is the abort): no ATT error can be returned from JavaScript;
//   - reads: NimBLE calls onRead for the Read Request and again for each Read Blob and serves
//     the offset from the full value returned; a value shorter than the offset fails the request
//     with ATT Invalid Offset (NimBLE ble_gatts_val_access);
//   - deliverConnect calls onConnect, then re-enables advertising (ensureAdvertising) unless
//     stopAdvertising() was called: the glue stops it in onConnect so that a second phone cannot
//     take over; a second connection that arrives anyway (an sdkconfig with more than one
//     connection) is closed at once. Only the newest connection is ever closed while another
//     exists: the SDK's close() unlinks a non-head connection wrongly (it walks to the list's end);
//   - connection.close() unlinks the record, so no onDisconnect follows for it: the glue reports
//     the end of a link it closed itself to the core; ensureAdvertising ignores NimBLE's errors
//     (e.g. while the closed link still holds the only connection slot), so while a window is
//     open with no central the glue asserts advertising again every ADVERTISING_WATCHDOG_MS;
//   - the SDK requires onRead exactly when "read" is set and onWrite exactly when "write" is,
//     and rejects an empty descriptor list.
import { GATTServer } from "embedded:io/bluetoothle/peripheral";
import type { BleConnection, BlePeripheral, BlePeripheralOptions, GattCharacteristic, GattService, TimerId, Timers } from "../../io/io.js";
import { BleLayoutError, gattLayoutKey } from "../../io/ble-layout.js";
import type { Logger } from "../../log/logger.js";
import { BoardError } from "./errors.js";
import { toArrayBuffer } from "./pem.js";

// The SDK's typings export only the class: take the option types from its constructor.
type ServerOptions = ConstructorParameters<typeof GATTServer>[0];
type GATTServerService = ServerOptions["services"][number];
type GATTServerCharacteristic = NonNullable<GATTServerService["characteristics"]>[number];
type GATTServerConnection = Parameters<NonNullable<ServerOptions["onConnect"]>>[0];

/** ATT MTU − 3. The SDK's typings spell the getter `maxinumWrite`; the object has `maximumWrite`. */
function maximumWrite(raw: GATTServerConnection): number {
  return (raw as unknown as { readonly maximumWrite: number }).maximumWrite;
}

/** What the device asks for in the MTU exchange (NimBLE's default preference on ESP32 is 256). */
export const PREFERRED_MTU = 512;

/** AD flags byte: LE General Discoverable Mode (0x02) | BR/EDR Not Supported (0x04), as Espressif's devices advertise. */
export const ADVERTISING_FLAGS = 0x06;

/** While a window is open and no central is connected, advertising is asserted again this often. */
export const ADVERTISING_WATCHDOG_MS = 10_000;

interface Central {
  readonly raw: GATTServerConnection;
  readonly connection: BleConnection;
}

export class BoardBle implements BlePeripheral {
  readonly #log: Logger;
  readonly #timers: Timers;
  #server: GATTServer | undefined;
  /** The table the server was built with; undefined until the first start(). */
  #layout: string | undefined;
  /** The SDK burns its one server even when its constructor throws after "only one" was armed. */
  #broken = false;
  #ready = false;
  /** The open window; undefined while closed (callbacks then answer nothing). */
  #options: BlePeripheralOptions | undefined;
  readonly #characteristics = new Map<string, GattCharacteristic>();
  #central: Central | undefined;
  #watchdog: TimerId | undefined;
  #nextId = 1;

  constructor(log: Logger, timers: Timers) {
    this.#log = log;
    this.#timers = timers;
  }

  start(options: BlePeripheralOptions): void {
    const layout = gattLayoutKey(options.services);
    if (this.#broken) throw new BoardError("ble-unavailable", "the GATT server could not be built at the first window; the SDK allows no second one until reboot");
    if (this.#layout !== undefined && layout !== this.#layout) {
      throw new BleLayoutError("a window declared a GATT table different from the first window's; the SDK registers services once per boot");
    }
    this.stop();
    this.#options = options;
    for (const s of options.services) for (const c of s.characteristics) this.#characteristics.set(c.uuid.toLowerCase(), c);
    if (this.#server === undefined) {
      try {
        this.#server = this.#create(options.services);
        this.#layout = layout;
      } catch (e) {
        this.#broken = true;
        this.#options = undefined;
        this.#characteristics.clear();
        throw e;
      }
    } else if (this.#ready) {
      this.#advertise();
    }
    this.#armWatchdog();
  }

  stop(): void {
    const options = this.#options;
    this.#options = undefined;
    this.#characteristics.clear();
    if (this.#watchdog !== undefined) this.#timers.clear(this.#watchdog);
    this.#watchdog = undefined;
    const server = this.#server;
    if (server !== undefined && this.#ready) this.#guard("stopAdvertising", () => server.stopAdvertising());
    const central = this.#central;
    this.#central = undefined;
    if (central !== undefined) {
      this.#guard("close", () => central.raw.close());
      this.#say("info", "ble-disconnected", { connection: central.connection.id, by: "device" });
      if (options !== undefined) this.#guard("onDisconnect", () => options.onDisconnect?.(central.connection));
    }
  }

  #create(services: readonly GattService[]): GATTServer {
    return new GATTServer({
      mtu: PREFERRED_MTU,
      services: services.map((s) => ({ uuid: s.uuid, characteristics: s.characteristics.map((c) => this.#characteristic(c)) })),
      onReady: () => this.#guard("onReady", () => {
        this.#ready = true;
        if (this.#options !== undefined) this.#advertise();
      }),
      onConnect: (raw) => this.#guard("onConnect", () => this.#connected(raw)),
      onDisconnect: (raw) => this.#guard("onDisconnect", () => this.#disconnected(raw)),
      onWarning: (message) => this.#guard("onWarning", () => this.#say("warn", "ble-warning", { message: String(message) })),
    });
  }

  #connected(raw: GATTServerConnection): void {
    const options = this.#options;
    if (options === undefined || this.#central !== undefined) {
      // a second phone (or one arriving as the window closed): refused; it is the newest
      // connection, the only one the SDK's close() unlinks correctly
      raw.close();
      this.#say("warn", "ble-refused", { reason: options === undefined ? "window closed" : "another central is connected" });
      return;
    }
    // NimBLE stopped advertising for this connection; without this the SDK would restart it
    // right after this callback and a second phone could connect.
    const server = this.#server;
    if (server !== undefined) this.#guard("stopAdvertising", () => server.stopAdvertising());
    let mtu = 23;
    const connection: BleConnection = {
      id: this.#nextId++,
      get mtu() {
        try { mtu = maximumWrite(raw) + 3; } catch { /* the link is gone: keep the last value */ }
        return mtu;
      },
    };
    this.#central = { raw, connection };
    this.#say("info", "ble-connected", { connection: connection.id });
    this.#guard("core onConnect", () => options.onConnect?.(connection));
  }

  #disconnected(raw: GATTServerConnection): void {
    const central = this.#central;
    if (central === undefined || central.raw !== raw) return;
    this.#central = undefined;
    this.#say("info", "ble-disconnected", { connection: central.connection.id, by: "central" });
    const options = this.#options;
    if (options === undefined) return;
    this.#guard("core onDisconnect", () => options.onDisconnect?.(central.connection));
    if (this.#options === options) this.#advertise(); // the window is still open: be findable again
  }

  #advertise(): void {
    const server = this.#server;
    const options = this.#options;
    if (server === undefined || options === undefined || !this.#ready) return;
    // 31 bytes: flags (3) + one 128-bit UUID (18) fit; the name goes in the scan response.
    this.#guard("startAdvertising", () => server.startAdvertising(
      { flags: ADVERTISING_FLAGS, services: [options.advertisedService] },
      { name: options.deviceName },
    ));
  }

  #armWatchdog(): void {
    this.#watchdog = this.#timers.set(() => {
      this.#watchdog = undefined;
      this.#guard("advertising watchdog", () => {
        if (this.#options === undefined) return;
        if (this.#central === undefined) this.#advertise();
        this.#armWatchdog();
      });
    }, ADVERTISING_WATCHDOG_MS);
  }

  #characteristic(c: GattCharacteristic): GATTServerCharacteristic {
    const uuid = c.uuid.toLowerCase();
    const read = c.properties.includes("read");
    const write = c.properties.includes("write");
    const out: GATTServerCharacteristic = {
      uuid: c.uuid,
      properties: (read ? GATTServer.properties.read : 0) | (write ? GATTServer.properties.write : 0),
    };
    if (c.descriptors && c.descriptors.length > 0) {
      out.descriptors = c.descriptors.map((d) => ({ uuid: d.uuid, value: toArrayBuffer(d.value) }));
    }
    // The SDK keeps these closures for the unit's life; they reach the open window's handlers.
    if (read) {
      out.onRead = (raw) => {
        let value: ArrayBuffer = new ArrayBuffer(0);
        this.#guard(`read ${uuid}`, () => {
          const central = this.#central;
          if (central === undefined || central.raw !== raw) return;
          const answer = this.#characteristics.get(uuid)?.onRead?.(central.connection);
          if (answer !== undefined) value = toArrayBuffer(answer);
        });
        return value;
      };
    }
    if (write) {
      out.onWrite = (value, raw) => {
        this.#guard(`write ${uuid}`, () => {
          const central = this.#central;
          if (central === undefined || central.raw !== raw) return;
          this.#characteristics.get(uuid)?.onWrite?.(central.connection, new Uint8Array(value));
        });
      };
    }
    return out;
  }

  #guard(what: string, run: () => void): void {
    try {
      run();
    } catch (e) {
      this.#say("error", "ble-callback-failed", { what, error: e instanceof Error ? e.message : "unknown" });
    }
  }

  /** Logging that cannot throw: a failing log sink must neither reach the SDK nor cut a callback short. */
  #say(level: "info" | "warn" | "error", event: string, fields: Record<string, string | number>): void {
    try {
      this.#log[level](event, fields);
    } catch { /* nothing left to tell it to */ }
  }
}

export function createBle(log: Logger, timers: Timers): BlePeripheral | undefined {
  return new BoardBle(log, timers);
}
