// Hub discovery with bytes alone and over real UDP: the DNS codec (round trips, compression,
// every malformed shape typed), the DNS-SD step logic, and discovery against a responder and an
// announcer that run on a second simulated device (both engines).
import { utf8 } from "../../src/bytes/bytes.js";
import { parseFactoryConfig, type HubConfig } from "../../src/config/factory-config.js";
import type { Io, UdpSocket } from "../../src/io/io.js";
import { addressFrom, discoverHub, isAnnouncement, serviceStep } from "../../src/onboarding/hub/discovery.js";
import {
  DnsError, decodeMessage, decodeResponse, encodeMessage, encodeQuery, sameName, txtText,
  TYPE_A, TYPE_PTR, TYPE_SRV, TYPE_TXT, type DnsErrorCode, type DnsMessage, type DnsRecord,
} from "../../src/onboarding/hub/mdns.js";
import { check, checkEqual, type Scenario } from "./harness.js";

const base = { class: 1, flush: false, ttl: 120 };

function response(id: number, answers: DnsRecord[], additionals: DnsRecord[] = [], flags = 0x8400): DnsMessage {
  return { id, flags, questions: [], answers, authorities: [], additionals };
}

function dnsCode(bytes: Uint8Array, id?: number): DnsErrorCode | "ok" {
  try {
    if (id === undefined) decodeMessage(bytes);
    else decodeResponse(bytes, id);
    return "ok";
  } catch (e) {
    if (e instanceof DnsError) return e.code;
    throw e;
  }
}

/** Builds a message byte by byte (for shapes our encoder never writes). */
function bytesOf(...parts: (number | string)[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === "number") out.push(p);
    else for (const c of p) out.push(c.charCodeAt(0));
  }
  return new Uint8Array(out);
}

const header = (id: number, flags: number, qd: number, an: number) =>
  [id >> 8, id & 0xff, flags >> 8, flags & 0xff, 0, qd, 0, an, 0, 0, 0, 0];

function hubConfig(extra: Record<string, unknown>): HubConfig {
  return parseFactoryConfig({ chain: ["hub"], hub: { trustOnFirstUse: true, ...extra } }).hub!;
}

/** A port for a listener of this scenario: random, so Node and XS runs on one machine do not collide. */
function randomPort(io: Io): number {
  const b = new Uint8Array(2);
  io.random(b);
  return 20_000 + (((b[0]! << 8) | b[1]!) % 40_000);
}

export const scenarios: Scenario[] = [
  {
    name: "hub dns: a query is RFC 1035 wire format (header, labels, type, class IN)",
    run() {
      const q = encodeQuery(0x1234, "emonpi.local", TYPE_A);
      const expected = bytesOf(...header(0x1234, 0, 1, 0), 6, "emonpi", 5, "local", 0, 0, 1, 0, 1);
      checkEqual([...q], [...expected], "A emonpi.local");
      const decoded = decodeMessage(q);
      checkEqual(decoded.questions, [{ name: "emonpi.local", type: TYPE_A, class: 1 }], "decodes back");
    },
  },
  {
    name: "hub dns: messages round-trip (A, PTR, SRV, TXT, unknown type, cache-flush bit)",
    run() {
      const m: DnsMessage = {
        id: 0xbeef, flags: 0x8400,
        questions: [{ name: "_onboard-hub._tcp.local", type: TYPE_PTR, class: 1 }],
        answers: [{ ...base, name: "_onboard-hub._tcp.local", type: TYPE_PTR, target: "Hub One._onboard-hub._tcp.local".replace(" ", "-") }],
        authorities: [{ ...base, name: "x.local", type: 99, data: new Uint8Array([1, 2, 3]) }],
        additionals: [
          { ...base, flush: true, name: "Hub-One._onboard-hub._tcp.local", type: TYPE_SRV, priority: 0, weight: 5, port: 8443, target: "hub.local" },
          { ...base, flush: true, name: "Hub-One._onboard-hub._tcp.local", type: TYPE_TXT, strings: [utf8("v=1"), utf8("x=")] },
          { ...base, flush: true, name: "hub.local", type: TYPE_A, address: "192.168.1.20" },
        ],
      };
      checkEqual(decodeMessage(encodeMessage(m)), m, "decode(encode(m))");
      const txt = decodeMessage(encodeMessage(m)).additionals[1]!;
      check("strings" in txt, "TXT decoded as strings");
      checkEqual(txtText(txt.strings), ["v=1", "x="], "TXT text");
    },
  },
  {
    name: "hub dns: compressed names are followed (pointers into the question and into other records)",
    run() {
      // question "_onboard-hub._tcp.local" at 12; PTR answer whose name points to it and whose
      // target is "hub" + pointer; SRV of that instance pointing back; A of "box" + ".local".
      const msg = bytesOf(
        ...header(7, 0x8400, 1, 3),
        12, "_onboard-hub", 4, "_tcp", 5, "local", 0, 0, 12, 0, 1, // 12..40 question (name at 12, "local" at 30)
        0xc0, 12, 0, 12, 0, 1, 0, 0, 0, 120, 0, 6, 3, "hub", 0xc0, 12, // PTR → hub._onboard-hub._tcp.local (target at 53)
        0xc0, 53, 0, 33, 0x80, 1, 0, 0, 0, 120, 0, 12, 0, 0, 0, 0, 0x20, 0xfb, 3, "box", 0xc0, 30, // SRV → box.local:8443
        3, "box", 0xc0, 30, 0, 1, 0, 1, 0, 0, 0, 120, 0, 4, 10, 0, 0, 9, // A box.local
      );
      const m = decodeResponse(msg, 7);
      checkEqual(m.questions[0]!.name, "_onboard-hub._tcp.local", "question");
      const [ptr, srv, a] = m.answers as [DnsRecord, DnsRecord, DnsRecord];
      check("target" in ptr && ptr.target === "hub._onboard-hub._tcp.local", "PTR target via pointer");
      check("port" in srv && srv.name === "hub._onboard-hub._tcp.local" && srv.target === "box.local" && srv.port === 8443 && srv.flush, "SRV via pointers, flush bit");
      check("address" in a && a.name === "box.local" && a.address === "10.0.0.9", "A");
      checkEqual(serviceStep("_onboard-hub._TCP.LOCAL", [m]), { found: { address: "10.0.0.9", port: 8443 } }, "DNS-SD step finds the hub (names compare case-insensitively)");
    },
  },
  {
    name: "hub dns: every malformed reply is a typed error (truncation at every length, pointers, loops, IDs)",
    run() {
      const good = encodeMessage(response(9, [{ ...base, name: "emonpi.local", type: TYPE_A, address: "10.1.2.3" }]));
      checkEqual(dnsCode(good, 9), "ok", "the full message decodes");
      for (let n = 0; n < good.length; n++) checkEqual(dnsCode(good.subarray(0, n), 9), "truncated", `cut at ${n} of ${good.length}`);
      checkEqual(dnsCode(good, 10), "wrong-id", "another query's reply");
      checkEqual(dnsCode(encodeQuery(9, "emonpi.local", TYPE_A), 9), "not-a-response", "a query is not a reply");
      checkEqual(dnsCode(encodeMessage(response(9, [], [], 0x8403)), 9), "rcode", "NXDOMAIN");
      const outside = bytesOf(...header(1, 0x8400, 0, 1), 0xc0, 200, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4);
      checkEqual(dnsCode(outside, 1), "bad-pointer", "pointer past the end");
      const self = bytesOf(...header(1, 0x8400, 0, 1), 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4);
      checkEqual(dnsCode(self, 1), "compression-loop", "pointer to itself");
      const pair = bytesOf(...header(1, 0x8400, 0, 1), 1, "a", 0xc0, 16, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4);
      checkEqual(dnsCode(pair, 1), "compression-loop", "two pointers pointing at each other");
      const labelType = bytesOf(...header(1, 0x8400, 0, 1), 0x41, "a", 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4);
      checkEqual(dnsCode(labelType, 1), "bad-name", "extended label type");
      const shortA = bytesOf(...header(1, 0x8400, 0, 1), 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 5, 1, 2, 3, 4, 5);
      checkEqual(dnsCode(shortA, 1), "bad-record", "A record of 5 bytes");
      const srvOverrun = bytesOf(...header(1, 0x8400, 0, 1), 0, 0, 33, 0, 1, 0, 0, 0, 1, 0, 8, 0, 0, 0, 0, 0, 80, 3, "abc", 0);
      checkEqual(dnsCode(srvOverrun, 1), "truncated", "SRV target runs past its record");
      const txtOverrun = bytesOf(...header(1, 0x8400, 0, 1), 0, 0, 16, 0, 1, 0, 0, 0, 1, 0, 2, 5, "a");
      checkEqual(dnsCode(txtOverrun, 1), "bad-record", "TXT string runs past its record");
      const many = bytesOf(0, 1, 0x84, 0, 0, 0, 0, 200, 0, 0, 0, 0);
      checkEqual(dnsCode(many, 1), "too-large", "200 answers announced");
      const long: (number | string)[] = [];
      for (let i = 0; i < 5; i++) long.push(63, "x".repeat(63));
      checkEqual(dnsCode(bytesOf(...header(1, 0x8400, 1, 0), ...long, 0, 0, 1, 0, 1), 1), "bad-name", "name over 255 bytes");
      let encodeError: unknown;
      try { encodeQuery(1, `${"y".repeat(64)}.local`, TYPE_A); } catch (e) { encodeError = e; }
      check(encodeError instanceof DnsError && encodeError.code === "bad-name", "the encoder refuses a 64-byte label");
    },
  },
  {
    name: "hub dns: DNS-SD steps (PTR → SRV → A), version check, announcement bytes",
    run() {
      const svc = "_onboard-hub._tcp.local";
      const ptr: DnsRecord = { ...base, name: svc, type: TYPE_PTR, target: "h1." + svc };
      const srv: DnsRecord = { ...base, name: "h1." + svc, type: TYPE_SRV, priority: 0, weight: 0, port: 9443, target: "Hub.Local" };
      const a: DnsRecord = { ...base, name: "hub.local", type: TYPE_A, address: "192.168.7.2" };
      checkEqual(serviceStep(svc, [response(1, [ptr])]), { next: { name: "h1." + svc, type: TYPE_SRV } }, "PTR alone: ask SRV");
      checkEqual(serviceStep(svc, [response(1, [ptr], [srv])]), { next: { name: "Hub.Local", type: TYPE_A, port: 9443 } }, "PTR + SRV: ask A");
      checkEqual(serviceStep(svc, [response(1, [ptr]), response(2, [srv]), response(3, [a])]), { found: { address: "192.168.7.2", port: 9443 } }, "over three replies");
      const v2: DnsRecord = { ...base, name: "h1." + svc, type: TYPE_TXT, strings: [utf8("v=2")] };
      checkEqual(serviceStep(svc, [response(1, [ptr], [srv, a, v2])]), undefined, "a hub speaking version 2 is not ours");
      checkEqual(serviceStep(svc, [response(1, [{ ...ptr, name: "_other._tcp.local" }])]), undefined, "another service's PTR");
      checkEqual(addressFrom("EMONPI.local", response(1, [{ ...base, name: "emonpi.local", type: TYPE_A, address: "10.0.0.1" }])), "10.0.0.1", "A by name");
      check(sameName("a.local.", "A.LOCAL"), "trailing dot and case");
      check(isAnnouncement(utf8("emonpi.local")), "the announcement");
      check(!isAnnouncement(utf8("emonpi.local\n")) && !isAnnouncement(utf8("emonpi.locaL")) && !isAnnouncement(new Uint8Array(0)), "anything else is not");
    },
  },
  {
    name: "hub discovery over UDP: DNS-SD answer from a responder, else the UDP announcement",
    async run(ctx) {
      const hub = ctx.device();
      const device = ctx.device();
      const mdnsPort = randomPort(hub.io);
      const asked: string[] = [];
      let answering = true;
      let responder: UdpSocket | undefined = undefined;
      responder = hub.io.network.udp({
        port: mdnsPort,
        onReadable() {
          for (let d = responder!.read(); d; d = responder!.read()) {
            const q = decodeMessage(d.data);
            const question = q.questions[0]!;
            asked.push(`${question.type} ${question.name}`);
            if (!answering) continue;
            const svc = "_onboard-hub._tcp.local";
            const answers: DnsRecord[] = question.type === TYPE_PTR ? [{ ...base, name: svc, type: TYPE_PTR, target: "hub1." + svc }] : [];
            const extra: DnsRecord[] = [
              { ...base, name: "hub1." + svc, type: TYPE_SRV, priority: 0, weight: 0, port: 18443, target: "hub1.local" },
              { ...base, name: "hub1.local", type: TYPE_A, address: "127.0.0.1" },
            ];
            responder!.write(encodeMessage(response(q.id, answers, extra)), d.address, d.port);
          }
        },
      });
      try {
        const udpPort = randomPort(hub.io);
        const config = hubConfig({ mdnsServer: `127.0.0.1:${mdnsPort}`, udpPort, discoveryTimeoutMs: 3_000 });
        const found = await discoverHub(device.io, config);
        checkEqual(found, { address: "127.0.0.1", port: 18443, via: "dns-sd" }, "DNS-SD wins");
        checkEqual(asked, [`${TYPE_PTR} _onboard-hub._tcp.local`], "one PTR question was enough");

        // The responder goes quiet: the device asks PTR, then A emonpi.local, then takes the announcement.
        answering = false;
        asked.length = 0;
        const announcer = hub.io.network.udp({ onReadable() {} });
        let announcing = true;
        const announce = () => {
          if (!announcing) return;
          announcer.write(utf8("not the marker"), "127.0.0.1", udpPort);
          announcer.write(utf8("emonpi.local"), "127.0.0.1", udpPort);
          hub.io.timers.set(announce, 100);
        };
        announce();
        try {
          const fallback = await discoverHub(device.io, hubConfig({ mdnsServer: `127.0.0.1:${mdnsPort}`, udpPort, discoveryTimeoutMs: 300, port: 8444 }));
          checkEqual(fallback, { address: "127.0.0.1", port: 8444, via: "udp" }, "the announcement's sender, the configured port");
          checkEqual(asked, [`${TYPE_PTR} _onboard-hub._tcp.local`, `${TYPE_A} emonpi.local`], "mDNS asked first, in order");
        } finally {
          announcing = false;
          announcer.close();
        }
        const nothing = await discoverHub(device.io, hubConfig({ mdnsServer: `127.0.0.1:${mdnsPort}`, udpPort: 0, discoveryTimeoutMs: 200 }));
        checkEqual(nothing, undefined, "no answer, no announcement: nothing found");
      } finally {
        responder.close();
      }
    },
  },
];
