// A simulated BLE link with GATT/ATT semantics, engine-neutral (no Node modules) so the same
// code runs in the Node tests and inside XS scenarios. The peripheral side implements the core's
// `BlePeripheral` (src/io/io.ts); the central side is what a phone's BLE stack does:
//   - scan: advertisements carry the advertised service UUID and the name (scan response);
//   - connect with an MTU exchange (ATT_MTU = min(client, server=517), at least 23);
//   - Write Request when the value fits in MTU−3, else Prepare Write (MTU−5 bytes per chunk)
//     + Execute Write; the server queue holds at most 512 bytes (ATT attribute maximum);
//   - Read Request returns MTU−1 bytes, then Read Blob at offsets until a short chunk;
//   - a characteristic handler that throws makes the write fail with an ATT error.
// Every PDU is counted (round trips and bytes) for the provisioning figures.
import type { BleConnection, BlePeripheral, BlePeripheralOptions, GattCharacteristic } from "../../src/io/io.js";
import { concat } from "../../src/bytes/bytes.js";

export const ATT_MAX_VALUE = 512;
export const ATT_ERR_INVALID_OFFSET = 0x07;
export const ATT_ERR_INVALID_PDU = 0x04;
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
      if (p.advertising && p.advertisement!.name === name) return p.accept(Math.max(23, Math.min(options.mtu ?? 23, 517)));
    }
    throw new Error(`no advertising peripheral named ${name}`);
  }
}

export class SimBlePeripheral implements BlePeripheral {
  #options: BlePeripheralOptions | undefined;
  #connection: SimGattClient | undefined;

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
    this.#options = options;
    this.registry.add(this);
  }

  stop(): void {
    const c = this.#connection;
    this.#connection = undefined;
    c?.dropFromPeripheral();
    if (c && this.#options) this.#options.onDisconnect?.(c.connection);
    this.#options = undefined;
    this.registry.delete(this);
  }

  accept(mtu: number): SimGattClient {
    const client = new SimGattClient(this, { id: nextConnectionId++, mtu });
    this.#connection = client;
    this.#options!.onConnect?.(client.connection);
    return client;
  }

  /** The central disconnected. */
  released(client: SimGattClient): void {
    if (this.#connection !== client) return;
    this.#connection = undefined;
    this.#options?.onDisconnect?.(client.connection);
  }

  characteristic(uuid: string): GattCharacteristic {
    for (const s of this.#options?.services ?? []) for (const c of s.characteristics) if (c.uuid === uuid) return c;
    throw new AttError(ATT_ERR_ATTR_NOT_FOUND, `no characteristic ${uuid}`);
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
    const deliver = (): void => {
      try {
        c.onWrite?.(this.connection, value.slice());
      } catch (e) {
        throw new AttError(ATT_ERR_INVALID_PDU, `write rejected: ${e instanceof Error ? e.message : String(e)}`);
      }
    };
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
    return this.#longRead(() => c.onRead?.(this.connection) ?? new Uint8Array(0));
  }

  async #longRead(valueOf: () => Uint8Array): Promise<Uint8Array> {
    const step = this.connection.mtu - 1;
    // the stack snapshots the value at the first read and serves blobs from it
    let value: Uint8Array | undefined;
    const parts: Uint8Array[] = [];
    for (let offset = 0; ; offset += step) {
      const part = await this.#pdu(
        offset === 0 ? 3 : 5,
        () => {
          value ??= valueOf();
          if (value.length > ATT_MAX_VALUE) throw new AttError(ATT_ERR_INVALID_ATTR_LEN, `attribute value of ${value.length} bytes exceeds ${ATT_MAX_VALUE}`);
          if (offset > value.length) throw new AttError(ATT_ERR_INVALID_OFFSET, "read beyond the value");
          return value.subarray(offset, offset + step);
        },
        (p) => 1 + p.length,
      );
      parts.push(part);
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
