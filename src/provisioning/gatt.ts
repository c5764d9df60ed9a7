// The protocomm GATT table (reference §1.2): one primary service; one characteristic per
// endpoint, READ|WRITE, UUID derived from the service UUID by endpoint ID, with exactly one
// 0x2901 descriptor holding the endpoint name. A request is a write; the response is stored
// as that characteristic's value and returned by the next read (long reads served by the stack).
import { utf8 } from "../bytes/bytes.js";
import type { BleConnection, GattCharacteristic, GattService } from "../io/io.js";
import type { ProvisioningService } from "./service.js";
import { characteristicUuid } from "./uuid.js";

export function buildGattService(service: ProvisioningService, serviceUuid: string): GattService {
  const responses = new Map<string, Uint8Array>(); // per characteristic, for the current connection
  let owner: number | undefined;
  const characteristics: GattCharacteristic[] = service.endpoints.map(({ name, id }) => {
    const uuid = characteristicUuid(serviceUuid, id);
    return {
      uuid,
      properties: ["read", "write"],
      descriptors: [{ uuid: "2901", value: utf8(name) }],
      onWrite(connection: BleConnection, value: Uint8Array): void {
        if (value.length === 0) return; // NimBLE ignores zero-length writes
        if (owner !== connection.id) {
          responses.clear();
          owner = connection.id;
        }
        responses.delete(uuid);
        // throws ProtocommError → the stack fails the write (ATT error), no value stored
        responses.set(uuid, service.handle(connection.id, name, value));
      },
      onRead(connection: BleConnection): Uint8Array {
        if (owner !== connection.id) return new Uint8Array(0);
        return responses.get(uuid) ?? new Uint8Array(0);
      },
    };
  });
  return { uuid: serviceUuid, characteristics };
}
