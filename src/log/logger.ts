// Structured logging with redaction by construction: a field value is either plain data or a
// Secret, and a Secret is rendered as "[redacted]" before the record ever leaves the core. Byte
// arrays are not loggable at all (keys are bytes), and Error values are reduced to their message,
// which the core's typed errors keep free of secrets.
import type { LogSink } from "../io/io.js";
import { isSecret, REDACTED, type Secret } from "../secrets/secret.js";
import { redactUrlUserInfo } from "./url-redaction.js";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogValue = string | number | boolean | null | undefined | Secret | readonly string[];
export type LogFields = Readonly<Record<string, LogValue>>;

export interface LogRecord {
  /** Milliseconds since the epoch, from the I/O clock. */
  readonly time: number;
  readonly level: LogLevel;
  /** Which part of the firmware speaks: "boot", "mqtt", "store", … */
  readonly scope: string;
  /** A short event name: "connected", "backoff", … */
  readonly event: string;
  readonly fields: Readonly<Record<string, string | number | boolean | null>>;
}

export class Logger {
  constructor(
    private readonly sink: LogSink,
    private readonly now: () => number,
    readonly scope: string,
  ) {}

  child(scope: string): Logger {
    return new Logger(this.sink, this.now, scope);
  }

  debug(event: string, fields?: LogFields): void { this.#emit("debug", event, fields); }
  info(event: string, fields?: LogFields): void { this.#emit("info", event, fields); }
  warn(event: string, fields?: LogFields): void { this.#emit("warn", event, fields); }
  error(event: string, fields?: LogFields): void { this.#emit("error", event, fields); }

  #emit(level: LogLevel, event: string, fields: LogFields | undefined): void {
    const clean: Record<string, string | number | boolean | null> = {};
    if (fields) {
      for (const key of Object.keys(fields)) {
        const value = fields[key];
        if (value === undefined) continue;
        if (isSecret(value)) clean[key] = REDACTED;
        else if (Array.isArray(value)) clean[key] = value.join(",");
        else if (typeof value === "object" && value !== null) clean[key] = REDACTED; // not a LogValue: refuse to print it
        else if (typeof value === "string") clean[key] = redactUrlUserInfo(value); // a URL's password never prints
        else clean[key] = value as string | number | boolean | null;
      }
    }
    this.sink({ time: this.now(), level, scope: this.scope, event, fields: clean });
  }
}

/** One line per record, the format of the serial console and of the simulator's output. */
export function formatLogRecord(record: LogRecord): string {
  const iso = new Date(record.time).toISOString();
  let line = `${iso} ${record.level.toUpperCase().padEnd(5)} ${record.scope}: ${record.event}`;
  for (const key of Object.keys(record.fields)) {
    const value = record.fields[key];
    line += ` ${key}=${typeof value === "string" && /[\s"=]/.test(value) ? JSON.stringify(value) : String(value)}`;
  }
  return line;
}
