// The credential record decoder (UTF-8 JSON from flash). Properties: decodeRecord returns a
// record or throws RecordError, nothing else; a record it returns is whole (32-byte keys, every
// field it read kept): encoding it and decoding again gives the same bytes.
import { fromUtf8, utf8 } from "../../../src/bytes/bytes.js";
import { decodeRecord, encodeRecord, RecordError, type CredentialRecord } from "../../../src/storage/credential-record.js";
import { Secret } from "../../../src/secrets/secret.js";
import type { Rand } from "../rand.js";
import { expect, FuzzFailure, type FuzzTarget, type KnownIssue } from "../target.js";
import { sameValue } from "./compare.js";

export function sampleRecord(r: Rand): CredentialRecord {
  const full = r.bool();
  return {
    version: 1,
    identity: { secretKey: Secret.fromBytes(r.bytes(32)), publicKey: r.bytes(32) },
    ...(r.bool(0.8) ? {
      mqtt: {
        brokerUrl: r.pick(["mqtts://broker.example:8883", "mqtts://10.0.0.1", "mqtts://[::1]:1883/"]),
        clientId: "node-1",
        ...(full ? { username: "dev", password: Secret.fromBytes(r.bytes(r.int(0, 24))), ca: "-----BEGIN CERTIFICATE-----\nx\n", serverName: "broker" } : {}),
        ...(full && r.bool() ? { clientCertificate: "cert", clientKey: Secret.fromString("key") } : {}),
        ...(r.bool() ? { topics: { telemetry: "t/1", status: "s/1" } } : {}),
      },
    } : {}),
    ...(r.bool(0.5) ? { strategy: { name: "bootstrap", state: { attempts: r.int(0, 9), ok: r.bool(), last: null, id: "x" } } } : {}),
  };
}

/** A record is whole when it survives encode → decode unchanged. */
export function checkWholeRecord(record: CredentialRecord, what: string): void {
  expect(record.version === 1, `${what}: version ${record.version}`);
  expect(record.identity.secretKey.revealBytes().length === 32 && record.identity.publicKey.length === 32, `${what}: identity keys not 32 bytes`);
  const bytes = encodeRecord(record);
  let again: CredentialRecord;
  try {
    again = decodeRecord(bytes);
  } catch (e) {
    throw new FuzzFailure(`${what}: a decoded record does not decode after re-encoding: ${String(e)}`);
  }
  expect(sameValue(encodeRecord(again), bytes), `${what}: record changed through encode → decode`);
}

/** Maps the decoder copies (topics, strategy state) keep every entry the input had. */
export function checkNothingDropped(input: Uint8Array, record: CredentialRecord): void {
  const json = JSON.parse(fromUtf8(input)) as { mqtt?: { topics?: object }; strategy?: { state?: object } };
  const count = (o: object | undefined) => (o === undefined ? 0 : Object.keys(o).length);
  expect(count(json.mqtt?.topics) === count(record.mqtt?.topics), `mqtt.topics: ${count(json.mqtt?.topics)} entries stored, ${count(record.mqtt?.topics)} decoded`);
  expect(count(json.strategy?.state) === count(record.strategy?.state), `strategy.state: ${count(json.strategy?.state)} entries stored, ${count(record.strategy?.state)} decoded`);
}

const KEYS = ["v", "id", "sk", "pk", "mqtt", "url", "cid", "user", "pass", "ca", "sni", "cert", "key", "topics", "strategy", "name", "state", "__proto__", "constructor", "toString", ""];

function randomJson(r: Rand, depth: number): unknown {
  switch (r.int(0, depth > 2 ? 5 : 7)) {
    case 0: return null;
    case 1: return r.bool();
    case 2: return r.pick([0, 1, 2, -1, 1.5, 1e300, 4294967296]);
    case 3: return r.pick(["", "mqtts://h:1", "mqtt://h", "00", "0".repeat(64), "ff".repeat(31), "FF".repeat(32), "zz", "\u0000"]);
    case 4: return "ab".repeat(r.int(0, 40));
    case 5: return r.pick(KEYS);
    case 6: return Array.from({ length: r.int(0, 3) }, () => randomJson(r, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = r.int(0, 3); i > 0; i--) Object.defineProperty(o, r.pick(KEYS), { value: randomJson(r, depth + 1), enumerable: true, configurable: true, writable: true });
      return o;
    }
  }
}

/** Replace, delete or add one field somewhere in a valid record's JSON. */
function mutateJson(r: Rand, value: unknown, depth = 0): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value) || (depth > 0 && r.bool(0.3))) return r.bool(0.7) ? randomJson(r, depth) : value;
  const o = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) Object.defineProperty(out, k, { value: o[k], enumerable: true, configurable: true, writable: true });
  const keys = Object.keys(out);
  const roll = r.int(0, 3);
  if (roll === 0 && keys.length) delete out[r.pick(keys)];
  else if (roll === 1) Object.defineProperty(out, r.pick(KEYS), { value: randomJson(r, depth + 1), enumerable: true, configurable: true, writable: true });
  else if (keys.length) { const k = r.pick(keys); out[k] = mutateJson(r, out[k], depth + 1); }
  return out;
}

export function nearlyValidRecordBytes(r: Rand): Uint8Array {
  const json = JSON.parse(fromUtf8(encodeRecord(sampleRecord(r)))) as unknown;
  let mutated = json;
  for (let i = r.int(1, 3); i > 0; i--) mutated = mutateJson(r, mutated);
  return utf8(JSON.stringify(mutated));
}

/** A valid record with one odd entry in a map the decoder copies (topics, strategy state). */
export function oddMapEntryBytes(r: Rand): Uint8Array {
  const json = JSON.parse(fromUtf8(encodeRecord(sampleRecord(r)))) as { mqtt?: { topics?: object }; strategy?: { state?: object } };
  const map = r.bool() ? json.mqtt?.topics : json.strategy?.state;
  if (map) Object.defineProperty(map, r.pick(KEYS), { value: r.bool() ? r.pick([null, "x", 1, true]) : randomJson(r, 2), enumerable: true, configurable: true, writable: true });
  return utf8(JSON.stringify(json));
}

/** Found by this fuzzer in src/storage/credential-record.ts; reported, not ours to fix. */
/** Record-level issues the fuzzer once found; all fixed (their inputs stay as regressions). */
export const RECORD_KNOWN_ISSUES: readonly KnownIssue[] = [];

export const credentialRecordTarget: FuzzTarget = {
  name: "credential-record",
  maxLength: 4096,
  seeds(r) {
    return Array.from({ length: 50 }, () => encodeRecord(sampleRecord(r)));
  },
  generators: [nearlyValidRecordBytes, oddMapEntryBytes],
  knownIssues: RECORD_KNOWN_ISSUES,
  run(input) {
    let record: CredentialRecord;
    try {
      record = decodeRecord(input);
    } catch (e) {
      if (e instanceof RecordError) return;
      throw e;
    }
    checkWholeRecord(record, "decodeRecord");
    checkNothingDropped(input, record);
  },
};
