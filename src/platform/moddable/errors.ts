// Typed failures of the board glue. Messages name what failed, never a value that could be secret.

export type BoardErrorCode =
  | "storage-key"     // key longer than NVS allows (15 characters)
  | "storage-value"   // a key holds something other than our byte blobs
  | "pem"             // a PEM block could not be decoded
  | "socket-finished" // write after the socket closed or failed
  | "wifi-ssid"       // SSID bytes are not UTF-8: the SDK's Wi-Fi API takes a string
  | "ble-unavailable" // this build has no BLE peripheral
  | "random"          // the native random source failed
  | "restart-unavailable"; // System.restart() would hang (the SDK's desktop simulator)

export class BoardError extends Error {
  readonly code: BoardErrorCode;
  constructor(code: BoardErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
