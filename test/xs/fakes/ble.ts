// Fake of embedded:io/bluetoothle/peripheral with the ESP32 implementation's rules
// (modules/io/ble/server/esp32): onRead iff "read", onWrite iff a write property, a descriptor list
// must not be empty, static values ≤ 524 bytes, advertisement ≤ 31 bytes. A fake central
// (`central`) connects, writes (whole values, as NimBLE hands over prepared writes) and reads with
// offsets (NimBLE calls onRead for each read-blob and serves the offset from the full value).
import { addTimer } from "./world.js";

const PROPS = { broadcast: 1, read: 2, writeWithOutResponse: 4, write: 8, notify: 16, indicate: 32 } as const;
const ATT_MAX = 512;
const UUID16 = /^[0-9a-fA-F]{4}$/;
const UUID128 = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

interface Descriptor { uuid: string; value?: ArrayBuffer }
interface Characteristic {
  uuid: string; properties: number; descriptors?: Descriptor[];
  onRead?: (connection: Connection) => ArrayBuffer;
  onWrite?: (value: ArrayBuffer, connection: Connection) => void;
}
interface Service { uuid: string; characteristics: Characteristic[] }
interface Options {
  mtu?: number; services: Service[];
  onReady?: () => void; onConnect?: (c: Connection) => void; onDisconnect?: (c: Connection) => void;
  onWarning?: (message: string) => void;
}

export class Connection {
  closed = false;
  constructor(readonly mtu: number) {}
  get maximumWrite(): number { return this.mtu - 3; }
  close(): void { this.closed = true; }
}

function checkUuid(uuid: unknown): void {
  if (typeof uuid !== "string" || !(UUID16.test(uuid) || UUID128.test(uuid))) throw new RangeError("bad uuid");
}

function advertisementLength(records: Record<string, unknown>): number {
  let n = 0;
  for (const [key, value] of Object.entries(records)) {
    if (key === "flags") n += 3;
    else if (key === "name") n += 2 + new TextEncoderLite().length(value as string);
    else if (key === "services") n += 2 + (value as string[]).reduce((sum, u) => sum + (UUID128.test(u) ? 16 : 2), 0);
    else throw new Error(`unrecognized ${key}`);
  }
  return n;
}

class TextEncoderLite {
  length(s: string): number {
    let n = 0;
    for (const ch of s) { const c = ch.codePointAt(0)!; n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4; }
    return n;
  }
}

export const central = {
  server: undefined as GATTServer | undefined,
  connection: undefined as Connection | undefined,
  connect(mtu: number): Connection {
    const server = central.requireServer();
    const connection = new Connection(mtu);
    central.connection = connection;
    server.advertising = undefined; // one connection: NimBLE stops advertising
    server.options.onConnect?.(connection);
    return connection;
  },
  disconnect(): void {
    const server = central.requireServer();
    const connection = central.connection;
    if (!connection) throw new Error("not connected");
    central.connection = undefined;
    server.options.onDisconnect?.(connection);
  },
  characteristic(uuid: string): Characteristic {
    const server = central.requireServer();
    for (const s of server.options.services) for (const c of s.characteristics) if (c.uuid === uuid) return c;
    throw new Error(`no characteristic ${uuid}`);
  },
  /** A complete (possibly long) write, as the stack delivers it after reassembly. */
  write(uuid: string, value: Uint8Array): void {
    const c = central.characteristic(uuid);
    if (!(c.properties & (PROPS.write | PROPS.writeWithOutResponse))) throw new Error("write not permitted");
    if (value.length > ATT_MAX) throw new Error("attribute value too long");
    c.onWrite!(value.slice().buffer, central.connection!);
  },
  /** A long read: read, then read-blob at each offset until a short piece. */
  read(uuid: string): Uint8Array {
    const c = central.characteristic(uuid);
    if (!(c.properties & PROPS.read)) throw new Error("read not permitted");
    const connection = central.connection!;
    const piece = connection.mtu - 1;
    const parts: number[] = [];
    for (let offset = 0; ; offset += piece) {
      const full = c.onRead!(connection);
      if (!(full instanceof ArrayBuffer)) throw new TypeError("onRead must return an ArrayBuffer");
      if (full.byteLength > ATT_MAX) throw new Error("attribute value too long");
      if (offset > full.byteLength) throw new Error("invalid offset");
      const bytes = new Uint8Array(full, offset, Math.min(piece, full.byteLength - offset));
      parts.push(...bytes);
      if (bytes.length < piece) break;
    }
    return Uint8Array.from(parts);
  },
  requireServer(): GATTServer {
    if (!central.server || central.server.closed) throw new Error("no GATT server");
    return central.server;
  },
};

export class GATTServer {
  static readonly properties = Object.freeze({ ...PROPS, readEncrypted: 514, writeEncrypted: 4104 });
  static readonly advertise = Object.freeze({ limitedDiscoverable: 1, generalDiscoverable: 2, bleOnly: 4 });
  readonly options: Options;
  advertising: { advertisement: Record<string, unknown>; scanResponse?: Record<string, unknown> } | undefined;
  closed = false;

  constructor(options: Options) {
    if (!Array.isArray(options.services)) throw new TypeError("services");
    if (options.mtu !== undefined && (typeof options.mtu !== "number" || options.mtu < 23)) throw new RangeError("mtu");
    for (const service of options.services) {
      checkUuid(service.uuid);
      for (const c of service.characteristics) {
        checkUuid(c.uuid);
        if (typeof c.properties !== "number" || c.properties === 0) throw new Error("properies missing");
        if ((c.onRead === undefined) !== !(c.properties & PROPS.read)) throw new Error("inconsistent read");
        if ((c.onWrite === undefined) !== !(c.properties & (PROPS.write | PROPS.writeWithOutResponse))) throw new Error("inconsistent write");
        if (c.descriptors !== undefined) {
          if (!Array.isArray(c.descriptors) || c.descriptors.length === 0) throw new RangeError("invalid descriptors");
          for (const d of c.descriptors) {
            checkUuid(d.uuid);
            if (!(d.value instanceof ArrayBuffer)) throw new Error("invalid - no onRead, onWrite, or value");
            if (d.value.byteLength > 524) throw new RangeError("value too big");
          }
        }
      }
    }
    this.options = options;
    central.server = this;
    addTimer(() => { if (!this.closed) options.onReady?.call(this); }, 20, 0);
  }

  startAdvertising(advertisement: Record<string, unknown>, scanResponse?: Record<string, unknown>): void {
    if (this.closed) throw new Error("closed");
    if (advertisementLength(advertisement) > 31) throw new RangeError("advertisement longer than 31 bytes");
    if (scanResponse && advertisementLength(scanResponse) > 31) throw new RangeError("scan response longer than 31 bytes");
    this.advertising = scanResponse ? { advertisement, scanResponse } : { advertisement };
  }
  stopAdvertising(): void { this.advertising = undefined; }
  close(): void { this.closed = true; this.advertising = undefined; }
}
