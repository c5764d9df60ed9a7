// A simulated BLE link with GATT/ATT semantics, engine-neutral (no Node modules) so the same
// code runs in the Node tests and inside XS scenarios. The peripheral side implements the core's
// `BlePeripheral` (src/io/io.ts) and behaves as the board's glue on the SDK's NimBLE server does
// (src/platform/moddable/ble.ts over modules/io/ble/server/esp32): the phone sees what it would see
// from the board. The central side is what a phone's BLE stack does:
//   - scan: advertisements carry the advertised service UUID and the name (scan response);
//   - connect with an MTU exchange (ATT_MTU = min(client, the board's preferred 512), at least 23);
//   - one central at a time: advertising stops while one is connected, so another cannot connect;
//   - Write Request when the value fits in MTU−3, else Prepare Write (MTU−5 bytes per chunk)
//     + Execute Write; the server queue holds at most 512 bytes (ATT attribute maximum);
//   - every write the peripheral receives is acknowledged, as the SDK does: a handler that throws
//     is caught (and counted), never turned into an ATT error;
//   - Read Request returns MTU−1 bytes, then Read Blob at offsets until a short chunk; the
//     peripheral's onRead is asked again for every request and the offset served from that value
//     (NimBLE); a value shorter than the offset fails the request with ATT Invalid Offset;
//   - the GATT table of the first start() is kept for the peripheral's life (one SDK server per
//     boot): a later start() with another table throws BleLayoutError, as the board glue does.
// Every PDU is counted (round trips and bytes) for the provisioning figures.
import type { BleConnection, BlePeripheral, BlePeripheralOptions, GattCharacteristic } from "../../src/io/io.js";
import { BleLayoutError, gattLayoutKey } from "../../src/io/ble-layout.js";
import { concat } from "../../src/bytes/bytes.js";

/** The MTU the board's glue asks of the SDK (PREFERRED_MTU in src/platform/moddable/ble.ts). */
export const PERIPHERAL_MTU = 512;
export const ATT_MAX_VALUE = 512;
export const ATT_ERR_INVALID_OFFSET = 0x07;
export const ATT_ERR_ATTR_NOT_FOUND = 0x0a;
export const ATT_ERR_INVALID_ATTR_LEN = 0x0d;
export const ATT_ERR_UNLIKELY = 0x0e;

export class AttError extends Error {
  override readonly name = "AttError";
  constructor(readonly code: number, message: string) {
    super(`ATT error 0x${code.toString(16).padStart(2, "0")}: ${message}`);
  }
}

export class BleDisconnected extends Error {
  override readonly name = "BleDisconnected";
  constructor() {
    super("BLE link disconnected");
  }
}

export interface Advertisement {
  readonly name: string;
  /** Complete list of 128-bit service UUIDs in the ADV data. */
  readonly serviceUuids: readonly string[];
}

export interface LinkStats {
  roundTrips: number;
  bytesToPeripheral: number;
  bytesToCentral: number;
}

let nextConnectionId = 1;

export class SimBleRadio {
  readonly #peripherals = new Set<SimBlePeripheral>();

  /** A peripheral for one simulated device's `io.ble`. */
  peripheral(): SimBlePeripheral {
    return new SimBlePeripheral(this.#peripherals);
  }

  /** What a central's scan sees right now. */
  scan(): Advertisement[] {
    const out: Advertisement[] = [];
    for (const p of this.#peripherals) if (p.advertising) out.push(p.advertisement!);
    return out;
  }

  /** Connect to the advertising peripheral with this name (the MTU the central asks for, e.g. Android's 512). */
  async connect(name: string, options: { mtu?: number } = {}): Promise<SimGattClient> {
    await Promise.resolve();
    for (const p of this.#peripherals) {
      if (p.advertising && p.advertisement!.name === name) return p.accept(Math.max(23, Math.min(options.mtu ?? 23, PERIPHERAL_MTU)));
    }
    throw new Error(`no advertising peripheral named ${name}`);
  }
}

export class SimBlePeripheral implements BlePeripheral {
  #options: BlePeripheralOptions | undefined;
  #connection: SimGattClient | undefined;
  /** The GATT table of the first start(): the SDK registers services once per boot. */
  #layout: string | undefined;
  /** Exceptions from the core's handlers, caught as the board glue catches them. */
  callbackErrors = 0;

  constructor(readonly registry: Set<SimBlePeripheral>) {}

  get advertising(): boolean {
    return this.#options !== undefined && this.#connection === undefined;
  }

  get advertisement(): Advertisement | undefined {
    return this.#options ? { name: this.#options.deviceName, serviceUuids: [this.#options.advertisedService] } : undefined;
  }

  get options(): BlePeripheralOptions | undefined {
    return this.#options;
  }

  start(options: BlePeripheralOptions): void {
    if (options.deviceName.length > 29) throw new Error("BLE device name longer than 29 characters");
    const layout = gattLayoutKey(options.services);
    if (this.#layout !== undefined && layout !== this.#layout) {
      throw new BleLayoutError("a window declared a GATT table different from the first window's; the SDK registers services once per boot");
    }
    this.stop();
    this.#layout = layout;
    this.#options = options;
    this.registry.add(this);
  }

  stop(): void {
    const c = this.#connection;
    const options = this.#options;
    this.#connection = undefined;
    this.#options = undefined;
    this.registry.delete(this);
    if (c) {
      c.dropFromPeripheral();
      if (options) this.guard(() => options.onDisconnect?.(c.connection));
    }
  }

  accept(mtu: number): SimGattClient {
    if (this.#connection !== undefined || this.#options === undefined) throw new Error("the peripheral is not advertising");
    const client = new SimGattClient(this, { id: nextConnectionId++, mtu });
    this.#connection = client;
    const options = this.#options;
    this.guard(() => options.onConnect?.(client.connection));
    return client;
  }

  /** The central disconnected: the window, if still open, advertises again. */
  released(client: SimGattClient): void {
    if (this.#connection !== client) return;
    this.#connection = undefined;
    const options = this.#options;
    if (options) this.guard(() => options.onDisconnect?.(client.connection));
  }

  characteristic(uuid: string): GattCharacteristic {
    for (const s of this.#options?.services ?? []) for (const c of s.characteristics) if (c.uuid === uuid) return c;
    throw new AttError(ATT_ERR_ATTR_NOT_FOUND, `no characteristic ${uuid}`);
  }

  /** As the board glue: nothing the core throws reaches the stack. */
  guard(run: () => void): void {
    try {
      run();
    } catch {
      this.callbackErrors++;
    }
  }
}

export interface DiscoveredCharacteristic {
  readonly uuid: string;
  readonly properties: readonly string[];
  readonly descriptors: readonly string[];
}

export class SimGattClient {
  readonly stats: LinkStats = { roundTrips: 0, bytesToPeripheral: 0, bytesToCentral: 0 };
  #connected = true;

  constructor(
    readonly peripheral: SimBlePeripheral,
    readonly connection: BleConnection,
  ) {}

  get connected(): boolean {
    return this.#connected;
  }

  dropFromPeripheral(): void {
    this.#connected = false;
  }

  async disconnect(): Promise<void> {
    if (!this.#connected) return;
    this.#connected = false;
    this.peripheral.released(this);
  }

  async #pdu<T>(requestBytes: number, run: () => T, responseBytes: (r: T) => number): Promise<T> {
    await Promise.resolve();
    if (!this.#connected) throw new BleDisconnected();
    this.stats.roundTrips++;
    this.stats.bytesToPeripheral += requestBytes;
    const result = run();
    this.stats.bytesToCentral += responseBytes(result);
    return result;
  }

  /** Primary service and characteristic discovery. */
  async discover(): Promise<{ uuid: string; characteristics: DiscoveredCharacteristic[] }[]> {
    const services = this.peripheral.options?.services ?? [];
    return this.#pdu(
      7,
      () => services.map((s) => ({ uuid: s.uuid, characteristics: s.characteristics.map((c) => ({ uuid: c.uuid, properties: [...c.properties], descriptors: (c.descriptors ?? []).map((d) => d.uuid) })) })),
      (r) => r.reduce((n, s) => n + 20 + s.characteristics.length * 23, 0),
    );
  }

  async readDescriptor(characteristic: string, descriptor: string): Promise<Uint8Array> {
    return this.#longRead(() => {
      const d = this.peripheral.characteristic(characteristic).descriptors?.find((x) => x.uuid === descriptor);
      if (d === undefined) throw new AttError(ATT_ERR_ATTR_NOT_FOUND, `no descriptor ${descriptor}`);
      return d.value;
    });
  }

  /** Write with response; long values go as Prepare Write + Execute Write. */
  async write(characteristic: string, value: Uint8Array): Promise<void> {
    const mtu = this.connection.mtu;
    const c = this.peripheral.characteristic(characteristic);
    if (!c.properties.includes("write")) throw new AttError(0x03, "write not permitted");
    // acknowledged whatever the handler does (the SDK cannot return an ATT error from JavaScript)
    const deliver = (): void => this.peripheral.guard(() => c.onWrite?.(this.connection, value.slice()));
    if (value.length <= mtu - 3) {
      await this.#pdu(3 + value.length, deliver, () => 1);
      return;
    }
    // Prepare Write queue, as the peripheral's stack holds it
    const chunk = mtu - 5;
    let queued = 0;
    for (let offset = 0; offset < value.length; offset += chunk) {
      const part = value.subarray(offset, offset + chunk);
      await this.#pdu(
        5 + part.length,
        () => {
          if (offset + part.length > ATT_MAX_VALUE) {
            queued = 0;
            throw new AttError(ATT_ERR_INVALID_ATTR_LEN, `prepared write beyond ${ATT_MAX_VALUE} bytes`);
          }
          queued = offset + part.length;
        },
        () => 5 + part.length,
      );
    }
    await this.#pdu(2, () => {
      if (queued !== value.length) throw new AttError(ATT_ERR_UNLIKELY, "prepare queue incomplete");
      deliver();
    }, () => 1);
  }

  /** Read Request, then Read Blob until a chunk shorter than MTU−1. */
  async read(characteristic: string): Promise<Uint8Array> {
    const c = this.peripheral.characteristic(characteristic);
    if (!c.properties.includes("read")) throw new AttError(0x02, "read not permitted");
    return this.#longRead(() => {
      let value: Uint8Array = new Uint8Array(0);
      this.peripheral.guard(() => { value = c.onRead?.(this.connection) ?? value; });
      return value;
    });
  }

  async #longRead(valueOf: () => Uint8Array): Promise<Uint8Array> {
    const step = this.connection.mtu - 1;
    // NimBLE asks for the value again at every request and serves the offset from it
    const parts: Uint8Array[] = [];
    for (let offset = 0; ; offset += step) {
      const part = await this.#pdu(
        offset === 0 ? 3 : 5,
        () => {
          const value = valueOf();
          if (offset > value.length) throw new AttError(ATT_ERR_INVALID_OFFSET, "read beyond the value");
          return value.subarray(offset, offset + step);
        },
        (p) => 1 + p.length,
      );
      parts.push(part);
      // a phone's stack stops a long read at the ATT maximum (Bluedroid: offset < GATT_MAX_ATTR_LEN)
      if (offset + part.length > ATT_MAX_VALUE) throw new AttError(ATT_ERR_INVALID_ATTR_LEN, `attribute value longer than ${ATT_MAX_VALUE} bytes`);
      if (part.length < step) break;
    }
    return concat(...parts);
  }
}

/**
 * Protocomm over GATT the way Espressif's Android library does it: read every characteristic's
 * 0x2901 descriptor to map endpoint names to characteristics, then per request write the
 * characteristic and read it back.
 */
export class BleProtocommTransport {
  readonly #byName: Map<string, string>;

  private constructor(readonly client: SimGattClient, byName: Map<string, string>) {
    this.#byName = byName;
  }

  static async open(client: SimGattClient, serviceUuid: string): Promise<BleProtocommTransport> {
    const services = await client.discover();
    const service = services.find((s) => s.uuid === serviceUuid) ?? services[0];
    if (service === undefined) throw new Error("no GATT service");
    const byName = new Map<string, string>();
    for (const c of service.characteristics) {
      if (!c.properties.includes("read") || !c.properties.includes("write")) throw new Error(`characteristic ${c.uuid} is not READ|WRITE (iOS refuses this)`);
      if (!c.descriptors.includes("2901")) throw new Error(`characteristic ${c.uuid} has no 0x2901 descriptor (Android stalls)`);
      let name = "";
      for (const b of await client.readDescriptor(c.uuid, "2901")) name += String.fromCharCode(b);
      byName.set(name.toLowerCase(), c.uuid);
    }
    for (const need of ["prov-session", "prov-config", "proto-ver"]) if (!byName.has(need)) throw new Error(`endpoint ${need} missing`);
    return new BleProtocommTransport(client, byName);
  }

  get endpoints(): ReadonlyMap<string, string> {
    return this.#byName;
  }

  async send(endpoint: string, data: Uint8Array): Promise<Uint8Array> {
    const uuid = this.#byName.get(endpoint);
    if (uuid === undefined) throw new Error(`device has no endpoint ${endpoint}`);
    await this.client.write(uuid, data);
    return this.client.read(uuid);
  }
}
