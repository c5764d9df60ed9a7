// The protocomm GATT table (reference §1.2): one primary service; one characteristic per
// endpoint, READ|WRITE, UUID derived from the service UUID by endpoint ID, with exactly one
// 0x2901 descriptor holding the endpoint name. A request is a write; the response is stored
// as that characteristic's value and returned by the next read (long reads served by the stack).
//
// A rejected request (wrong PoP, lockout, malformed or undecryptable request): Espressif's devices
// fail the write (NimBLE: ATT error; Bluedroid: error and disconnect). The SDK's GATT server
// acknowledges every write (src/io/io.ts, onWrite), so the failure is carried by the read the
// phone makes next: the first read returns REJECTION_FILLER_BYTES, more than fit in one Read
// Response, so the phone's stack continues with a Read Blob at offset MTU − 1; that read returns
// nothing, and the stack fails the Read Blob with ATT "Invalid Offset" (NimBLE serves each offset
// from the value returned then). Both official libraries treat a failed read as a failed request
// (Android BLETransport.onCharacteristicRead → ResponseListener.onFailure; iOS ESPBleTransport
// didUpdateValueFor with an error → completion(nil, error)), which an empty value is not: Android
// then parses the empty reply and waits forever. The filler is 0xFF, an invalid protobuf (wire
// type 7), in case a client reads no further than the first piece.
import { utf8 } from "../bytes/bytes.js";
import type { BleConnection, GattCharacteristic, GattService } from "../io/io.js";
import { STANDARD_ENDPOINTS, type ProvisioningService } from "./service.js";
import { characteristicUuid } from "./uuid.js";

/**
 * Custom endpoints a window of this firmware may serve. The table declares every one of them in
 * every window, with fixed IDs in this order after the standard ones (0xFF54, 0xFF55): the SDK
 * registers the table once per boot (src/io/ble-layout.ts), while the set a window serves changes
 * within one boot (`ch_resp` only until a provisioning has completed; a factory reset turns it back
 * on). One the window does not serve answers as an unknown endpoint (the read after the write
 * fails); the apps pick endpoints from proto-ver's capabilities and find characteristics by their
 * 0x2901 name, so it stays unused. Other custom endpoints of the service follow (0xFF56, …).
 */
export const DECLARED_CUSTOM_ENDPOINTS: readonly string[] = ["cloud_user_assoc", "ch_resp"];

/** The endpoints of the GATT table: standard IDs, then the declared custom ones, then any other the service has. */
export function gattEndpoints(service: ProvisioningService): { readonly name: string; readonly id: number }[] {
  const out: { name: string; id: number }[] = [...STANDARD_ENDPOINTS];
  let next = 0xff54;
  for (const name of DECLARED_CUSTOM_ENDPOINTS) out.push({ name, id: next++ });
  for (const e of service.endpoints) if (!out.some((o) => o.name === e.name)) out.push({ name: e.name, id: next++ });
  return out;
}

/** ATT's largest attribute value; longer than one Read Response at any MTU the peripherals negotiate (≤ 512). */
export const REJECTION_FILLER_BYTES = 512;

type Stored =
  | { readonly kind: "response"; readonly value: Uint8Array }
  /** A rejected request; `served` once the filler went out (the next read is the failing Read Blob). */
  | { readonly kind: "rejected"; served: boolean };

export function buildGattService(service: ProvisioningService, serviceUuid: string): GattService {
  const stored = new Map<string, Stored>(); // per characteristic, for the current connection
  let owner: number | undefined;
  const characteristics: GattCharacteristic[] = gattEndpoints(service).map(({ name, id }) => {
    const uuid = characteristicUuid(serviceUuid, id);
    return {
      uuid,
      properties: ["read", "write"],
      descriptors: [{ uuid: "2901", value: utf8(name) }],
      onWrite(connection: BleConnection, value: Uint8Array): void {
        if (value.length === 0) return; // NimBLE protocomm ignores zero-length writes
        if (owner !== connection.id) {
          stored.clear();
          owner = connection.id;
        }
        stored.delete(uuid);
        try {
          stored.set(uuid, { kind: "response", value: service.handle(connection.id, name, value) });
        } catch {
          // the service reported it (event + log); the phone learns it from the read
          stored.set(uuid, { kind: "rejected", served: false });
        }
      },
      onRead(connection: BleConnection): Uint8Array {
        if (owner !== connection.id) return new Uint8Array(0);
        const entry = stored.get(uuid);
        if (entry === undefined) return new Uint8Array(0);
        if (entry.kind === "response") return entry.value;
        if (entry.served) {
          stored.delete(uuid); // this is the Read Blob: shorter than its offset, it fails
          return new Uint8Array(0);
        }
        entry.served = true;
        return new Uint8Array(Math.max(REJECTION_FILLER_BYTES, connection.mtu - 1)).fill(0xff);
      },
    };
  });
  return { uuid: serviceUuid, characteristics };
}
