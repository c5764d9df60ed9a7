// The reference cloud's state: bootstrap configs, the self-registration allow-list, shared
// accounts, and every MQTT credential the broker accepts. Persisted as one JSON file written
// atomically (temp file, fsync, rename), so a restart loses nothing. Node 20 has no node:sqlite
// and no database dependency is available here; for a reference service one small file is enough.
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { writeJsonAtomically } from "./json-file.js";

/**
 * Device API generation of the bootstrap service: "raw" (Mainflux ≤0.12), "thing" (0.13, Magistrala
 * v0.14–v0.15), "client" (SuperMQ v0.16, Magistrala v0.20), "client-v0.30" (Magistrala v0.30: same
 * path and scheme as "client", reply {id, content, certs} with the credentials rendered into content).
 */
export type Generation = "raw" | "thing" | "client" | "client-v0.30";

export interface ChannelRecord { id: string; name: string; metadata?: Record<string, unknown> }

export interface BootstrapConfigRecord {
  externalId: string;
  externalKey: string;
  thingId: string;
  thingKey: string;
  /** Magistrala v0.30's enrollment (config) ID; set on first use. */
  configId?: string;
  channels: ChannelRecord[];
  content?: string;
  clientCert?: string;
  clientKey?: string;
  caCert?: string;
  enabled: boolean;
}

/** One MQTT login the broker accepts. */
export interface CredentialRecordCloud {
  username: string;
  password: string;
  /** When set, CONNECT must use exactly this client ID. */
  clientId?: string;
  /** Topic prefixes this login may publish and subscribe under. */
  topics: string[];
  enabled: boolean;
  /** Which device it belongs to ("bootstrap:<externalId>", "register:<serial>", "shared:<username>"). */
  owner: string;
  issuedAt: string;
  /** Where the cloud sends this device commands (rotation). */
  commandTopic?: string;
  /** Set on a rotated-in credential: the one it replaces, revoked once this one is used. */
  replaces?: string;
}

export interface RegisteredDevice { serial: string; deviceId: string; username: string; enabled: boolean; registeredAt: string }

export interface SharedAccount {
  username: string;
  password: string;
  clientIdPattern: string;
  /** Register on first connect: a unit may ask for credentials of its own (shared-registration.ts). */
  register?: boolean;
}

/** A client ID registered through a shared login, bound to the unit's Ed25519 key. */
export interface SharedRegistration {
  clientId: string;
  nodeId: string;
  publicKey: string;
  /** The login currently issued to it. */
  username: string;
  /** Recent request nonces: a replayed request is refused. */
  nonces: string[];
}

export interface CloudStateData {
  version: 1;
  configs: BootstrapConfigRecord[];
  serials: string[];
  devices: RegisteredDevice[];
  shared: SharedAccount[];
  credentials: CredentialRecordCloud[];
  /** Optional: state files written before register-on-first-connect lack it. */
  registrations?: SharedRegistration[];
  /** The key registration replies are signed with (Ed25519, PKCS#8 DER as hex); made on first use. */
  registrationKey?: string;
}

const empty = (): CloudStateData => ({ version: 1, configs: [], serials: [], devices: [], shared: [], credentials: [] });

export class CloudState {
  readonly path: string | undefined;
  data: CloudStateData;

  constructor(path?: string) {
    this.path = path;
    this.data = path !== undefined && existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as CloudStateData) : empty();
    if (this.data.version !== 1) throw new Error(`cloud state ${path}: unsupported version`);
  }

  /** Write the whole state atomically. */
  save(): void {
    if (this.path !== undefined) writeJsonAtomically(this.path, this.data);
  }

  credential(username: string): CredentialRecordCloud | undefined {
    return this.data.credentials.find((c) => c.username === username);
  }

  issue(record: Omit<CredentialRecordCloud, "issuedAt" | "enabled"> & { enabled?: boolean }): CredentialRecordCloud {
    this.data.credentials = this.data.credentials.filter((c) => c.username !== record.username);
    const full: CredentialRecordCloud = { enabled: true, ...record, issuedAt: new Date().toISOString() };
    this.data.credentials.push(full);
    return full;
  }

  revoke(username: string): boolean {
    const before = this.data.credentials.length;
    this.data.credentials = this.data.credentials.filter((c) => c.username !== username);
    return this.data.credentials.length !== before;
  }
}

export const newId = (): string => randomUUID();
export const newSecret = (bytes = 18): string => randomBytes(bytes).toString("base64url");
/** 24 hex digits, like the ObjectIds Losant uses as device IDs. */
export const newObjectId = (): string => randomBytes(12).toString("hex");
