// (.mts for the same reason as guest.mts.)
// The desktop-simulator build (lin): manifest.json maps ble-absent.ts in place of ble.ts. Same
// glue otherwise; the Io has no BLE and the board says so at boot.
import "./globals.js";
import { resetWorld, world } from "./world.js";
import { createBoardIo } from "../../../src/platform/moddable/io.js";
import { fromUtf8, utf8 } from "../../../src/bytes/bytes.js";

const g = globalThis as { handleCommand?: (message: ArrayBuffer) => ArrayBuffer };
g.handleCommand = (message) => {
  const request = JSON.parse(fromUtf8(new Uint8Array(message))) as { cmd: string };
  let reply: unknown;
  if (request.cmd !== "run") reply = { error: "unknown command" };
  else {
    resetWorld();
    const io = createBoardIo({ storageNamespace: "onboard", log: (r) => world.traces.push(JSON.stringify(r)) });
    const said = world.traces.find((t) => t.includes("ble-absent"));
    reply = io.ble === undefined && said !== undefined && said.includes("BLE provisioning is unavailable")
      ? { ok: true }
      : { error: `ble: ${io.ble === undefined ? "absent" : "present"}, log: ${world.traces.join(" | ")}` };
  }
  return utf8(JSON.stringify(reply)).slice().buffer;
};
