// Fake "preference" with the ESP32 (NVS) rules. Mirrors modules/files/preference/esp32/modPreference.c:
// set: a domain NVS cannot open (> 15 characters) → "nvs_open fail", a key it refuses → "nvs set
// fail", a non-integer number → "float unsupported", anything but boolean/number/string/ArrayBuffer
// → "unsupported type"; get: a domain that cannot be opened answers undefined (no throw), a refused
// key → "nvs get fail"; delete: an unopenable domain is a silent no-op, a refused key → "nvs erase
// fail". Values are copied both ways.
import { world } from "./world.js";

const domainOk = (domain: string): boolean => typeof domain === "string" && domain.length > 0 && domain.length <= 15;
const keyOk = (key: string): boolean => typeof key === "string" && key.length > 0 && key.length <= 15;

function name(domain: string, key: string): string {
  if (!domainOk(domain)) throw new Error("nvs_open fail");
  if (!keyOk(key)) throw new Error("nvs set fail");
  return `${domain}/${key}`;
}

const Preference = {
  set(domain: string, key: string, value: string | boolean | number | ArrayBuffer): void {
    const k = name(domain, key);
    if (typeof value === "number" && !Number.isInteger(value)) throw new Error("float unsupported");
    if (value instanceof ArrayBuffer) world.prefs.set(k, value.slice(0));
    else if (typeof value === "string" || typeof value === "boolean" || typeof value === "number") world.prefs.set(k, value);
    else throw new Error("unsupported type");
  },
  get(domain: string, key: string): string | boolean | number | ArrayBuffer | undefined {
    if (!domainOk(domain)) return undefined;
    if (!keyOk(key)) throw new Error("nvs get fail");
    const value = world.prefs.get(`${domain}/${key}`);
    return value instanceof ArrayBuffer ? value.slice(0) : value;
  },
  delete(domain: string, key: string): void {
    if (!domainOk(domain)) return;
    if (!keyOk(key)) throw new Error("nvs erase fail");
    world.prefs.delete(`${domain}/${key}`);
  },
  keys(domain: string): string[] {
    return [...world.prefs.keys()].filter((k) => k.startsWith(`${domain}/`)).map((k) => k.slice(domain.length + 1));
  },
};
export default Preference;
