// The BLE GATT peripheral on the SDK's ECMA-419 GATT server (embedded:io/bluetoothle/peripheral,
// NimBLE on the ESP32). This API rather than the older BLEServer because it declares services at
// run time with descriptors (the 0x2901 user descriptions the provisioning apps read) and hands
// over long (prepared) writes whole; BLEServer truncates writes longer than one buffer.
//
// Stack facts this adapter relies on or guards against (modules/io/ble/server/esp32/bleserver.c):
//   - reads: NimBLE calls onRead for every read and read-blob and serves the offset from the
//     full value returned, so a long response is read in pieces from one stable value;
//   - values are limited to 512 bytes by ATT (a long write or read beyond that fails in the stack);
//   - an exception escaping onRead or onWrite reaches the C callback's xsBeginHost/xsEndHost, which
//     aborts the machine (fxAbort: unhandled exception) while the NimBLE task waits for it: the
//     callbacks here never throw. There is therefore no way to answer a write with an ATT error:
//     a request the core rejects is acknowledged, and the next read returns what the core gives;
//   - the SDK requires onRead exactly when "read" is set and onWrite exactly when "write" is,
//     and rejects an empty descriptor list.
import { GATTServer } from "embedded:io/bluetoothle/peripheral";
import type { BleConnection, BlePeripheral, BlePeripheralOptions, GattCharacteristic, GattService } from "../../io/io.js";
import type { Logger } from "../../log/logger.js";
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

export class BoardBle implements BlePeripheral {
  readonly #log: Logger;
  #server: GATTServer | undefined;
  #options: BlePeripheralOptions | undefined;
  readonly #connections = new Map<GATTServerConnection, BleConnection>();
  #nextId = 1;

  constructor(log: Logger) {
    this.#log = log;
  }

  start(options: BlePeripheralOptions): void {
    this.stop();
    this.#options = options;
    const server: GATTServer = new GATTServer({
      mtu: PREFERRED_MTU,
      services: options.services.map((s) => this.#service(s)),
      onReady: () => { if (this.#server === server) this.#advertise(server); },
      onConnect: (raw) => {
        if (this.#server !== server) return;
        const connection = this.#connection(raw);
        this.#log.info("ble-connected", { connection: connection.id });
        this.#guard("onConnect", () => this.#options?.onConnect?.(connection));
      },
      onDisconnect: (raw) => {
        if (this.#server !== server) return;
        const connection = this.#connection(raw);
        this.#connections.delete(raw);
        this.#log.info("ble-disconnected", { connection: connection.id });
        this.#guard("onDisconnect", () => this.#options?.onDisconnect?.(connection));
        if (this.#server === server) this.#advertise(server); // the window is still open: be findable again
      },
      onWarning: (message) => this.#log.warn("ble-warning", { message }),
    });
    this.#server = server;
  }

  stop(): void {
    const server = this.#server;
    this.#server = undefined;
    this.#options = undefined;
    if (server === undefined) return;
    for (const raw of this.#connections.keys()) {
      try { raw.close(); } catch { /* already gone */ }
    }
    this.#connections.clear();
    try { server.stopAdvertising(); } catch { /* not advertising */ }
    server.close?.();
  }

  #advertise(server: GATTServer): void {
    const options = this.#options;
    if (!options) return;
    // 31 bytes: flags (3) + one 128-bit UUID (18) fit; the name goes in the scan response.
    server.startAdvertising(
      { flags: GATTServer.advertise.generalDiscoverable | GATTServer.advertise.bleOnly, services: [options.advertisedService] },
      { name: options.deviceName },
    );
  }

  #service(service: GattService): GATTServerService {
    return { uuid: service.uuid, characteristics: service.characteristics.map((c) => this.#characteristic(c)) };
  }

  #characteristic(c: GattCharacteristic): GATTServerCharacteristic {
    const read = c.properties.includes("read");
    const write = c.properties.includes("write");
    const out: GATTServerCharacteristic = {
      uuid: c.uuid,
      properties: (read ? GATTServer.properties.read : 0) | (write ? GATTServer.properties.write : 0),
    };
    if (c.descriptors && c.descriptors.length > 0) {
      out.descriptors = c.descriptors.map((d) => ({ uuid: d.uuid, value: toArrayBuffer(d.value) }));
    }
    if (read) {
      out.onRead = (raw) => {
        let value: Uint8Array = new Uint8Array(0);
        this.#guard(`read ${c.uuid}`, () => { value = c.onRead?.(this.#connection(raw)) ?? value; });
        return toArrayBuffer(value);
      };
    }
    if (write) {
      out.onWrite = (value, raw) => {
        this.#guard(`write ${c.uuid}`, () => c.onWrite?.(this.#connection(raw), new Uint8Array(value)));
      };
    }
    return out;
  }

  #connection(raw: GATTServerConnection): BleConnection {
    let connection = this.#connections.get(raw);
    if (connection === undefined) {
      const id = this.#nextId++;
      connection = { id, get mtu() { return maximumWrite(raw) + 3; } };
      this.#connections.set(raw, connection);
    }
    return connection;
  }

  #guard(what: string, run: () => void): void {
    try {
      run();
    } catch (e) {
      this.#log.error("ble-callback-failed", { what, error: e instanceof Error ? e.message : "unknown" });
    }
  }
}

export function createBle(log: Logger): BlePeripheral | undefined {
  return new BoardBle(log);
}
