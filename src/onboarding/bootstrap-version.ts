// The releases of the Mainflux / Magistrala / SuperMQ bootstrap service a fleet may run, each with
// its device-facing wire shape. The firmware decodes a reply by the version the factory config
// names, never by looking at which fields the reply happens to carry: every generation may carry
// client_cert/client_key/ca_cert, so field presence cannot tell them apart (issue 11).
// Facts: reference/cloud-protocols.md §1.2 (paths), §1.3 (header), §1.5 (reply), §1.6 (topics),
// §1.7 (secure key), checked against the recordings in fixtures/mainflux-bootstrap.

export const BOOTSTRAP_VERSIONS = [
  "mainflux-0.12", "mainflux-0.13", "mainflux-2023", "magistrala-0.14", "magistrala-0.15",
  "supermq-0.16", "magistrala-0.20", "magistrala-0.30",
] as const;
export type BootstrapVersion = (typeof BOOTSTRAP_VERSIONS)[number];

/** The older setting: one name per header scheme. Each maps to one version (LEGACY_VERSION). */
export type BootstrapGeneration = "raw" | "thing" | "client";

/**
 * What the old generation names meant before versions were named, kept so existing factory
 * configs behave as they did: "raw" = Mainflux ≤0.12, "thing" = Mainflux 0.13 (mainflux_* fields,
 * hex service key: the defaults "thing" always had), "client" = SuperMQ 0.16 (client_* fields,
 * channels/<id>/messages topics). Magistrala 0.14/0.15, the 2023 master, 0.20 and 0.30 need their
 * version named.
 */
export const LEGACY_VERSION: Readonly<Record<BootstrapGeneration, BootstrapVersion>> = {
  raw: "mainflux-0.12",
  thing: "mainflux-0.13",
  client: "supermq-0.16",
};

/** Where the unit's credentials sit in the reply. */
export type ReplyFields =
  | { readonly kind: "flat"; readonly id: string; readonly key: string; readonly channels: string }
  /** Magistrala 0.30: {id, content, certs}; the credentials are rendered into `content` (client_* names). */
  | { readonly kind: "content" };

export interface BootstrapProfile {
  readonly version: BootstrapVersion;
  /** Human name, for logs and errors. */
  readonly label: string;
  /** Header scheme family; "raw" also selects the ≤0.12 status codes. */
  readonly generation: BootstrapGeneration;
  readonly path: "/things/bootstrap" | "/clients/bootstrap";
  /** Prefix of the Authorization value ("" = the bare key). */
  readonly scheme: "" | "Thing " | "Client ";
  readonly reply: ReplyFields;
  /** How the service turns MF/MG_BOOTSTRAP_ENCRYPT_KEY into AES key bytes. */
  readonly keyEncoding: "hex" | "ascii";
  /** MQTT topics: "channels/<id>/messages" or, from SuperMQ 0.17 / Magistrala 0.20, "m/<domain>/c/<id>". */
  readonly topics: "channels" | "domain";
}

const MAINFLUX_FIELDS: ReplyFields = { kind: "flat", id: "mainflux_id", key: "mainflux_key", channels: "mainflux_channels" };
const THING_FIELDS: ReplyFields = { kind: "flat", id: "thing_id", key: "thing_key", channels: "channels" };
const CLIENT_FIELDS: ReplyFields = { kind: "flat", id: "client_id", key: "client_secret", channels: "channels" };

const THINGS = { path: "/things/bootstrap", topics: "channels" } as const;
const CLIENTS = { path: "/clients/bootstrap", scheme: "Client ", generation: "client", keyEncoding: "ascii" } as const;

const PROFILES: Readonly<Record<BootstrapVersion, BootstrapProfile>> = {
  // 0.12: raw key, hex-decoded service key (0.10–0.13).
  "mainflux-0.12": { version: "mainflux-0.12", label: "Mainflux 0.12", generation: "raw", scheme: "", reply: MAINFLUX_FIELDS, keyEncoding: "hex", ...THINGS },
  "mainflux-0.13": { version: "mainflux-0.13", label: "Mainflux 0.13", generation: "thing", scheme: "Thing ", reply: MAINFLUX_FIELDS, keyEncoding: "hex", ...THINGS },
  // master from 2023 (service key's ASCII bytes since Feb, thing_* fields since July) = Magistrala 0.14/0.15 on the device side.
  "mainflux-2023": { version: "mainflux-2023", label: "Mainflux master 2023+", generation: "thing", scheme: "Thing ", reply: THING_FIELDS, keyEncoding: "ascii", ...THINGS },
  "magistrala-0.14": { version: "magistrala-0.14", label: "Magistrala 0.14", generation: "thing", scheme: "Thing ", reply: THING_FIELDS, keyEncoding: "ascii", ...THINGS },
  "magistrala-0.15": { version: "magistrala-0.15", label: "Magistrala 0.15", generation: "thing", scheme: "Thing ", reply: THING_FIELDS, keyEncoding: "ascii", ...THINGS },
  "supermq-0.16": { version: "supermq-0.16", label: "SuperMQ 0.16", reply: CLIENT_FIELDS, topics: "channels", ...CLIENTS },
  "magistrala-0.20": { version: "magistrala-0.20", label: "Magistrala 0.20", reply: CLIENT_FIELDS, topics: "domain", ...CLIENTS },
  "magistrala-0.30": { version: "magistrala-0.30", label: "Magistrala 0.30", reply: { kind: "content" }, topics: "domain", ...CLIENTS },
};

export function bootstrapProfile(version: BootstrapVersion): BootstrapProfile {
  return PROFILES[version];
}

/** The three MQTT topics a unit uses, in the version's layout. `domainId` is required for "domain". */
export function channelTopics(profile: BootstrapProfile, data: string, control: string, domainId: string | undefined): { telemetry: string; status: string; command: string } {
  const base = (id: string) => (profile.topics === "domain" ? `m/${domainId ?? ""}/c/${id}` : `channels/${id}/messages`);
  return { telemetry: base(data), status: `${base(data)}/status`, command: `${base(control)}/req` };
}
