// The approval rules (PROTOCOL.md §2 "Hub rules"): requests keyed by node ID (or by address for the
// emoncms dialect), many pending at once; Allow opens a one-shot window bound to the node, the
// address that asked and its pairing run; an unused window expires back to pending; Deny holds
// until a person clears it. Every decision goes to the audit log, under the address that caused
// it. Issue 14 M4: undecided requests are capped per address and in total; when the list is full
// a newcomer evicts the oldest request nobody has allowed (emoncms ones, which prove no identity,
// first; then from the address holding the most), so throwaway identities cannot lock real
// devices out. A second pairing run of a node never cancels an open Allow: it is shown beside it
// and takes over only when the window closes unused. No I/O except the state file.
import type { PairRequest } from "./pairing.js";
import type { AuditDecision, HubRequest, HubState } from "./state.js";

export interface ApprovalOptions {
  readonly windowMs: number;
  /** Undecided requests kept at once; a newcomer beyond it evicts an unallowed one (or gets 429 when none can go). */
  readonly maxPending: number;
  /** Undecided requests from one address; a new node beyond it gets 429 ("busy"). */
  readonly maxPendingPerAddress: number;
  /** A pending request nobody polled for this long is dropped. */
  readonly pendingTtlMs: number;
  readonly busyRetryAfterS: number;
  readonly now: () => number;
}

export type Outcome =
  | { readonly kind: "pending"; readonly request: HubRequest }
  | { readonly kind: "release"; readonly request: HubRequest }
  | { readonly kind: "denied"; readonly request: HubRequest }
  | { readonly kind: "busy"; readonly retryAfterS: number };

export type DecisionResult = { readonly ok: true; readonly request: HubRequest } | { readonly ok: false; readonly reason: string };

export class Approvals {
  readonly #state: HubState;
  readonly #o: ApprovalOptions;
  readonly #changed: () => void;
  /** Bumped on every change; the page polls it. */
  version = 0;

  constructor(state: HubState, options: ApprovalOptions, changed: () => void = () => {}) {
    this.#state = state;
    this.#o = options;
    this.#changed = changed;
  }

  list(): readonly HubRequest[] {
    return this.#state.data.requests;
  }

  /** One valid secure pairing request from `address`, with the code this hub computed for it. */
  secure(req: PairRequest, code: string, address: string): Outcome {
    this.sweep();
    const now = this.#o.now();
    let r = this.#state.request(req.nodeId);
    if (!r) {
      if (!this.#admit(address)) return { kind: "busy", retryAfterS: this.#o.busyRetryAfterS };
      r = { key: req.nodeId, dialect: "secure", nodeId: req.nodeId, name: req.name, address, firstSeen: now, lastSeen: now, requests: 0, status: "pending" };
      this.#state.data.requests.push(r);
    }
    r.lastSeen = now;
    r.requests += 1;
    if (r.status === "denied") return this.#done({ kind: "denied", request: r });
    if (r.nonce !== req.nonceHex && r.status === "allowed" && r.window) {
      // Another pairing run while a person's Allow is open: the Allow stays for the run the
      // person saw; this one is shown beside it (and takes over if the window closes unused).
      const fresh = r.contender?.nonce !== req.nonceHex;
      r.contender = { nonce: req.nonceHex, address, pairingCode: code, name: req.name, publicKey: req.publicKeyHex, at: now };
      r.note = `another pairing run from ${address} (code ${code}) asked while the Allow for ${r.window.address} is open: not released`;
      if (fresh) this.#audit(r, "conflict", "hub", `new pairing run, code ${code}; the open Allow (code ${r.pairingCode ?? "?"}) stays`, address);
      return this.#done({ kind: "pending", request: r });
    }
    if (r.nonce !== req.nonceHex) {
      // A new pairing run shows a new code (and its own signed name).
      if (r.nonce !== undefined && r.status !== "pending") r.note = "new pairing run";
      r.status = "pending";
      delete r.window;
      delete r.contender;
      r.nonce = req.nonceHex;
      r.publicKey = req.publicKeyHex;
      r.pairingCode = code;
      r.name = req.name;
    } else if (r.status === "released") {
      r.status = "pending"; // one-shot: asking again needs a new Allow
      r.note = "asked again after release";
    }
    if (r.status === "allowed" && r.window) {
      if (r.window.address === address && r.window.nonce === req.nonceHex) return this.#release(r, address);
      r.note = `request from ${address} ignored: the window is for ${r.window.address}`;
      return this.#done({ kind: "pending", request: r });
    }
    r.address = address;
    return this.#done({ kind: "pending", request: r });
  }

  /** One emoncms `request.json` from `address` (no identity: the address is the key). */
  emoncms(address: string): Outcome {
    this.sweep();
    const now = this.#o.now();
    const key = `ip:${address}`;
    let r = this.#state.request(key);
    if (!r) {
      if (!this.#admit(address)) return { kind: "busy", retryAfterS: this.#o.busyRetryAfterS };
      r = { key, dialect: "emoncms", name: "emoncms device", address, firstSeen: now, lastSeen: now, requests: 0, status: "pending" };
      this.#state.data.requests.push(r);
    }
    r.lastSeen = now;
    r.requests += 1;
    if (r.status === "denied") return this.#done({ kind: "denied", request: r });
    if (r.status === "released") { r.status = "pending"; r.note = "asked again after release"; }
    if (r.status === "allowed" && r.window?.address === address) return this.#release(r, address);
    return this.#done({ kind: "pending", request: r });
  }

  allow(key: string, who: string): DecisionResult {
    this.sweep();
    const r = this.#state.request(key);
    if (!r) return { ok: false, reason: "no such request" };
    if (r.status !== "pending" && r.status !== "allowed") return { ok: false, reason: `request is ${r.status}` };
    r.status = "allowed";
    r.window = { until: this.#o.now() + this.#o.windowMs, address: r.address, by: who, ...(r.nonce !== undefined ? { nonce: r.nonce } : {}) };
    r.note = `allowed by ${who} for ${r.address}`;
    this.#audit(r, "allow", who, `window ${Math.round(this.#o.windowMs / 1000)} s${r.pairingCode ? `, code ${r.pairingCode}` : ""}`);
    this.#save();
    return { ok: true, request: r };
  }

  deny(key: string, who: string): DecisionResult {
    this.sweep();
    const r = this.#state.request(key);
    if (!r) return { ok: false, reason: "no such request" };
    if (r.status === "denied") return { ok: false, reason: "already denied" };
    r.status = "denied";
    delete r.window;
    r.note = `denied by ${who}`;
    this.#audit(r, "deny", who);
    this.#save();
    return { ok: true, request: r };
  }

  /** Forgets a decided request (denied or released): its next request starts afresh. */
  clear(key: string, who: string): DecisionResult {
    const r = this.#state.request(key);
    if (!r) return { ok: false, reason: "no such request" };
    if (r.status !== "denied" && r.status !== "released") return { ok: false, reason: `request is ${r.status}, nothing to clear` };
    this.#state.data.requests = this.#state.data.requests.filter((x) => x !== r);
    this.#audit(r, "clear", who, `was ${r.status}`);
    this.#save();
    return { ok: true, request: r };
  }

  /** Expires unused windows and drops long-silent pending requests; true if anything changed. */
  sweep(): boolean {
    const now = this.#o.now();
    let changed = false;
    for (const r of [...this.#state.data.requests]) {
      if (r.status === "allowed" && r.window && r.window.until <= now) {
        r.status = "pending";
        this.#audit(r, "expire", "hub", undefined, r.window.address);
        delete r.window;
        r.note = "window expired unused";
        const c = r.contender;
        if (c !== undefined) {
          // The run that asked meanwhile is now the one a person may allow (its own code).
          Object.assign(r, { nonce: c.nonce, address: c.address, pairingCode: c.pairingCode, name: c.name, publicKey: c.publicKey });
          delete r.contender;
          r.note = `window expired unused; the newer pairing run from ${c.address} (code ${c.pairingCode}) is pending`;
        }
        changed = true;
      } else if (r.status === "pending" && now - r.lastSeen > this.#o.pendingTtlMs) {
        this.#state.data.requests = this.#state.data.requests.filter((x) => x !== r);
        this.#audit(r, "drop", "hub", "no request for a long time");
        changed = true;
      }
    }
    if (changed) this.#save();
    return changed;
  }

  #release(r: HubRequest, address: string): Outcome {
    r.status = "released";
    delete r.window;
    delete r.contender;
    r.note = `released to ${address}`;
    this.#audit(r, "release", "hub");
    return this.#done({ kind: "release", request: r });
  }

  #undecided(): HubRequest[] {
    return this.#state.data.requests.filter((r) => r.status === "pending" || r.status === "allowed");
  }

  /** Room for a new request from `address`: per-address cap, then the total with eviction. */
  #admit(address: string): boolean {
    const undecided = this.#undecided();
    if (undecided.filter((r) => r.address === address).length >= this.#o.maxPendingPerAddress) return false;
    if (undecided.length < this.#o.maxPending) return true;
    const perAddress = new Map<string, number>();
    for (const r of undecided) perAddress.set(r.address, (perAddress.get(r.address) ?? 0) + 1);
    // Never an allowed one (a person acted on it). Unverified (emoncms) first, then the most
    // crowded address, then the longest silent.
    const victim = undecided
      .filter((r) => r.status === "pending")
      .sort((a, b) => (a.dialect === b.dialect ? 0 : a.dialect === "emoncms" ? -1 : 1) || perAddress.get(b.address)! - perAddress.get(a.address)! || a.lastSeen - b.lastSeen)[0];
    if (victim === undefined) return false;
    this.#state.data.requests = this.#state.data.requests.filter((x) => x !== victim);
    this.#audit(victim, "evict", "hub", `list full (${this.#o.maxPending}): room made for a request from ${address}`);
    return true;
  }

  #audit(r: HubRequest, decision: AuditDecision, who: string, detail?: string, address: string = r.address): void {
    this.#state.audit({ time: this.#o.now(), key: r.key, address, decision, who, ...(detail !== undefined ? { detail } : {}) });
  }

  #done(o: Outcome): Outcome {
    this.#save();
    return o;
  }

  #save(): void {
    this.version += 1;
    this.#state.save();
    this.#changed();
  }
}
