// The emoncms device module's text replies to GET /emoncms/device/auth/request.json
// (PROTOCOL.md §3, cloud-protocols.md §4): "request registered" / "Authentication request
// registered for IP …" while pending, "user:password:basetopic[:port]" once released.
import { Secret } from "../../secrets/secret.js";

export type EmoncmsReplyErrorCode =
  /** Not one of the texts emoncms sends (JSON errors, redis errors, HTML, …). */
  | "malformed-reply"
  /** More than four ":"-separated fields: a password with ":" cannot be expressed in this format. */
  | "colon-in-field";

export class EmoncmsReplyError extends Error {
  constructor(readonly code: EmoncmsReplyErrorCode, message: string) {
    super(message);
  }
}

export type EmoncmsReply =
  | { readonly status: "pending" }
  | { readonly status: "released"; readonly username: string; readonly password: Secret; readonly baseTopic: string; readonly port?: number };

/** emoncms replies are a line of text; anything longer is not one of them. */
export const EMONCMS_MAX_REPLY = 1024;

const PENDING_2018 = /^Authentication request registered for IP [0-9A-Fa-f.:]{2,45}$/;

export function parseEmoncmsReply(text: string): EmoncmsReply {
  if (text.length > EMONCMS_MAX_REPLY) throw new EmoncmsReplyError("malformed-reply", `reply longer than ${EMONCMS_MAX_REPLY} characters`);
  const line = text.replace(/[\r\n]+$/, "");
  if (line === "request registered" || PENDING_2018.test(line)) return { status: "pending" };
  // Reply texts name no secret; a credentials line does, so messages below never quote it.
  if (!/^[\x20-\x7e]+$/.test(line) || line.startsWith("{") || line.startsWith("<")) {
    throw new EmoncmsReplyError("malformed-reply", "reply is neither a pending text nor user:password:basetopic");
  }
  const fields = line.split(":");
  if (fields.length < 3) throw new EmoncmsReplyError("malformed-reply", "reply is neither a pending text nor user:password:basetopic");
  if (fields.length > 4) {
    throw new EmoncmsReplyError("colon-in-field", `reply has ${fields.length} ":"-separated fields (3 or 4 expected): a password or base topic containing ":" cannot be expressed in the emoncms format; change the hub's MQTT password`);
  }
  const [username, password, baseTopic, portText] = fields as [string, string, string, string | undefined];
  if (username.length === 0) throw new EmoncmsReplyError("malformed-reply", "empty MQTT user name");
  if (password.length === 0) throw new EmoncmsReplyError("malformed-reply", "empty MQTT password");
  if (baseTopic.length === 0 || /[#+\s]/.test(baseTopic)) throw new EmoncmsReplyError("malformed-reply", "base topic is empty or has wildcards or spaces");
  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw new EmoncmsReplyError("colon-in-field", 'the 4th field is not a port: a password or base topic containing ":" cannot be expressed in the emoncms format; change the hub\'s MQTT password');
    }
    port = Number(portText);
  }
  return { status: "released", username, password: Secret.fromString(password), baseTopic, ...(port !== undefined ? { port } : {}) };
}
