// The proto3 codec against protobufjs loaded with the same .proto files. Input: the first byte
// picks the top-level message (every protocomm payload type), the rest is the wire bytes.
// Properties: only ProtobufError escapes ours; where both decoders accept, they agree field by
// field; what ours accepts re-encodes to bytes that decode to the same value.
import { join, resolve } from "node:path";
import protobuf from "protobufjs";
import { decode, encode, ProtobufError, type MessageDef, type ProtoObject } from "../../../src/protobuf/codec.js";
import { ALL_MESSAGES } from "../../../src/protobuf/messages.js";
import type { Rand } from "../rand.js";
import { expect, FuzzFailure, type FuzzTarget } from "../target.js";
import { sameValue } from "./compare.js";

const PROTO_DIR = resolve(import.meta.dirname, "..", "..", "..", "src", "protobuf", "proto");
let root: protobuf.Root | undefined;
function pbType(def: MessageDef): protobuf.Type {
  if (root === undefined) {
    root = new protobuf.Root();
    root.resolvePath = (_origin, target) => join(PROTO_DIR, target.replace(/^.*\//, ""));
    root.loadSync(["constants.proto", "session.proto", "network.proto", "rainmaker.proto"].map((f) => join(PROTO_DIR, f)), { keepCase: true });
  }
  return root.lookupType(def.name.startsWith("RMaker") ? `rainmaker.${def.name}` : def.name);
}

/** protobufjs's decoded message in our shape; undefined where it cannot be compared. */
function fromPb(def: MessageDef, m: Record<string, unknown>): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  const own = (name: string) => Object.prototype.hasOwnProperty.call(m, name) && m[name] != null;
  // protobufjs sets every oneof member it meets (it does not clear the others): not comparable
  const oneofs = new Set(def.fields.flatMap((f) => (f.oneof !== undefined ? [f.oneof] : [])));
  for (const o of oneofs) if (def.fields.filter((f) => f.oneof === o && own(f.name)).length > 1) return undefined;
  for (const f of def.fields) {
    const v = m[f.name];
    if (f.repeated) {
      const items = ((v as unknown[] | undefined) ?? []).map((x) => fromPb(f.type as MessageDef, x as Record<string, unknown>));
      if (items.includes(undefined)) return undefined;
      out[f.name] = items;
    } else if (typeof f.type === "object") {
      if (!own(f.name)) out[f.name] = undefined;
      else {
        const inner = fromPb(f.type, v as Record<string, unknown>);
        if (inner === undefined) return undefined;
        out[f.name] = inner;
      }
    } else if (f.oneof !== undefined && !own(f.name)) out[f.name] = undefined;
    else if (f.type === "bytes") out[f.name] = own(f.name) ? new Uint8Array(v as Uint8Array) : new Uint8Array(0);
    else if (f.type === "uint32") out[f.name] = own(f.name) ? (v as number) >>> 0 : 0;
    else out[f.name] = own(f.name) ? v : f.type === "string" ? "" : f.type === "bool" ? false : 0;
  }
  return out;
}

function randomMessage(r: Rand, def: MessageDef): ProtoObject {
  const out: Record<string, unknown> = {};
  const chosen = new Map<string, string>();
  for (const f of def.fields) if (f.oneof !== undefined && !chosen.has(f.oneof)) {
    const members = def.fields.filter((m) => m.oneof === f.oneof);
    chosen.set(f.oneof, r.bool(0.85) ? r.pick(members).name : "");
  }
  for (const f of def.fields) {
    if (f.oneof !== undefined && chosen.get(f.oneof) !== f.name) continue;
    const one = (): unknown => {
      if (typeof f.type === "object") return randomMessage(r, f.type);
      switch (f.type) {
        case "bytes": return r.bytes(r.pick([0, 1, 6, 32, 200]));
        case "string": return r.pick(["", "a", "wifiprov", "é中😀", "x".repeat(130)]);
        case "bool": return r.bool();
        case "uint32": return r.pick([0, 1, 127, 128, 300, 0xffffffff]);
        case "int32": return r.pick([0, 1, -1, -100, 2 ** 31 - 1, -(2 ** 31)]);
        default: return r.int(0, 9);
      }
    };
    if (f.repeated) out[f.name] = Array.from({ length: r.int(0, 3) }, one);
    else if (f.oneof !== undefined || typeof f.type === "object" || r.bool(0.8)) out[f.name] = one();
  }
  return out as ProtoObject;
}

function sample(r: Rand): Uint8Array {
  const which = r.int(0, ALL_MESSAGES.length - 1);
  return Uint8Array.from([which, ...encode(ALL_MESSAGES[which]!, randomMessage(r, ALL_MESSAGES[which]!))]);
}

export const protobufTarget: FuzzTarget = {
  name: "protobuf",
  maxLength: 1024,
  seeds: (r) => Array.from({ length: 60 }, () => sample(r)),
  generators: [
    sample,
    // two messages of one type back to back: on the wire that is a merge (scalars replace, repeated
    // fields append, nested messages merge), which protobufjs does as proto3 says
    (r) => {
      const which = r.int(0, ALL_MESSAGES.length - 1);
      const def = ALL_MESSAGES[which]!;
      return Uint8Array.from([which, ...encode(def, randomMessage(r, def)), ...encode(def, randomMessage(r, def))]);
    },
    // a valid message followed by unknown fields of every wire type
    (r) => Uint8Array.from([...sample(r), ...r.pick([[0xf8, 0x07, 0x01], [0x81, 0x08, 1, 2, 3, 4, 5, 6, 7, 8], [0x8d, 0x08, 1, 2, 3, 4], [0xfa, 0x07, 0x02, 0xaa, 0xbb], [0x83, 0x08], [0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]])]),
  ],
  run(input) {
    if (input.length === 0) return;
    const def = ALL_MESSAGES[input[0]! % ALL_MESSAGES.length]!;
    const bytes = input.subarray(1);
    let ours: ProtoObject;
    try {
      ours = decode(def, bytes);
    } catch (e) {
      if (e instanceof ProtobufError) return;
      throw e;
    }
    let again: ProtoObject;
    try {
      again = decode(def, encode(def, ours));
    } catch (e) {
      throw new FuzzFailure(`${def.name}: a decoded value does not decode after re-encoding: ${String(e)}`);
    }
    expect(sameValue(again, ours), `${def.name}: value changed through decode → encode → decode`);
    let theirs: Record<string, unknown>;
    try {
      theirs = pbType(def).decode(bytes) as unknown as Record<string, unknown>;
    } catch {
      return; // protobufjs rejects: nothing to compare
    }
    const shaped = fromPb(def, theirs);
    if (shaped === undefined) return;
    if (sameValue(shaped, ours)) return;
    throw new FuzzFailure(`${def.name}: ours and protobufjs decode the same bytes differently`);
  },
};
