// Fake "preference" with the ESP32 (NVS) rules: names ≤ 15 characters, no floats, values copied.
import { world } from "./world.js";

function name(domain: string, key: string): string {
  if (typeof domain !== "string" || domain.length === 0 || domain.length > 15) throw new Error("nvs_open fail");
  if (typeof key !== "string" || key.length === 0 || key.length > 15) throw new Error("nvs set fail");
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
    const value = world.prefs.get(name(domain, key));
    return value instanceof ArrayBuffer ? value.slice(0) : value;
  },
  delete(domain: string, key: string): void {
    world.prefs.delete(name(domain, key));
  },
  keys(domain: string): string[] {
    return [...world.prefs.keys()].filter((k) => k.startsWith(`${domain}/`)).map((k) => k.slice(domain.length + 1));
  },
};
export default Preference;
