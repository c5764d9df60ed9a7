// Log sinks for the simulator: print one line per record (the serial console's format) or
// collect the records for a test.
//
// Redaction happens in the core's Logger (a Secret prints as "[redacted]"). As defense in depth,
// these sinks also look at field *names*: a field named like a secret (password, passphrase, pop,
// token, secret, a private/client key, …) whose value is not "[redacted]" means some core code
// logged a secret as a plain string. When collecting for tests the sink throws, so the test
// fails at the offending log call; when printing it redacts the value and warns on stderr, so a
// demo never shows the secret.
import { formatLogRecord, type LogRecord } from "../../src/log/logger.js";
import { REDACTED } from "../../src/secrets/secret.js";
import type { LogSink } from "../../src/io/io.js";

export type SecretFieldPolicy = "throw" | "redact";

/** A log record carried a secret-looking field in clear text. The message names the field, never the value. */
export class SecretInLog extends Error {
  override readonly name = "SecretInLog";
}

const SECRET_WORDS = new Set(["password", "passwd", "pwd", "passphrase", "pop", "secret", "token", "psk"]);
const KEY_QUALIFIERS = new Set(["private", "secret", "client", "api", "external", "shared", "signing", "session", "encryption"]);
const SECRET_NAMES = new Set(["sk"]); // the credential record's field name for the identity key
/** A last word that makes the field describe the secret rather than hold it: passwordLength, tokenSet. */
const DESCRIPTOR_WORDS = new Set(["length", "len", "size", "bytes", "count", "set", "present", "kind", "type", "source", "id", "name", "expires", "expiry"]);

/** Splits "clientKeyPem", "wifi_passphrase", "x-api-key" into lowercase words. */
function words(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w.length > 0)
    .map((w) => w.toLowerCase());
}

export function looksLikeSecretField(name: string): boolean {
  const parts = words(name);
  if (parts.length === 0) return false;
  const whole = name.toLowerCase(); // "PoP" splits into nonsense words
  if (SECRET_NAMES.has(whole) || SECRET_WORDS.has(whole)) return true;
  if (DESCRIPTOR_WORDS.has(parts[parts.length - 1]!) && parts.length > 1) return false;
  if (parts.some((w) => SECRET_WORDS.has(w))) return true;
  return parts.some((w, i) => w === "key" && i > 0 && KEY_QUALIFIERS.has(parts[i - 1]!));
}

/** Names of fields that look secret and hold something other than "[redacted]" (booleans and null are fine). */
export function unredactedSecretFields(record: LogRecord): string[] {
  return Object.keys(record.fields).filter((name) => {
    const value = record.fields[name];
    return looksLikeSecretField(name) && value !== REDACTED && value !== null && typeof value !== "boolean";
  });
}

/** Applies the policy: returns the record (redacted if needed) or throws SecretInLog. */
export function guardSecrets(record: LogRecord, policy: SecretFieldPolicy, warn: (message: string) => void): LogRecord {
  const leaked = unredactedSecretFields(record);
  if (leaked.length === 0) return record;
  const what = `log record ${record.scope}/${record.event} has unredacted secret-looking field(s) ${leaked.join(", ")}`;
  if (policy === "throw") throw new SecretInLog(`${what}: log a Secret, not its revealed value`);
  warn(`host-sim log sink: ${what}; redacted here (the core should wrap it in a Secret)`);
  const fields = { ...record.fields };
  for (const name of leaked) fields[name] = REDACTED;
  return { ...record, fields };
}

export interface PrintSinkOptions {
  /** Default "redact": a demo must not show a secret, and must not crash over a log line either. */
  readonly secretFields?: SecretFieldPolicy;
  /** Where lines go; default stdout for debug/info, stderr for warn/error and for the sink's warnings. */
  readonly write?: (line: string, stream: "stdout" | "stderr") => void;
}

const writeToProcess = (line: string, stream: "stdout" | "stderr"): void => {
  (stream === "stdout" ? process.stdout : process.stderr).write(line + "\n");
};

export function printSink(options: PrintSinkOptions = {}): LogSink {
  const write = options.write ?? writeToProcess;
  const policy = options.secretFields ?? "redact";
  return (record) => {
    const safe = guardSecrets(record, policy, (message) => write(message, "stderr"));
    write(formatLogRecord(safe), safe.level === "warn" || safe.level === "error" ? "stderr" : "stdout");
  };
}

/** Appends every record to `into`. Default policy "throw": in a test a leaked secret is a failure. */
export function collectSink(into: LogRecord[], secretFields: SecretFieldPolicy = "throw"): LogSink {
  return (record) => {
    into.push(guardSecrets(record, secretFields, (message) => process.stderr.write(message + "\n")));
  };
}
