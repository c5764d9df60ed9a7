// (.mts for the same reason as guest.mts.)
// The desktop-simulator build (lin): manifest.json maps ble-absent.ts in place of ble.ts and
// storage-files.ts in place of storage.ts (host-sim/board/bundle.ts SIMULATOR_MODULES). Same glue
// otherwise: the Io has no BLE and the board says so; the firmware's keys live in one file each
// under config.file.root, never in the SDK's lin Preference. The file rules these checks meet are the
// fake's (file.ts), i.e. our reading of the SDK's lin modFile.c, not a recording; the real module
// ran under the same glue in `npm run sim:run` (keys persisted, 0 writes on a second boot).
import "./globals.js";
import { check, eq, sameBytes, serveChecks, throwsCode, type Checks } from "./checks.js";
import { resetWorld, world } from "./world.js";
import { peers } from "./sockets.js";
import main from "../../../src/platform/moddable/main.js";
import { createBoardIo } from "../../../src/platform/moddable/io.js";
import type { Io } from "../../../src/io/io.js";

const ROOT = "/sim/flash/";

function simulatorIo(fileRoot: string | undefined = ROOT): Io {
  resetWorld();
  peers.length = 0;
  return createBoardIo({ storageNamespace: "onboard", fileRoot, canRestart: false, log: (r) => world.traces.push(JSON.stringify(r)) });
}

/** The lin build's config (manifest platforms.lin + the SDK's file manifest), no factory PoP. */
function simulatorConfig(): Record<string, unknown> {
  return {
    sntp: "",
    canRestart: false,
    file: { root: ROOT },
    device: { telemetryIntervalMs: 10_000, keepaliveSeconds: 60 },
    storage: { namespace: "onboard" },
    provisioning: { serviceUuid: "021a9004-0382-4aea-bff4-6b3f1c5adfb4", namePrefix: "PROV_", transport: "http", httpPort: 8080, pop: { namespace: "factory", key: "pop" } },
    factory: {
      chain: ["stored", "bootstrap"],
      broker: { url: "mqtts://broker.example.net:8883" },
      bootstrap: { url: "https://bootstrap.example.net:9013", generation: "client", externalId: "node-id", externalKey: "fleet-key" },
    },
  };
}

const ourFiles = (): string[] => [...world.files.keys()].filter((p) => p.startsWith(ROOT)).sort();

const checks: Checks = {
  "without BLE (desktop simulator build) the Io has no ble and the board says why"() {
    const io = simulatorIo();
    const said = world.traces.find((t) => t.includes("ble-absent"));
    check(io.ble === undefined, "the simulator's Io has BLE");
    check(said !== undefined && said.includes("BLE provisioning is unavailable"), `the board did not say why: ${world.traces.join(" | ")}`);
  },

  "storage: one file per key under config.file.root, bytes as they are; empty values, deletes and NVS name limits as on the board"() {
    const io = simulatorIo();
    const value = Uint8Array.from({ length: 2048 }, (_, i) => i & 0xff);
    io.storage.write("cred.a", value);
    value[0] = 99; // the stored copy must not alias the caller's array
    eq(ourFiles(), [`${ROOT}onboard.cred.a`], "files written");
    eq(world.prefs.size, 0, "the SDK's Preference was used");
    const back = io.storage.read("cred.a");
    check(back !== undefined && back.length === 2048 && back[0] === 0 && back[2047] === 0xff, "stored bytes changed or missing");
    io.storage.write("cred.a", Uint8Array.of(7));
    sameBytes(io.storage.read("cred.a"), Uint8Array.of(7), "a shorter value replaces a longer one whole");
    io.storage.write("empty", new Uint8Array(0));
    eq(io.storage.read("empty")?.length, 0, "an empty value reads back empty (lin's read throws on an empty file)");
    eq(io.storage.read("absent"), undefined, "absent key");
    io.storage.delete("cred.a");
    io.storage.delete("absent");
    eq(io.storage.read("cred.a"), undefined, "deleted key");
    throwsCode(() => io.storage.write("sixteen-chars-ab", value), "storage-key", "16-character key (NVS refuses it on the board)");
    throwsCode(() => io.storage.write("../escape", value), "storage-key", "a key that leaves the folder");
    throwsCode(() => io.storage.read(""), "storage-key", "empty key");
    throwsCode(() => createBoardIo({ storageNamespace: "onboard", log: () => {} }), "storage-key", "no config.file.root");
    throwsCode(() => createBoardIo({ storageNamespace: "onboard", fileRoot: "relative/", log: () => {} }), "storage-key", "a relative file.root");
  },

  "storage: a write that fails half-way (full disk, power cut) leaves the old value whole: the new copy is written beside it and renamed over it"() {
    const io = simulatorIo();
    const old = Uint8Array.from({ length: 600 }, (_, i) => i % 251);
    io.storage.write("cred.b", old);
    world.fileWritesLeft = 0;
    let threw = false;
    try { io.storage.write("cred.b", new Uint8Array(900).fill(0xee)); } catch { threw = true; }
    check(threw, "the failed write did not report");
    sameBytes(io.storage.read("cred.b"), old, "the old value after a failed write");
    // the half-written copy is never read, and the next write starts it from nothing
    world.fileWritesLeft = undefined;
    const next = Uint8Array.of(1, 2, 3);
    io.storage.write("cred.b", next);
    sameBytes(io.storage.read("cred.b"), next, "the next write after a failed one");
    eq(ourFiles(), [`${ROOT}onboard.cred.b`], "files left behind");
  },

  "main on the simulator keeps the identity in files, not in the SDK's Preference, and a second boot reads it back"() {
    resetWorld();
    peers.length = 0;
    world.config = simulatorConfig();
    const device = main();
    check(device !== undefined, `main() returned no device: ${world.traces.join(" | ")}`);
    check(device.nodeId !== undefined, "no node ID");
    check(ourFiles().length > 0, "nothing written under file.root");
    eq([...world.prefs.keys()].filter((k) => k.startsWith("onboard/")), [], "keys written to Preference");
    device.shutdown();
    const again = main();
    check(again !== undefined, "second boot failed");
    eq(again.nodeId, device.nodeId, "node ID after reboot");
    again.shutdown();
  },

};

serveChecks(checks);
