// The per-unit proof of possession. A fleet image is the same for every unit, so the PoP cannot be
// in the build: it is written per unit at the factory into NVS (see README "On the board") and
// read here, wrapped as a Secret from the first moment.
import Preference from "preference";
import { Secret } from "../../secrets/secret.js";
import type { PopSource } from "./board-config.js";

export function readFactoryPop(source: PopSource): Secret | undefined {
  const value = Preference.get(source.namespace, source.key);
  if (typeof value === "string" && value.length > 0) return Secret.fromString(value);
  if (value instanceof ArrayBuffer && value.byteLength > 0) return Secret.fromBytes(new Uint8Array(value));
  return undefined;
}
