// The board glue (src/platform/moddable/) on the XS engine, with the SDK's modules replaced by the
// fakes in test/xs/fakes/ (which follow our declarations and enforce the SDK's rules). Bundling
// fails for an import the SDK does not have or a Node module; running after the board prelude
// fails for a Node global or a frozen-prototype write. Each check runs inside XS.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { XsWorker } from "../../host-sim/xs/worker.js";
import { boardGraph, bundleWithFakes, declaredModules, sdkReach, fakesDir, glueDir, NO_PRECOMPUTE, repoRoot, SDK_MODULES, unpreloadableImports } from "../../host-sim/board/bundle.js";

const prelude = readFileSync(join(repoRoot, "host-sim", "xs", "guest", "board-prelude.js"), "utf8");

async function startGuest(entry: string, options: { simulator?: boolean } = {}): Promise<XsWorker> {
  const worker = new XsWorker({ name: "board-glue", meteringLimit: 0, onQuery: () => { throw new Error("the glue test makes no host queries"); } });
  await worker.evaluate(prelude);
  await worker.evaluate(await bundleWithFakes(entry, options));
  return worker;
}

async function ask(worker: XsWorker, request: unknown): Promise<unknown> {
  const { reply } = await worker.command(Buffer.from(JSON.stringify(request)));
  return JSON.parse(Buffer.from(reply).toString("utf8"));
}

let worker: XsWorker;
before(async () => { worker = await startGuest(join(fakesDir, "guest.mts")); });
after(async () => worker?.close());

test("every SDK module the glue declares has a fake, and nothing else is faked", () => {
  assert.deepEqual(declaredModules(), Object.keys(SDK_MODULES).sort());
});

test("a glue import the SDK does not provide, or a Node module, fails the bundle", async () => {
  await assert.rejects(bundleWithFakes({ glueSource: 'import fs from "fs"; export const x = fs;' }), /"fs", which is not an SDK module/);
  await assert.rejects(bundleWithFakes({ glueSource: 'import { x } from "embedded:io/socket/tcp/dtls"; export const y = x;' }), /not an SDK module the glue declares/);
  await assert.rejects(bundleWithFakes({ glueSource: 'import { nope } from "./network.js"; export const y = nope;' }), /No matching export|nope/);
  // and the real glue bundles, with Ed25519's 1.6 MB base-point table disabled as on the board
  const glue = await bundleWithFakes(join(glueDir, "main.ts"));
  assert.match(glue, /node_modules\/@noble\/ed25519\/index\.js/, "noble's Ed25519 is in the bundle");
  assert.doesNotMatch(glue, NO_PRECOMPUTE);
  assert.doesNotMatch(glue, /Gpows/, "the precompute table code is still reachable");
});

test("manifest.json preloads only modules whose imports can be preloaded (no npm code with module-level typed arrays)", async () => {
  const manifest = JSON.parse(readFileSync(join(repoRoot, "manifest.json"), "utf8")) as { preload: string[]; modules: Record<string, string> };
  const ours = manifest.preload.filter((name) => name.startsWith("src/"));
  assert.ok(ours.length > 10, "the core is not preloaded: its objects would all sit in RAM");
  for (const name of ours) {
    assert.ok(manifest.modules[name] !== undefined || manifest.modules[`${name.slice(0, name.lastIndexOf("/"))}/*`] !== undefined
      || name === "src/platform/moddable/ble", `${name} is preloaded but not listed in modules`);
    const bad = await unpreloadableImports(name);
    assert.deepEqual(bad, [], `${name} is preloaded but imports npm code that creates typed arrays at load (read-only once preloaded)`);
  }
  assert.ok(!manifest.preload.some((name) => /^@noble\/(hashes|ciphers|curves)/.test(name)), "a @noble module with load-time typed arrays is preloaded");
});

type Manifest = { preload: string[]; modules: Record<string, string>; platforms: Record<string, { modules?: Record<string, string> }> };
const manifest = JSON.parse(readFileSync(join(repoRoot, "manifest.json"), "utf8")) as Manifest;

for (const platform of ["esp32", "lin"] as const) {
  test(`manifest.json links exactly the modules main reaches on ${platform} (no dead modules: the phone-side client, the JS crypto provider, @noble/curves)`, async () => {
    const graph = await boardGraph(platform);
    const reached = [...graph.keys()].filter((n) => n.startsWith("src/")).sort();
    const listed = Object.keys({ ...manifest.modules, ...manifest.platforms[platform]?.modules }).filter((n) => n.startsWith("src/")).sort();
    assert.deepEqual(listed, reached);
    for (const dead of ["src/provisioning/client", "src/crypto/js-provider"]) assert.ok(!listed.includes(dead), `${dead} is in the image`);
    const npm = [...graph.keys()].filter((n) => !n.startsWith("src/"));
    assert.deepEqual(npm, ["@noble/ed25519/index.js"], "npm code in the board image besides @noble/ed25519");
    assert.deepEqual(Object.keys(manifest.modules).filter((n) => n.startsWith("@")), ["@noble/ed25519"]);
  });
}

test("no module is mapped both at the manifest's root and in a platform (mcconfig links the root's and ignores the platform's: the simulator would run the board's storage.ts)", () => {
  for (const [platform, section] of Object.entries(manifest.platforms)) {
    for (const name of Object.keys(section.modules ?? {})) {
      assert.equal(manifest.modules[name], undefined, `${name} is mapped at the root and in platforms.${platform}`);
    }
  }
});

test("nothing preloaded reaches the SDK's preference module or mc/config (preload-created objects cannot be JSON.stringify'd: every Preference write on lin failed)", async () => {
  for (const platform of ["esp32", "lin"] as const) {
    const graph = await boardGraph(platform);
    for (const name of manifest.preload.filter((n) => n.startsWith("src/"))) {
      const reach = sdkReach(graph, name);
      for (const forbidden of ["preference", "mc/config"]) {
        assert.ok(!reach.has(forbidden), `${name} is preloaded but reaches "${forbidden}" on ${platform}`);
      }
    }
    // the rule has teeth: the modules left out are the ones that reach it (the factory PoP is read
    // through Preference on both; the firmware's own keys are NVS on the board, files on the simulator)
    assert.ok(sdkReach(graph, "src/platform/moddable/main").has("preference"));
    assert.equal(sdkReach(graph, "src/platform/moddable/io").has("preference"), platform === "esp32");
    assert.equal(sdkReach(graph, "src/platform/moddable/io").has("file"), platform === "lin");
  }
});

const names = await (async () => {
  const w = await startGuest(join(fakesDir, "guest.mts"));
  try {
    return (await ask(w, { cmd: "list" })) as string[];
  } finally {
    await w.close();
  }
})();

test("the glue's checks are registered", () => {
  assert.ok(names.length >= 10, `only ${names.length} checks`);
});

/** Runs one guest check inside XS, calling it again while it asks (its promise jobs run between calls). */
async function runCheck(guest: XsWorker, name: string): Promise<void> {
  let result: { ok?: true; again?: true; error?: string };
  let calls = 0;
  do {
    result = (await ask(guest, { cmd: "run", name })) as typeof result;
    assert.ok(++calls <= 100, "check kept asking to run again");
  } while (result.again);
  if (result.error !== undefined) assert.fail(`on XS: ${result.error}`);
  assert.equal(result.ok, true);
}

for (const name of names) test(`[xs] ${name}`, () => runCheck(worker, name));

// The desktop simulator's build (manifest platforms.lin): its own guest, with ble-absent.ts and storage-files.ts linked.
const simulator = await startGuest(join(fakesDir, "guest-simulator.mts"), { simulator: true });
after(async () => simulator.close());
for (const name of (await ask(simulator, { cmd: "list" })) as string[]) test(`[xs] simulator build: ${name}`, () => runCheck(simulator, name));
