// The ECMA-419 GATT server (documentation/io/ble, modules/io/ble/server/esp32): services declared at
// run time in JavaScript, with descriptors. Present on esp32 (NimBLE) and mac; absent on lin/win.

// As in the SDK's typings, only GATTServer is exported: the glue derives the option types from
// its constructor.
declare module "embedded:io/bluetoothle/peripheral" {
  interface GATTServerConnection {
    /**
     * Negotiated ATT MTU − 3. The SDK's typings spell it `maxinumWrite`; the run-time getter is
     * `maximumWrite` (modules/io/ble/server/esp32/bleserver.js), which the glue reads through a cast.
     */
    get maxinumWrite(): number;
    close(): void;
  }

  interface GATTServerDescriptor {
    /** "2901" for a 16-bit UUID. */
    uuid: string;
    /** Static value, answered by the stack (at most ATT_MTU_MAX − 3 bytes). */
    value?: ByteBuffer;
  }

  interface GATTServerCharacteristic {
    uuid: string;
    /** Bit set of GATTServer.properties. The SDK requires onRead iff "read", onWrite iff a write property. */
    properties?: number;
    descriptors?: GATTServerDescriptor[];
    /** Called for every read and read-blob; NimBLE serves the offset from the full value returned. */
    onRead?(this: GATTServerCharacteristic, connection: GATTServerConnection): ByteBuffer;
    /** The whole value: the ESP32 implementation copies the full mbuf chain, so long writes arrive reassembled. */
    onWrite?(this: GATTServerCharacteristic, value: ArrayBuffer, connection: GATTServerConnection): void;
  }

  interface GATTServerService {
    uuid: string;
    characteristics?: GATTServerCharacteristic[];
  }

  /** Serialised by convert() in bleserver.js into at most 31 bytes ("unrecognized …" for other keys). */
  interface AdvertisingRecords {
    name?: string;
    /** 16-, 32- or 128-bit UUIDs as hex strings. */
    services?: string[];
    /** The AD flags byte as given. The ESP32 GATTServer has no static `advertise` (only the SDK's typings declare one). */
    flags?: number;
  }

  interface GATTServerOptions {
    /** Preferred ATT MTU (clamped to 23…527 by NimBLE). */
    mtu?: number;
    services: GATTServerService[];
    onReady?(this: GATTServer): void;
    onConnect?(this: GATTServer, connection: GATTServerConnection): void;
    onDisconnect?(this: GATTServer, connection: GATTServerConnection): void;
    onWarning?(this: GATTServer, message: string): void;
  }

  class GATTServer {
    constructor(options: GATTServerOptions);
    startAdvertising(advertisement: AdvertisingRecords, scanResponse?: AdvertisingRecords): void;
    stopAdvertising(): void;
    close?(): void;
    static readonly properties: {
      readonly read: number;
      readonly write: number;
      readonly writeWithOutResponse: number;
      readonly notify: number;
    };
  }

  export { GATTServer };
}
