// A small mDNS / DNS-SD responder for the hub (RFC 6762, RFC 6763), enough for a device that asks
// by "legacy unicast" (PROTOCOL.md §1): PTR for the service type with SRV, TXT and A in the
// additional section, SRV/TXT for the instance, A for the host name. Replies go by unicast to
// the asking address and port, echo the query ID and question, and carry TTL 10 s (§6.7).
// Malformed queries are dropped. Multicast group membership is not needed for the tests and is
// not implemented here.
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import * as dnsPacket from "dns-packet";
import type { Answer, Packet, Question } from "dns-packet";

export interface MdnsResponderOptions {
  readonly host: string;
  readonly port: number;
  /** Service type, e.g. "_onboard-hub._tcp.local". */
  readonly service: string;
  readonly instance: string;
  readonly hostName: string;
  /** IPv4 address in the A record. */
  readonly address: string;
  /** Port in the SRV record (the hub's HTTPS API). */
  readonly apiPort: number;
}

export interface MdnsResponder {
  readonly port: number;
  readonly queries: number;
  readonly answered: number;
  setAddress(address: string): void;
  close(): Promise<void>;
}

const TTL = 10;
const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export async function startMdnsResponder(o: MdnsResponderOptions): Promise<MdnsResponder> {
  const socket: Socket = createSocket({ type: "udp4", reuseAddr: o.port !== 0 });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(o.port, o.host, () => { socket.off("error", reject); resolve(); });
  });
  socket.on("error", () => {});
  let address = o.address;
  let queries = 0;
  let answered = 0;
  const instanceName = `${o.instance}.${o.service}`;

  const records = () => {
    const a: Answer = { type: "A", name: o.hostName, ttl: TTL, class: "IN", data: address };
    const srv: Answer = { type: "SRV", name: instanceName, ttl: TTL, class: "IN", data: { priority: 0, weight: 0, port: o.apiPort, target: o.hostName } };
    const txt: Answer = { type: "TXT", name: instanceName, ttl: TTL, class: "IN", data: ["v=1"] };
    const ptr: Answer = { type: "PTR", name: o.service, ttl: TTL, class: "IN", data: instanceName };
    return { a, srv, txt, ptr };
  };

  const answer = (q: Question): { answers: Answer[]; additionals: Answer[] } => {
    const r = records();
    const any = (q.type as string) === "ANY" || (q.type as string) === "UNKNOWN_255";
    if (same(q.name, o.service) && (q.type === "PTR" || any)) return { answers: [r.ptr], additionals: [r.srv, r.txt, r.a] };
    if (same(q.name, instanceName)) {
      if (q.type === "SRV") return { answers: [r.srv], additionals: [r.a] };
      if (q.type === "TXT") return { answers: [r.txt], additionals: [] };
      if (any) return { answers: [r.srv, r.txt], additionals: [r.a] };
    }
    if (same(q.name, o.hostName) && (q.type === "A" || any)) return { answers: [r.a], additionals: [] };
    return { answers: [], additionals: [] };
  };

  socket.on("message", (msg: Buffer, from: RemoteInfo) => {
    let query: Packet;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return; // malformed: ignore
    }
    if (query.type !== "query" || !query.questions || query.questions.length === 0) return;
    queries += 1;
    const answers: Answer[] = [];
    const additionals: Answer[] = [];
    for (const q of query.questions) {
      const r = answer(q);
      answers.push(...r.answers);
      for (const x of r.additionals) if (!additionals.includes(x)) additionals.push(x);
    }
    if (answers.length === 0) return; // mDNS responders stay silent when they have nothing
    const reply = dnsPacket.encode({
      type: "response",
      id: query.id ?? 0,
      flags: dnsPacket.AUTHORITATIVE_ANSWER,
      questions: query.questions,
      answers,
      additionals,
    });
    answered += 1;
    socket.send(reply, from.port, from.address, () => {});
  });

  const bound = socket.address();
  return {
    port: bound.port,
    get queries() { return queries; },
    get answered() { return answered; },
    setAddress(a) { address = a; },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
