// Log records to the serial console. Records arrive already redacted from the core's Logger.
import type { LogSink } from "../../io/io.js";
import { formatLogRecord } from "../../log/logger.js";

export const traceSink: LogSink = (record) => {
  trace(formatLogRecord(record), "\n");
};
