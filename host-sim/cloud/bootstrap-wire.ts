// What the reference cloud's bootstrap service puts on the wire, per service version, so the demo
// and the e2e tests meet the real shapes: status codes, error bodies and their content types as
// recorded from the real Mainflux 0.12.1, 0.13.0 and the 2023-08 master
// (test/fixtures/mainflux-bootstrap/recorded.json); later versions by source
// (reference/cloud-protocols.md §1.4, not recorded: they reuse the 2023 texts).
import { bootstrapProfile, type BootstrapVersion } from "../../src/onboarding/bootstrap-version.js";
import type { BootstrapConfigRecord } from "./state.js";

export interface WireReply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export type BootstrapRefusal =
  | "unknown-id" // no config for the external ID
  | "wrong-key" // key (or decrypted key) is not the config's
  | "missing-key" // no Authorization, or another scheme
  | "not-hex" // secure: the credential is not hex
  | "disabled"; // Magistrala 0.30 gates bootstrap on the config's state

type Era = "0.12" | "0.13" | "2023";

function era(version: BootstrapVersion): Era {
  return version === "mainflux-0.12" ? "0.12" : version === "mainflux-0.13" ? "0.13" : "2023";
}

/** Go's hex.DecodeString error text for `s` (the 2023 master echoes it). */
function hexError(s: string): string {
  const bad = [...s].find((c) => !/[0-9A-Fa-f]/.test(c));
  if (bad === undefined) return "encoding/hex: odd length hex string";
  const code = bad.codePointAt(0)!;
  return `encoding/hex: invalid byte: U+${code.toString(16).toUpperCase().padStart(4, "0")} '${bad}'`;
}

export function refusal(version: BootstrapVersion, why: BootstrapRefusal, credential = ""): WireReply {
  const e = era(version);
  // 0.12 sets the JSON content type before writing the status; 0.13 and later set it after, so
  // Go sends its sniffed text/plain instead (the recordings show both).
  const contentType = e === "0.12" ? "application/json" : "text/plain; charset=utf-8";
  const reply = (status: number, message: string): WireReply => {
    const body = Buffer.from(`${JSON.stringify({ error: message })}\n`);
    return { status, headers: { "Content-Type": contentType, "Content-Length": String(body.length) }, body };
  };
  switch (why) {
    case "unknown-id":
      return reply(404, e === "2023" ? "failed to read bootstrap configuration : entity not found" : "failed to read bootstrap configuration");
    case "wrong-key":
      return reply(e === "0.12" ? 404 : 403, "failed to get bootstrap configuration for given external key");
    case "missing-key":
      return e === "0.12" ? reply(403, "missing or invalid credentials provided")
        : reply(401, e === "0.13" ? "missing or invalid bearer entity key" : "something went wrong with the request : missing or invalid bearer entity key");
    case "not-hex": {
      const base = "failed to get bootstrap configuration for given encrypted external key";
      return reply(e === "0.12" ? 404 : 403, e === "2023" ? `${base} : ${hexError(credential)}` : base);
    }
    case "disabled":
      return reply(403, "config is disabled");
  }
}

/** The reply object in the version's field names and Go's struct order (id, key, channels, content, certs). */
export function replyObject(version: BootstrapVersion, config: BootstrapConfigRecord): Record<string, unknown> {
  const profile = bootstrapProfile(version);
  const certs = {
    ...(config.clientCert !== undefined ? { client_cert: config.clientCert, client_key: config.clientKey } : {}),
    ...(config.caCert !== undefined ? { ca_cert: config.caCert } : {}),
  };
  if (profile.reply.kind === "content") {
    // 0.30 sends no credentials of its own: a profile template renders them into content. Ours
    // renders the 0.20 field names plus whatever JSON object the operator put in the config.
    let custom: Record<string, unknown> = {};
    try {
      const parsed = config.content === undefined ? {} : (JSON.parse(config.content) as unknown);
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) custom = parsed as Record<string, unknown>;
    } catch {
      custom = {};
    }
    const rendered = { ...custom, client_id: config.thingId, client_secret: config.thingKey, channels: config.channels };
    return { id: config.configId, content: JSON.stringify(rendered), ...certs };
  }
  const fields = profile.reply;
  return {
    [fields.id]: config.thingId,
    [fields.key]: config.thingKey,
    [fields.channels]: config.channels,
    ...(config.content !== undefined ? { content: config.content } : {}),
    ...certs,
  };
}

/** 200 with the plain JSON: Go's json.Encoder adds a newline. */
export function plainReply(json: Record<string, unknown>): WireReply {
  const body = Buffer.from(`${JSON.stringify(json)}\n`);
  return { status: 200, headers: { "Content-Type": "application/json", "Content-Length": String(body.length) }, body };
}

/** 200 with IV ‖ AES-CFB(json.Marshal output): binary under a JSON content type, as the real service sends it. */
export function secureReply(sealed: Uint8Array): WireReply {
  const body = Buffer.from(sealed);
  return { status: 200, headers: { "Content-Type": "application/json", "Content-Length": String(body.length) }, body };
}

/**
 * The external ID as the version's router hands it to the service: Mainflux's routers
 * percent-decode the path; Magistrala's chi (0.14 on) matches the raw path, so "02%3A00…" is
 * another ID than "02:00…" there.
 */
export function routedExternalId(version: BootstrapVersion, rawSegment: string): string | undefined {
  if (version === "mainflux-0.12" || version === "mainflux-0.13" || version === "mainflux-2023") {
    try {
      return decodeURIComponent(rawSegment);
    } catch {
      return undefined;
    }
  }
  return rawSegment;
}
