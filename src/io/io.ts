// The I/O object the firmware core receives. It is the only way the core touches the world:
// no module under src/ (outside src/platform/moddable/) imports a platform module, reads the
// clock or schedules work except through it. Shapes follow ECMA-419 (the standard the Moddable
// SDK implements): sockets push "readable"/"writable" notifications and are read on demand,
// storage is synchronous key-value, timers are callbacks.
//
// Builders of this object:
//   - the board: src/platform/moddable/ (embedded:* modules)
//   - Node.js:   host-sim/io/
//   - XS in CI:  host-sim/xs/ (a bridge to the Node implementation over xsnap's pipes)

import type { Secret } from "../secrets/secret.js";
import type { LogRecord } from "../log/logger.js";
import type { CryptoProvider } from "../crypto/provider.js";

/** Why a socket stopped. `closed` is an orderly close by the peer. */
export type SocketErrorKind = "closed" | "refused" | "reset" | "timeout" | "dns" | "tls" | "io";

export interface SocketError {
  readonly kind: SocketErrorKind;
  /** kind "tls", refused by the firmware's own verifier: why (src/tls/verify.ts TlsRefusalReason). */
  readonly reason?: string;
  /** Human-readable detail; never contains key material. */
  readonly message: string;
}

export interface SocketHandlers {
  /** Called once connected (and again whenever the send buffer drains), as in ECMA-419. */
  onWritable?(count: number): void;
  /** Bytes are waiting: call `read()`. */
  onReadable(count: number): void;
  /** The socket is finished: connection refused, TLS refused, reset, or closed by the peer. Called at most once. */
  onError(error: SocketError): void;
}

export interface Socket {
  /** Everything received so far and not yet read, or undefined when nothing is waiting. */
  read(): Uint8Array | undefined;
  /** Queue bytes for sending; the platform buffers as needed. Throws if the socket is finished. */
  write(data: Uint8Array): void;
  /** Close now. No handler is called afterwards. */
  close(): void;
  /**
   * TLS only: SHA-256 of the DER SubjectPublicKeyInfo of the server's leaf certificate (32 bytes),
   * from the first onWritable on; undefined before the handshake and for TCP.
   */
  peerKey?(): Uint8Array | undefined;
  /**
   * TLS only: true once the firmware's verifier (src/tls/) checked the server's chain, name and
   * dates against the configured CA; false for trust on first use and before the handshake.
   */
  tlsVerified?(): boolean;
}

export interface TcpOptions extends SocketHandlers {
  readonly host: string;
  readonly port: number;
}

export interface TlsOptions extends TcpOptions {
  /** Trust anchors (PEM). Absent: the platform's root store. */
  readonly ca?: string;
  /**
   * Accept any server certificate (no chain, name or date check); the caller compares
   * `peerKey()` with its pin before it writes a byte (hub pairing, PROTOCOL.md §2). `ca` and
   * `serverName` then play no part in trust. Otherwise there is no "do not verify" option.
   */
  readonly trustOnFirstUse?: boolean;
  /** Name checked against the server certificate and sent as SNI. Defaults to `host`. */
  readonly serverName?: string;
  /** Client certificate chain (PEM) and key (PEM, kept secret) for mutual TLS. */
  readonly clientCertificate?: string;
  readonly clientKey?: Secret;
  readonly alpn?: readonly string[];
}

export interface Datagram {
  readonly data: Uint8Array;
  readonly address: string;
  readonly port: number;
}

export interface UdpOptions {
  /** Local port to bind; 0 or absent = any. */
  readonly port?: number;
  readonly onReadable: (count: number) => void;
  readonly onError?: (error: SocketError) => void;
}

export interface UdpSocket {
  read(): Datagram | undefined;
  write(data: Uint8Array, address: string, port: number): void;
  close(): void;
}

export interface Network {
  tcp(options: TcpOptions): Socket;
  tls(options: TlsOptions): Socket;
  udp(options: UdpOptions): UdpSocket;
}

/**
 * Key-value flash storage (NVS on the ESP32). Keys are at most 15 characters. Each write replaces
 * one key and nothing is atomic across keys; a power cut during a write may leave that key absent
 * or torn. The credential store builds its crash safety on exactly these guarantees.
 */
export interface KeyValueStorage {
  read(key: string): Uint8Array | undefined;
  write(key: string, value: Uint8Array): void;
  delete(key: string): void;
}

export type TimerId = number;

export interface Timers {
  /** Run `callback` once after `ms` milliseconds. */
  set(callback: () => void, ms: number): TimerId;
  clear(id: TimerId): void;
}

export interface Clock {
  /** Milliseconds since the Unix epoch; on a board before SNTP this may still be near 1970. */
  now(): number;
  /**
   * Milliseconds from an arbitrary origin (boot), never set or adjusted (SNTP moves `now()`,
   * not this): measure durations and rate limits with it. `Time.ticks` on the board.
   */
  monotonic(): number;
}

export interface DeviceInfo {
  /** Wi-Fi station MAC as "AA:BB:CC:DD:EE:FF", or undefined before Wi-Fi has started (ESP32 truth). */
  mac(): string | undefined;
  /** Restart the device (the simulator ends this device's run). */
  restart(): void;
}

// ---- Wi-Fi station (embedded:network/interface/wifi on the board; simulated networks on the host)

export type WifiAuthMode = "open" | "wep" | "wpa-psk" | "wpa2-psk" | "wpa-wpa2-psk" | "wpa2-enterprise" | "wpa3-psk" | "wpa2-wpa3-psk";

export interface WifiNetwork {
  /** SSID as raw bytes (up to 32; not necessarily UTF-8). */
  readonly ssid: Uint8Array;
  readonly bssid: Uint8Array;
  readonly channel: number;
  readonly rssi: number;
  readonly auth: WifiAuthMode;
}

/** Why a connection attempt failed or a connection was lost (the reasons Espressif's prov-config reports). */
export type WifiFailure = "auth-error" | "network-not-found" | "connection-lost";

export type WifiEvent =
  | { readonly type: "connecting" }
  | { readonly type: "connected"; readonly ip: string }
  | { readonly type: "disconnected"; readonly reason: WifiFailure };

export interface WifiConnectOptions {
  readonly ssid: Uint8Array;
  readonly passphrase?: Secret;
  readonly bssid?: Uint8Array;
  readonly channel?: number;
}

export interface WifiStation {
  /** Bring the radio up in station mode; afterwards `device.mac()` is readable (ESP32 truth). */
  start(): void;
  /** One scan; results arrive once, asynchronously. */
  scan(onResults: (networks: readonly WifiNetwork[]) => void): void;
  /** Join a network; progress and failures arrive as events, asynchronously. Replaces any earlier attempt. */
  connect(options: WifiConnectOptions, onEvent: (event: WifiEvent) => void): void;
  disconnect(): void;
}

// ---- BLE GATT peripheral (embedded:io/bluetoothle/peripheral on the ESP32; simulated link on the host)

export interface GattDescriptor {
  /** 16-bit UUID as 4 hex digits ("2901") or a 128-bit UUID string. */
  readonly uuid: string;
  readonly value: Uint8Array;
}

export interface BleConnection {
  readonly id: number;
  /** Negotiated ATT MTU; payloads longer than MTU − 3 use long (prepared) writes and offset reads. */
  readonly mtu: number;
}

export interface GattCharacteristic {
  /** 128-bit UUID, "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx". */
  readonly uuid: string;
  readonly properties: readonly ("read" | "write")[];
  readonly descriptors?: readonly GattDescriptor[];
  /**
   * A complete write (Write Request, or Prepare Write… + Execute Write already reassembled by the
   * stack, up to the 512-byte ATT maximum). Runs synchronously inside the write. The stack
   * acknowledges every write: the SDK's NimBLE glue gives JavaScript no way to answer with an ATT
   * error (modules/io/ble/server/esp32/bleserver.c writeCharacteristic), and an exception escaping
   * into it aborts the machine, so the platform catches and logs what this throws. A request the
   * core rejects must therefore fail the read that follows (see src/provisioning/gatt.ts).
   */
  onWrite?(connection: BleConnection, value: Uint8Array): void;
  /**
   * The value a read returns, asked again for every ATT request of a long read, as NimBLE does:
   * the Read Request (offset 0), then each Read Blob (offset = bytes received so far, MTU − 1 per
   * response); the stack serves the offset from the value returned by that call, and fails the
   * request with ATT "Invalid Offset" (0x07) when the value is shorter than the offset.
   */
  onRead?(connection: BleConnection): Uint8Array;
}

export interface GattService {
  readonly uuid: string;
  readonly characteristics: readonly GattCharacteristic[];
}

export interface BlePeripheralOptions {
  /** Complete local name in the scan response, at most 29 characters, e.g. "PROV_1a2b3c". */
  readonly deviceName: string;
  /**
   * The one 128-bit service UUID in the ADV data's complete list (flags + this UUID fill it).
   * Espressif's Android app takes the first advertised UUID as the service, so advertise only this.
   */
  readonly advertisedService: string;
  readonly services: readonly GattService[];
  onConnect?(connection: BleConnection): void;
  onDisconnect?(connection: BleConnection): void;
}

export interface BlePeripheral {
  /**
   * Open a window: declare the services (the first call fixes the GATT table for the life of the
   * unit; a later call must declare the same table or throws BleLayoutError, src/io/ble-layout.ts)
   * and advertise. One central at a time: while it is connected the peripheral does not advertise
   * and disconnects any other central at once; advertising resumes when it leaves.
   */
  start(options: BlePeripheralOptions): void;
  /** Close the window: stop advertising, disconnect the central (its onDisconnect is called). */
  stop(): void;
}

/** Where formatted, already-redacted log records go (serial console, test capture, stdout). */
export type LogSink = (record: LogRecord) => void;

export interface Io {
  readonly network: Network;
  /** Absent where the platform has none (the SDK's desktop simulator has no BLE). */
  readonly ble?: BlePeripheral;
  readonly wifi?: WifiStation;
  readonly storage: KeyValueStorage;
  readonly timers: Timers;
  readonly clock: Clock;
  /** Fill with cryptographically strong random bytes (esp_fill_random on the board). */
  readonly random: (into: Uint8Array) => void;
  /** Hashes, HMAC and AES where the platform runs them best (the SDK's native crypt on the board). */
  readonly crypto: CryptoProvider;
  readonly device: DeviceInfo;
  readonly log: LogSink;
}
