// Finding the hub (PROTOCOL.md §1): DNS-SD over mDNS legacy unicast (PTR → SRV/TXT → A), then
// the A record of the configured host name, then the UDP announcement "emonpi.local" whose sender
// is the hub. `hubFromAnswers` reads replies (pure); `discoverHub` is the driver over io.network.udp.
import type { HubConfig } from "../../config/factory-config.js";
import type { Datagram, Io, UdpSocket } from "../../io/io.js";
import type { Logger } from "../../log/logger.js";
import { DnsError, decodeResponse, encodeQuery, sameName, txtText, TYPE_A, TYPE_PTR, TYPE_SRV, TYPE_TXT, type DnsMessage, type DnsRecord } from "./mdns.js";

export interface HubLocation {
  readonly address: string;
  readonly port: number;
  /** How it was found: for the log and the strategy state. */
  readonly via: "fixed" | "dns-sd" | "mdns" | "udp" | "remembered";
}

/** The 12 ASCII bytes of the emoncms announcement. */
export const ANNOUNCEMENT = "emonpi.local";

/** What one DNS-SD step learnt; `next` is the question still to ask. */
export type ServiceStep =
  | { readonly found: { readonly address: string; readonly port: number } }
  | { readonly next: { readonly name: string; readonly type: number; readonly port?: number } }
  | undefined;

function records(m: DnsMessage): DnsRecord[] {
  return [...m.answers, ...m.additionals];
}

function aRecord(all: readonly DnsRecord[], name: string): string | undefined {
  for (const r of all) if (r.type === TYPE_A && "address" in r && sameName(r.name, name)) return r.address;
  return undefined;
}

/** A TXT record that speaks of a version other than 1 marks a hub we do not understand. */
function versionOk(all: readonly DnsRecord[], instance: string): boolean {
  for (const r of all) {
    if (r.type !== TYPE_TXT || !("strings" in r) || !sameName(r.name, instance)) continue;
    for (const entry of txtText(r.strings)) {
      if (/^v=/i.test(entry) && entry.slice(2) !== "1") return false;
    }
  }
  return true;
}

/**
 * From the replies so far to a DNS-SD lookup of `serviceName` (e.g. "_onboard-hub._tcp.local"):
 * the hub, or the next question (SRV of the instance, A of the target), or nothing usable.
 */
export function serviceStep(serviceName: string, replies: readonly DnsMessage[]): ServiceStep {
  const all = replies.flatMap(records);
  for (const ptr of all) {
    if (ptr.type !== TYPE_PTR || !("target" in ptr) || "port" in ptr || !sameName(ptr.name, serviceName)) continue;
    const instance = ptr.target;
    if (!versionOk(all, instance)) continue;
    let srv: { readonly port: number; readonly target: string } | undefined;
    for (const r of all) if (r.type === TYPE_SRV && "port" in r && sameName(r.name, instance)) srv ??= r;
    if (!srv) return { next: { name: instance, type: TYPE_SRV } };
    const address = aRecord(all, srv.target);
    if (address !== undefined) return { found: { address, port: srv.port } };
    return { next: { name: srv.target, type: TYPE_A, port: srv.port } };
  }
  return undefined;
}

/** The address in a reply to "A `name`". */
export function addressFrom(name: string, reply: DnsMessage): string | undefined {
  return aRecord(records(reply), name);
}

/** The announcement's sender is the hub; anything else on the port is not an announcement. */
export function isAnnouncement(data: Uint8Array): boolean {
  if (data.length !== ANNOUNCEMENT.length) return false;
  for (let i = 0; i < data.length; i++) if (data[i] !== ANNOUNCEMENT.charCodeAt(i)) return false;
  return true;
}

// ---- driver

/** Waits for datagrams on one socket; `next(ms)` resolves with one, or undefined after `ms`. */
class Inbox {
  readonly #io: Io;
  readonly socket: UdpSocket;
  #waiter: ((d: Datagram | undefined) => void) | undefined;
  #timer: number | undefined;

  constructor(io: Io, port: number | undefined) {
    this.#io = io;
    this.socket = io.network.udp({
      ...(port !== undefined ? { port } : {}),
      onReadable: () => this.#wake(),
    });
  }

  #wake(): void {
    const waiter = this.#waiter;
    if (!waiter) return;
    const d = this.socket.read();
    if (!d) return;
    this.#settle(d);
  }

  #settle(d: Datagram | undefined): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (this.#timer !== undefined) this.#io.timers.clear(this.#timer);
    this.#timer = undefined;
    waiter?.(d);
  }

  next(ms: number): Promise<Datagram | undefined> {
    const queued = this.socket.read();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => {
      this.#waiter = resolve;
      this.#timer = this.#io.timers.set(() => { this.#timer = undefined; this.#settle(undefined); }, Math.max(0, ms));
    });
  }

  close(): void {
    this.#settle(undefined);
    this.socket.close();
  }
}

function randomId(io: Io): number {
  const b = new Uint8Array(2);
  io.random(b);
  return (b[0]! << 8) | b[1]!;
}

/** Send one question and wait up to `ms` for the reply with its ID; malformed or foreign replies are skipped. */
async function ask(io: Io, inbox: Inbox, config: HubConfig, name: string, type: number, ms: number, log?: Logger): Promise<DnsMessage | undefined> {
  const id = randomId(io);
  try {
    inbox.socket.write(encodeQuery(id, name, type), config.mdnsServer.address, config.mdnsServer.port);
  } catch (e) {
    log?.warn("hub-dns-send", { detail: e instanceof Error ? e.message : "send failed" });
    return undefined;
  }
  const deadline = io.clock.now() + ms;
  for (;;) {
    const left = deadline - io.clock.now();
    if (left <= 0) return undefined;
    const d = await inbox.next(left);
    if (!d) return undefined;
    try {
      return decodeResponse(d.data, id);
    } catch (e) {
      if (!(e instanceof DnsError)) throw e;
      log?.debug("hub-dns-ignored", { from: d.address, code: e.code });
    }
  }
}

/** DNS-SD, then A of the host name; undefined when neither answers. */
async function resolveByMdns(io: Io, config: HubConfig, log?: Logger): Promise<HubLocation | undefined> {
  const perQuery = Math.min(2_000, config.discoveryTimeoutMs);
  let inbox: Inbox;
  try {
    inbox = new Inbox(io, undefined);
  } catch (e) {
    log?.warn("hub-dns-socket", { detail: e instanceof Error ? e.message : "no UDP socket" });
    return undefined;
  }
  try {
    if (config.service !== "") {
      const serviceName = `${config.service}.local`;
      const replies: DnsMessage[] = [];
      let question: { name: string; type: number } = { name: serviceName, type: TYPE_PTR };
      for (let step = 0; step < 3; step++) {
        const reply = await ask(io, inbox, config, question.name, question.type, perQuery, log);
        if (!reply) break;
        replies.push(reply);
        const next = serviceStep(serviceName, replies);
        if (next === undefined) break;
        if ("found" in next) return { ...next.found, via: "dns-sd" };
        question = next.next;
      }
    }
    const reply = await ask(io, inbox, config, config.hostName, TYPE_A, perQuery, log);
    const address = reply && addressFrom(config.hostName, reply);
    if (address !== undefined) return { address, port: config.port, via: "mdns" };
    return undefined;
  } finally {
    inbox.close();
  }
}

/**
 * Where the hub is: the fixed address; else mDNS (DNS-SD, then the host name), falling back to
 * the UDP announcement for up to discoveryTimeoutMs. The announcement socket opens first, so an
 * announcement that arrives while mDNS is asked is not lost.
 */
export async function discoverHub(io: Io, config: HubConfig, log?: Logger): Promise<HubLocation | undefined> {
  if (config.address !== undefined) return { address: config.address, port: config.port, via: "fixed" };
  let announcements: Inbox | undefined;
  if (config.udpPort !== 0) {
    try {
      announcements = new Inbox(io, config.udpPort);
    } catch (e) {
      log?.warn("hub-udp-listen", { port: config.udpPort, detail: e instanceof Error ? e.message : "cannot listen" });
    }
  }
  try {
    const found = await resolveByMdns(io, config, log);
    if (found) return found;
    if (!announcements) return undefined;
    const deadline = io.clock.now() + config.discoveryTimeoutMs;
    for (;;) {
      const left = deadline - io.clock.now();
      if (left <= 0) return undefined;
      const d = await announcements.next(left);
      if (!d) return undefined;
      if (isAnnouncement(d.data)) return { address: d.address, port: config.port, via: "udp" };
    }
  } finally {
    announcements?.close();
  }
}
