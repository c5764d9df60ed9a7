// The hub's state: requests (pending and decided), the audit log and the logins it issued, in one
// JSON file in the state folder, written atomically (temp file, fsync, rename) after each change,
// so a restarted hub loses nothing. Passwords are not kept here (the cloud holds the login).
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeJsonAtomically } from "../cloud/json-file.js";

export type RequestStatus = "pending" | "allowed" | "released" | "denied";

export interface HubRequest {
  /** node ID (secure dialect) or "ip:<address>" (emoncms dialect, which has no identity). */
  key: string;
  dialect: "secure" | "emoncms";
  name: string;
  address: string;
  firstSeen: number;
  lastSeen: number;
  requests: number;
  status: RequestStatus;
  nodeId?: string;
  publicKey?: string;
  nonce?: string;
  pairingCode?: string;
  /** Open release window (status "allowed"): until when, for which address and pairing run. */
  window?: { until: number; address: string; nonce?: string; by: string };
  /** What happened last, for the page ("window expired", "released to 127.0.0.1", …). */
  note?: string;
  /**
   * Another pairing run of the same node that asked while an Allow was open (the Allow is not
   * cancelled by it; the page shows it). It takes over when the window closes unused.
   */
  contender?: { nonce: string; address: string; pairingCode: string; name: string; publicKey: string; at: number };
}

export type AuditDecision = "allow" | "deny" | "release" | "expire" | "clear" | "cancel" | "drop" | "conflict" | "evict";

export interface AuditEntry { time: number; key: string; address: string; decision: AuditDecision; who: string; detail?: string }

export interface IssuedLogin { username: string; key: string; clientId?: string; topics: string[]; issuedAt: number }

interface HubStateData { version: 1; requests: HubRequest[]; audit: AuditEntry[]; logins: IssuedLogin[] }

const AUDIT_LIMIT = 1000;

export class HubState {
  readonly #path: string;
  data: HubStateData;

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    this.#path = join(dir, "hub-state.json");
    this.data = existsSync(this.#path) ? (JSON.parse(readFileSync(this.#path, "utf8")) as HubStateData) : { version: 1, requests: [], audit: [], logins: [] };
    if (this.data.version !== 1) throw new Error(`hub state ${this.#path}: unsupported version`);
  }

  request(key: string): HubRequest | undefined {
    return this.data.requests.find((r) => r.key === key);
  }

  audit(entry: AuditEntry): void {
    this.data.audit.push(entry);
    if (this.data.audit.length > AUDIT_LIMIT) this.data.audit.splice(0, this.data.audit.length - AUDIT_LIMIT);
  }

  save(): void {
    writeJsonAtomically(this.#path, this.data);
  }
}
