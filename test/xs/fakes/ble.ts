// Fake of embedded:io/bluetoothle/peripheral as the SDK runs it on the ESP32, derived from its
// implementation, not from its typings (typings/embedded_io/ble/peripheral.d.ts declares a static
// `advertise` and a `maxinumWrite` getter that the runtime does not have).
// Mirrors (Moddable SDK 8.2.3):
//   - modules/io/ble/server/esp32/bleserver.js: the class surface (static `properties`, close,
//     addService, startAdvertising/stopAdvertising) and convert(), the advertising serialiser;
//   - modules/io/ble/server/esp32/bleserver.c: xs_gattserver_build ("only one": gServer is set at
//     build and never cleared, not even by close()), mtu clamped to 23…527, addService's checks
//     and "can't add service now" once ready, startAdvertising/ensureAdvertising (advertising is
//     restarted after onConnect/onDisconnect unless stopAdvertising() was called, and fails
//     silently when no connection slot is free), deliverConnect/deliverDisconnect (no
//     onDisconnect for a connection the glue closed), xs_gattserverconnection_close (unlinks the
//     record; a non-head record is unlinked wrongly), accessCharacteristic (a write is always
//     acknowledged; onRead is called for every Read and Read Blob);
//   - NimBLE's ble_gatts_val_access: the offset is served from the full value onRead returns, and
//     a value shorter than the offset fails the request with ATT Invalid Offset (0x07);
//   - build/devices/esp32/xsProj-esp32/sdkconfig.defaults: CONFIG_BT_NIMBLE_MAX_CONNECTIONS=1,
//     CONFIG_BT_NIMBLE_ATT_PREFERRED_MTU=256.
// Every callback the C code calls inside xsBeginHost/xsEndHost goes through host(): an exception
// escaping there is fxAbort (esp_restart() on the board); the fake records it in nimble.aborts.
// `central` plays the phone and its stack (connect with an MTU exchange, write, long read).
import { addTimer, onReset } from "./world.js";

const PROPS = Object.freeze({
  authenticatedSignedWrites: 1 << 6,
  broadcast: 1 << 0,
  indicate: 1 << 5,
  notify: 1 << 4,
  read: 1 << 1,
  readAuthenticated: (1 << 10) | (1 << 1),
  readEncrypted: (1 << 9) | (1 << 1),
  reliableWrite: 1 << 7,
  subscribeAuthenticated: (1 << 16) | (1 << 4),
  subscribeEncrypted: (1 << 15) | (1 << 4),
  write: 1 << 3,
  writeAuthenticated: (1 << 13) | (1 << 3),
  writeEncrypted: (1 << 12) | (1 << 3),
  writeWithOutResponse: 1 << 2,
});
const ATT_MTU_MIN = 23; // BLE_ATT_MTU_DFLT
const ATT_MTU_MAX = 527; // BLE_ATT_MTU_MAX
const ATT_MAX_VALUE = 512; // the ATT prepare queue's limit for a long write
export const ATT_ERR_INVALID_OFFSET = 0x07;
export const ATT_ERR_INVALID_ATTR_LEN = 0x0d;
export const ATT_ERR_INSUFFICIENT_RES = 0x11;
const UUID16 = /^[0-9a-fA-F]{4}$/;
const UUID128 = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

type Buffer = ArrayBuffer | ArrayBufferView;
interface Descriptor { uuid: string; value?: Buffer; onRead?: unknown; onWrite?: unknown }
interface Characteristic {
  uuid: string; properties?: number; value?: Buffer; descriptors?: Descriptor[];
  onRead?: (this: unknown, connection: Connection) => unknown;
  onWrite?: (this: unknown, value: ArrayBuffer, connection: Connection) => void;
  onSubscribe?: unknown; onUnsubscribe?: unknown;
}
interface Service { uuid: string; characteristics?: Characteristic[] }
interface Options {
  mtu?: number; services: Service[];
  onReady?: (this: GATTServer) => void;
  onConnect?: (this: GATTServer, c: Connection) => void;
  onDisconnect?: (this: GATTServer, c: Connection) => void;
  onWarning?: (this: GATTServer, message: string) => void;
}

/** The controller and NimBLE host state behind gServer. */
export const nimble = {
  /** gServer: set by the first `new GATTServer`, cleared only by a reboot. */
  server: undefined as GATTServer | undefined,
  maxConnections: 1,
  /** ble_gap_adv_active(). */
  advertisingActive: false,
  /** The last advertising data and scan response, as convert() built them. */
  advertisement: undefined as Uint8Array | undefined,
  scanResponse: undefined as Uint8Array | undefined,
  /** server->connections, newest first. */
  connections: [] as Connection[],
  /** Links the glue closed that the controller has not finished terminating: they still hold a slot. */
  terminating: [] as Connection[],
  /** Exceptions that escaped into the SDK (fxAbort → esp_restart on the board). */
  aborts: [] as string[],
  /** Make the next ble_gap_adv_set_data fail (the SDK throws "invalid adv"). */
  failNextAdvertising: false,
  startAdvertisingCalls: 0,
  reset(): void {
    nimble.server = undefined;
    nimble.maxConnections = 1;
    nimble.advertisingActive = false;
    nimble.advertisement = undefined;
    nimble.scanResponse = undefined;
    nimble.connections = [];
    nimble.terminating = [];
    nimble.aborts = [];
    nimble.failNextAdvertising = false;
    nimble.startAdvertisingCalls = 0;
  },
};
onReset.push(() => nimble.reset());

function host(what: string, run: () => void): boolean {
  try {
    run();
    return true;
  } catch (e) {
    nimble.aborts.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    return false;
  }
}

function checkUuid(uuid: unknown): void {
  if (typeof uuid !== "string" || !(UUID16.test(uuid) || UUID128.test(uuid))) throw new RangeError("bad uuid");
}

function bytesOf(value: unknown): Uint8Array {
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError("expected a buffer"); // xsmcGetBufferReadable
}

function utf8(s: string): number[] {
  const out: number[] = [];
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return out;
}

/** convert() of bleserver.js: AD structures in key order, at most 31 bytes (a resizable buffer). */
export function convert(records: Record<string, unknown>): Uint8Array {
  const out: number[] = [];
  const grow = (n: number) => { if (out.length + n > 31) throw new RangeError("Invalid length"); };
  for (const name in records) {
    const value = records[name];
    if (name === "name") {
      const b = utf8(String(value));
      grow(b.length + 2);
      out.push(b.length + 1, 9, ...b);
    } else if (name === "services") {
      const uuids = (value as string[]).map((u) => {
        const hex = u.replaceAll("-", "");
        if (!/^([0-9a-fA-F]{2})+$/.test(hex)) throw new SyntaxError("invalid hex");
        const b: number[] = [];
        for (let i = 0; i < hex.length; i += 2) b.push(parseInt(hex.slice(i, i + 2), 16));
        if (b.length !== 2 && b.length !== 4 && b.length !== 16) throw new Error("invalid UUID");
        return b;
      });
      for (const length of [2, 4, 16]) {
        const group = uuids.filter((u) => u.length === length);
        if (group.length === 0) continue;
        grow(group.length * length + 2);
        out.push(group.length * length + 1, length === 2 ? 3 : length === 4 ? 5 : 7);
        for (const u of group) out.push(...u.slice().reverse());
      }
    } else if (name === "manufacturerData") {
      const m = value as { manufacturer: number; data: Buffer };
      const data = bytesOf(m.data);
      grow(data.length + 4);
      out.push(data.length + 3, 255, m.manufacturer & 0xff, (m.manufacturer >> 8) & 0xff, ...data);
    } else if (name === "flags") {
      grow(3);
      out.push(2, 1, Number(value) & 0xff);
    } else {
      const type = Number.parseInt(name);
      if (String(type) !== name || type <= 0 || type > 255) throw new Error("unrecognized " + name);
      const data = bytesOf(value);
      grow(data.length + 2);
      out.push(data.length + 1, type, ...data);
    }
  }
  return Uint8Array.from(out);
}

const INTERNAL = Symbol("nimble");

/** GATTServerConnection: made only by the stack (its constructor throws, as in bleserver.js). */
export class Connection {
  /** Host data: NULL once closed by the glue or after onDisconnect. */
  #record: { maximumWrite: number } | undefined;
  /** The device ended the link (ble_gap_terminate). */
  terminatedByDevice = false;
  /** The phone's side of the link is up. */
  linkUp = true;

  constructor(token?: symbol) {
    if (token !== INTERNAL) throw new Error();
    this.#record = { maximumWrite: ATT_MTU_MIN - 3 };
  }

  get maximumWrite(): number {
    if (!this.#record) throw new Error("invalid connection"); // xsmcGetHostDataValidate on freed host data [inferred]
    return this.#record.maximumWrite;
  }

  close(): void {
    if (!this.#record) throw new Error("invalid connection");
    this.terminatedByDevice = true;
    this.linkUp = false;
    this.#record = undefined;
    nimble.terminating.push(this); // ble_gap_terminate: the slot is free once the link is down
    const i = nimble.connections.indexOf(this);
    if (i === 0) nimble.connections.shift();
    else if (i > 0) nimble.aborts.push("close() of a connection that is not the newest: the SDK's list walk corrupts its connection list");
  }

  /** BLE_GAP_EVENT_MTU. */
  setMtu(mtu: number): void { if (this.#record) this.#record.maximumWrite = mtu - 3; }
  forget(): void { this.#record = undefined; }
  get live(): boolean { return this.#record !== undefined; }
}

interface Registered { characteristic: Characteristic; service: string }

export class GATTServer {
  static readonly properties = PROPS;
  readonly options: Options;
  readonly preferredMtu: number;
  readonly registered: Registered[] = [];
  ready = false;
  closed = false;
  /** server->advertising: what ensureAdvertising restores. */
  advertising = false;

  constructor(options: Options) {
    if (nimble.server) throw new Error("only one");
    let mtu = 256; // CONFIG_BT_NIMBLE_ATT_PREFERRED_MTU when the options give none
    if (options.mtu !== undefined) mtu = Math.min(ATT_MTU_MAX, Math.max(ATT_MTU_MIN, Math.trunc(Number(options.mtu))));
    this.preferredMtu = mtu;
    this.options = options;
    nimble.server = this; // armed before the services are added: a throw below still burns it
    for (const service of options.services) {
      if (service.uuid !== "1800") { this.addService(service); continue; }
      for (const c of service.characteristics ?? []) {
        if ((c.uuid === "2a00" || c.uuid === "2a01") && c.value === undefined) options.onWarning?.call(this, `service 1800, characteristic ${c.uuid} must have static value with NimBLE`);
      }
    }
    addTimer(() => {
      if (this.closed) return;
      this.ready = true; // deliverReady
      host("onReady", () => options.onReady?.call(this));
    }, 20, 0);
  }

  #valid(): void {
    if (this.closed) throw new Error("invalid"); // host data freed by close()
  }

  close(): void {
    if (this.closed) return;
    this.closed = true; // the C record is freed; gServer is not cleared
  }

  addService(service: Service): void {
    this.#valid();
    if (this.ready) throw new Error("can't add service now");
    checkUuid(service.uuid);
    const characteristics = service.characteristics;
    if (!Array.isArray(characteristics) || characteristics.length <= 0) throw new RangeError("invalid characteristics");
    for (const c of characteristics) {
      checkUuid(c.uuid);
      if (!c.properties) throw new Error("properies missing");
      if ("value" in c) {
        if (bytesOf(c.value).byteLength > ATT_MTU_MAX - 3) throw new RangeError("value too big");
      } else {
        if ((c.onRead === undefined) !== !(c.properties & PROPS.read)) throw new Error("inconsistent read");
        if ((c.onWrite === undefined) !== !(c.properties & (PROPS.writeWithOutResponse | PROPS.write | PROPS.authenticatedSignedWrites))) throw new Error("inconsistent write");
        if ((c.onUnsubscribe !== undefined) !== !!(c.properties & (PROPS.notify | PROPS.indicate))) throw new Error("inconsistent onSubscribe");
      }
      if (!c.descriptors) continue;
      if (!Array.isArray(c.descriptors) || c.descriptors.length <= 0) throw new RangeError("invalid descriptors");
      for (const d of c.descriptors) {
        checkUuid(d.uuid);
        if ("value" in d) {
          if ("onRead" in d || "onWrite" in d) throw new Error("invalid - no callbacks with value");
          if (bytesOf(d.value).byteLength > ATT_MTU_MAX - 3) throw new RangeError("value too big");
        } else if (!d.onRead && !d.onWrite) {
          throw new Error("invalid - no onRead, onWrite, or value");
        }
      }
    }
    for (const c of characteristics) this.registered.push({ characteristic: c, service: service.uuid });
  }

  deleteService(_service: Service): void {
    this.#valid(); // the ESP32 implementation does nothing else
  }

  startAdvertising(scan: Record<string, unknown>, response?: Record<string, unknown>): void {
    const advertisement = convert(scan);
    const scanResponse = response ? convert(response) : new Uint8Array(0);
    this.#valid();
    nimble.startAdvertisingCalls++;
    // ble_gap_adv_set_data before the host synced, or failing: "invalid adv" [before-sync: inferred]
    if (!this.ready || nimble.failNextAdvertising) {
      nimble.failNextAdvertising = false;
      throw new Error("invalid adv");
    }
    nimble.advertisement = advertisement;
    nimble.scanResponse = scanResponse;
    this.advertising = true;
    ensureAdvertising(this);
  }

  stopAdvertising(): void {
    this.#valid();
    this.advertising = false;
    nimble.advertisingActive = false;
  }
}

/** ensureAdvertising(): restart if wanted; ble_gap_adv_start's error (no free connection slot) is ignored. */
function ensureAdvertising(server: GATTServer): void {
  if (!server.advertising || nimble.advertisingActive) return;
  if (nimble.connections.length + nimble.terminating.length >= nimble.maxConnections) return;
  nimble.advertisingActive = true;
}

export type ReadResult = { readonly value: Uint8Array } | { readonly attError: number };

/** The phone and its BLE stack. */
export const central = {
  requireServer(): GATTServer {
    const server = nimble.server;
    if (!server || server.closed) throw new Error("no GATT server");
    return server;
  },
  /** Connect to the advertising device, then exchange MTUs (the phone asks for `mtu`). */
  connect(mtu = ATT_MTU_MIN): Connection {
    const server = central.requireServer();
    if (!nimble.advertisingActive) throw new Error("nothing to connect to: the device is not advertising");
    nimble.advertisingActive = false; // a legacy advertising set stops on connection
    const connection = new Connection(INTERNAL);
    nimble.connections.unshift(connection);
    host("onConnect", () => server.options.onConnect?.call(server, connection));
    ensureAdvertising(server);
    if (connection.live && mtu > ATT_MTU_MIN) connection.setMtu(Math.min(mtu, server.preferredMtu));
    return connection;
  },
  /** The phone leaves, the link is lost, or a termination the device asked for completes. */
  disconnect(connection: Connection): void {
    const server = central.requireServer();
    connection.linkUp = false;
    const t = nimble.terminating.indexOf(connection);
    if (t >= 0) nimble.terminating.splice(t, 1);
    const i = nimble.connections.indexOf(connection);
    if (i < 0) return; // the glue closed it: deliverDisconnect finds no record (and restarts nothing)
    host("onDisconnect", () => server.options.onDisconnect?.call(server, connection));
    nimble.connections.splice(nimble.connections.indexOf(connection), 1);
    connection.forget();
    ensureAdvertising(server);
  },
  characteristic(uuid: string): Characteristic {
    for (const r of central.requireServer().registered) if (r.characteristic.uuid.toLowerCase() === uuid.toLowerCase()) return r.characteristic;
    throw new Error(`no characteristic ${uuid}`);
  },
  /** Write Request (or a long write the stack reassembled): acknowledged whatever the callback does. */
  write(connection: Connection, uuid: string, value: Uint8Array): { readonly attError?: number } {
    if (!connection.linkUp) throw new Error("not connected");
    const c = central.characteristic(uuid);
    if (!((c.properties ?? 0) & (PROPS.write | PROPS.writeWithOutResponse))) return { attError: 0x03 };
    if (value.length > ATT_MAX_VALUE) return { attError: ATT_ERR_INVALID_ATTR_LEN };
    if (value.length === 0) return {};
    const copy = value.slice().buffer;
    if (!host("onWrite", () => c.onWrite!.call(c, copy, connection))) return { attError: ATT_ERR_INSUFFICIENT_RES };
    return {};
  },
  /** Read Request, then Read Blob at each offset while the piece is MTU − 1 bytes long. */
  read(connection: Connection, uuid: string): ReadResult {
    if (!connection.linkUp) throw new Error("not connected");
    const c = central.characteristic(uuid);
    if (!((c.properties ?? 0) & PROPS.read)) return { attError: 0x02 };
    const piece = connection.maximumWrite + 2; // ATT_MTU − 1
    const parts: number[] = [];
    for (let offset = 0; ; offset += piece) {
      let full: Uint8Array | undefined;
      if ("value" in c) full = bytesOf(c.value);
      else if (!host("onRead", () => { full = bytesOf(c.onRead!.call(c, connection)).slice(); })) return { attError: ATT_ERR_INSUFFICIENT_RES };
      if (offset > full!.length) return { attError: ATT_ERR_INVALID_OFFSET };
      const bytes = full!.subarray(offset, offset + piece);
      parts.push(...bytes);
      if (bytes.length < piece) break;
    }
    return { value: Uint8Array.from(parts) };
  },
  /** A static descriptor (the 0x2901 user description). */
  readDescriptor(characteristic: string, descriptor: string): Uint8Array {
    const d = central.characteristic(characteristic).descriptors?.find((x) => x.uuid.toLowerCase() === descriptor.toLowerCase());
    if (d === undefined || d.value === undefined) throw new Error(`no static descriptor ${descriptor}`);
    return bytesOf(d.value).slice();
  },
};
