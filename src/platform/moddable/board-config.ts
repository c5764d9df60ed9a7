// The board's own part of the build-time config (manifest.json "config", read through mc/config):
// device timings, the NVS namespace, the SNTP server, the BLE advertising name, where the per-unit
// proof of possession lives. The fleet's cloud config ("factory") is validated by
// src/config/factory-config.ts. Every field is checked so a bad build fails at boot, by name.
import type { DeviceConfig } from "../../lifecycle/device.js";
import { isNvsName } from "./nvs-names.js";

export class BoardConfigError extends Error {
  readonly code = "bad-board-config";
  readonly path: string;
  constructor(path: string, message: string) {
    super(`board config: ${path}: ${message}`);
    this.path = path;
  }
}

export interface PopSource {
  /** The PoP is written per unit at the factory into this NVS namespace and key (a string). */
  readonly namespace: string;
  readonly key: string;
}

export interface BoardConfig {
  readonly device: DeviceConfig;
  readonly storageNamespace: string;
  /** The SDK's config.file.root where a file system is linked (the desktop simulator keeps its keys there). */
  readonly fileRoot: string | undefined;
  readonly sntp: string | undefined;
  /** False on the desktop simulator, where System.restart() would hang (manifest platforms.lin). */
  readonly canRestart: boolean;
  readonly provisioning: {
    readonly serviceUuid: string;
    /** The advertised name is prefix + the last 3 bytes of the MAC in hex (Espressif's PROV_xxxxxx). */
    readonly namePrefix: string;
    readonly pop: PopSource;
    /** Espressif's two transports: BLE (GATT), HTTP ("softap": on the board's network), or both. */
    readonly transport: ProvisioningTransport;
    /** The HTTP transport's port (protocomm_httpd's default is 80). */
    readonly httpPort: number;
  };
}

export type ProvisioningTransport = "ble" | "http" | "both";
const TRANSPORTS: readonly string[] = ["ble", "http", "both"];

/**
 * A plain copy of mc/config (objects, arrays, strings, numbers, booleans). mc/config is created at
 * preload, and XS refuses to JSON.stringify any preload-created object ("read only value",
 * xsJSON.c): nothing the firmware keeps, stores or logs may be one of its objects.
 */
export function copyConfig(value: unknown, depth = 0): unknown {
  if (depth > 16) throw new BoardConfigError("(config)", "nested too deeply");
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map((item) => copyConfig(item, depth + 1));
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) copy[key] = copyConfig((value as Record<string, unknown>)[key], depth + 1);
  return copy;
}

const UUID128 = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function parseBoardConfig(config: Readonly<Record<string, unknown>>): BoardConfig {
  const device = obj(config.device, "device");
  const storage = obj(config.storage, "storage");
  const provisioning = obj(config.provisioning, "provisioning");
  const pop = obj(provisioning.pop, "provisioning.pop");
  const serviceUuid = str(provisioning.serviceUuid, "provisioning.serviceUuid").toLowerCase();
  if (!UUID128.test(serviceUuid)) throw new BoardConfigError("provisioning.serviceUuid", "must be a 128-bit UUID");
  const maxOutbox = device.maxOutbox === undefined ? undefined : int(device.maxOutbox, "device.maxOutbox", 1, 1000);
  return {
    device: {
      telemetryIntervalMs: int(device.telemetryIntervalMs, "device.telemetryIntervalMs", 0, 86_400_000),
      keepaliveSeconds: int(device.keepaliveSeconds, "device.keepaliveSeconds", 1, 65_535),
      ...(maxOutbox !== undefined ? { maxOutbox } : {}),
    },
    storageNamespace: nvsName(storage.namespace, "storage.namespace"),
    fileRoot: config.file === undefined ? undefined : str(obj(config.file, "file").root, "file.root"),
    sntp: config.sntp === undefined || config.sntp === "" ? undefined : str(config.sntp, "sntp"),
    canRestart: config.canRestart === undefined ? true : bool(config.canRestart, "canRestart"),
    provisioning: {
      serviceUuid,
      namePrefix: str(provisioning.namePrefix, "provisioning.namePrefix"),
      pop: { namespace: nvsName(pop.namespace, "provisioning.pop.namespace"), key: nvsName(pop.key, "provisioning.pop.key") },
      transport: transportOf(provisioning.transport),
      httpPort: provisioning.httpPort === undefined ? 80 : int(provisioning.httpPort, "provisioning.httpPort", 1, 65_535),
    },
  };
}

function transportOf(value: unknown): ProvisioningTransport {
  if (value === undefined) return "ble";
  if (typeof value !== "string" || !TRANSPORTS.includes(value)) throw new BoardConfigError("provisioning.transport", 'must be "ble", "http" or "both"');
  return value as ProvisioningTransport;
}

function obj(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new BoardConfigError(path, "must be an object");
  return value as Record<string, unknown>;
}

function bool(value: unknown, path: string): boolean {
  if (typeof value !== "boolean") throw new BoardConfigError(path, "must be true or false");
  return value;
}

function str(value: unknown, path: string): string {
  if (typeof value !== "string" || value.length === 0) throw new BoardConfigError(path, "must be a non-empty string");
  return value;
}

function int(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new BoardConfigError(path, `must be an integer in ${min}…${max}`);
  }
  return value;
}

function nvsName(value: unknown, path: string): string {
  const name = str(value, path);
  if (!isNvsName(name)) throw new BoardConfigError(path, "NVS names are at most 15 characters");
  return name;
}
