// Bundles the board glue (src/platform/moddable/) for places without the SDK: the XS-engine test
// (SDK modules replaced by the fakes in test/xs/fakes/) and the size measurement (SDK modules left
// as imports). Bare specifiers are resolved only from SDK_MODULES and npm: a glue import of a
// module the SDK does not have, or of a Node built-in, fails the bundle.
import { build, transform, type Plugin } from "esbuild";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, "..", "..");
export const glueDir = join(repoRoot, "src", "platform", "moddable");
export const fakesDir = join(repoRoot, "test", "xs", "fakes");

/** Every SDK module specifier the glue may import, and the fake that stands for it in tests. */
export const SDK_MODULES: Readonly<Record<string, string>> = {
  "embedded:io/socket/tcp": "tcp.ts",
  "embedded:io/socket/tcp/tls": "tls.ts",
  "embedded:io/socket/udp": "udp.ts",
  "embedded:io/bluetoothle/peripheral": "ble.ts",
  "timer": "timer.ts",
  "time": "time.ts",
  "sntp": "sntp.ts",
  "preference": "preference.ts",
  "net": "net.ts",
  "wifi": "wifi.ts",
  "crypt": "crypt.ts",
  "gcm": "gcm.ts",
  "modular": "modular.ts",
  "ecp": "ecp.ts",
  "ec": "ec.ts",
  "curve": "curve.ts",
  "mc/config": "mc-config.ts",
  "board-random": "board-random.ts",
  "http": "http.ts",
  "file": "file.ts",
};

/** The module specifiers declared in src/platform/moddable/types/*.d.ts (and native/random.d.ts via tsconfig paths). */
export function declaredModules(): string[] {
  const names = new Set<string>(["board-random"]);
  for (const file of ["sockets.d.ts", "ble.d.ts", "base.d.ts", "untyped.d.ts"]) {
    const text = readFileSync(join(glueDir, "types", file), "utf8");
    for (const m of text.matchAll(/^declare module "([^"]+)"/gm)) names.add(m[1]!);
  }
  return [...names].sort();
}

/**
 * @noble/ed25519 builds a 4,224-point base-point table on first use: ~1.6 MB of XS heap, which no
 * ESP32 has. noble documents disabling it (the wNAF() call in Point#multiply); signing gets 2–4×
 * slower, verification about the same (shared/reference/moddable.md §4). Applied to every bundle
 * that stands for the board; fails loudly if a noble update moved the line.
 */
export const NO_PRECOMPUTE = /if \(this\.equals\(G\)\)\s*return wNAF\(n\)\.p;/;

export function ed25519WithoutPrecompute(): Plugin {
  return {
    name: "ed25519-no-precompute",
    setup(b) {
      b.onLoad({ filter: /[\\/]@noble[\\/]ed25519[\\/]index\.js$/ }, (args) => {
        const source = readFileSync(args.path, "utf8");
        if (!NO_PRECOMPUTE.test(source)) {
          return { errors: [{ text: "@noble/ed25519 changed: the base-point precompute call to disable was not found" }] };
        }
        return { contents: source.replace(NO_PRECOMPUTE, "/* board build: no base-point precompute table */"), loader: "js" };
      });
    },
  };
}

/**
 * The desktop simulator's build (manifest.json platforms.lin) links these glue files under the
 * module names of the board's: no BLE there, and a file store in place of the SDK's lin Preference.
 */
export const SIMULATOR_MODULES: Readonly<Record<string, string>> = {
  "./ble.js": "ble-absent.ts",
  "./storage.js": "storage-files.ts",
};

function sdkPlugin(mode: "fakes" | "external", simulator: boolean): Plugin {
  return {
    name: "moddable-sdk",
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        const fake = SDK_MODULES[args.path];
        if (fake !== undefined) {
          return mode === "fakes" ? { path: join(fakesDir, fake) } : { path: args.path, external: true };
        }
        const simulatorFile = SIMULATOR_MODULES[args.path];
        if (simulator && simulatorFile !== undefined && resolve(args.resolveDir) === glueDir) {
          return { path: join(glueDir, simulatorFile) };
        }
        const fromGlue = args.importer.startsWith(glueDir) || args.importer === "<stdin>";
        if (fromGlue && !args.path.startsWith(".") && !args.path.startsWith("@noble/")) {
          return { errors: [{ text: `the glue imports "${args.path}", which is not an SDK module the glue declares` }] };
        }
        return undefined;
      });
      // The board's clock is Date.now(); the board prelude forbids it (for the core), so in the
      // glue only it reads the fake clock instead.
      if (mode === "fakes") {
        b.onLoad({ filter: /\.ts$/ }, async (args) => {
          if (!args.path.startsWith(glueDir + "/")) return undefined;
          const source = readFileSync(args.path, "utf8");
          const out = await transform(source, { loader: "ts", define: { "Date.now": "__boardFakeDateNow" }, sourcefile: args.path });
          return { contents: out.code, loader: "js", resolveDir: dirname(args.path) };
        });
      }
    },
  };
}

const common = {
  bundle: true,
  write: false,
  platform: "neutral" as const,
  mainFields: ["module", "main"],
  conditions: ["import", "default"],
  target: "es2022",
  logLevel: "silent" as const,
};

/** One script for the XS worker: fakes of the SDK, then `entry` (which installs handleCommand). */
export async function bundleWithFakes(entry: string | { glueSource: string }, options: { simulator?: boolean } = {}): Promise<string> {
  const result = await build({
    ...common,
    // { glueSource }: a module placed (virtually) in the glue's folder, for probing the rules
    ...(typeof entry === "string"
      ? { entryPoints: [entry] }
      : { stdin: { contents: entry.glueSource, resolveDir: glueDir, sourcefile: "probe.ts", loader: "ts" as const } }),
    format: "iife",
    banner: { js: '"use strict";' },
    plugins: [sdkPlugin("fakes", options.simulator ?? false), ed25519WithoutPrecompute()],
  });
  return result.outputFiles![0]!.text;
}

/** The glue + core + npm code as one minified ES module with the SDK modules left as imports. */
export async function bundleForSize(entry = join(glueDir, "main.ts")): Promise<string> {
  const result = await build({
    ...common,
    entryPoints: [entry],
    format: "esm",
    minify: true,
    plugins: [sdkPlugin("external", false), ed25519WithoutPrecompute()],
  });
  return result.outputFiles![0]!.text;
}

/**
 * npm code that must not be preloaded: these packages create typed arrays at module load (hash
 * scratch buffers, cipher tables) and preloaded typed arrays are read-only on the board
 * ("TypeError: read-only buffer"). xsl preloads a module's imports with it, so a preloaded module
 * must not reach them either.
 */
export const NOT_PRELOADABLE = /node_modules[\\/]@noble[\\/](hashes|ciphers|curves)[\\/]/;

/** For a module of ours (e.g. "src/mqtt/client"), the npm files in its import graph that cannot be preloaded. */
export async function unpreloadableImports(moduleName: string): Promise<string[]> {
  const result = await build({
    ...common,
    entryPoints: [join(repoRoot, `${moduleName}.ts`)],
    format: "esm",
    metafile: true,
    plugins: [sdkPlugin("external", false)],
  });
  return Object.keys(result.metafile!.inputs).filter((file) => NOT_PRELOADABLE.test(file));
}

/** One module of the board image as the manifest names it, with what it imports. */
export interface BoardModule {
  /** Manifest name: "src/…" without extension (a SIMULATOR_MODULES file stands for the board module it replaces), or the npm file. */
  readonly name: string;
  /** SDK module specifiers it imports directly. */
  readonly sdk: readonly string[];
  /** Names (as above) of the modules of ours and npm files it imports directly. */
  readonly imports: readonly string[];
}

function manifestName(file: string): string {
  const rel = file.startsWith(repoRoot) ? file.slice(repoRoot.length + 1) : file;
  if (rel.includes("node_modules/")) return rel.slice(rel.indexOf("node_modules/") + "node_modules/".length);
  const name = rel.replace(/\.ts$/, "");
  for (const [board, simulator] of Object.entries(SIMULATOR_MODULES)) {
    if (name === `src/platform/moddable/${simulator.replace(/\.ts$/, "")}`) return `src/platform/moddable/${board.slice(2, -3)}`;
  }
  return name;
}

/**
 * Every module the board firmware reaches from main (what mcconfig must link, nothing more), for
 * the ESP32 (BLE, NVS) or the desktop simulator (SIMULATOR_MODULES). Type-only imports are not edges.
 */
export async function boardGraph(platform: "esp32" | "lin" = "esp32"): Promise<Map<string, BoardModule>> {
  const result = await build({
    ...common,
    absWorkingDir: repoRoot,
    entryPoints: [join(glueDir, "main.ts")],
    format: "esm",
    metafile: true,
    plugins: [sdkPlugin("external", platform === "lin")],
  });
  const graph = new Map<string, BoardModule>();
  for (const [file, input] of Object.entries(result.metafile!.inputs)) {
    const name = manifestName(resolve(repoRoot, file));
    graph.set(name, {
      name,
      sdk: input.imports.filter((i) => i.external).map((i) => i.path),
      imports: input.imports.filter((i) => !i.external).map((i) => manifestName(resolve(repoRoot, i.path))),
    });
  }
  return graph;
}

/** The SDK modules `name` reaches through the board graph (its own imports and everything below). */
export function sdkReach(graph: ReadonlyMap<string, BoardModule>, name: string): Set<string> {
  const seen = new Set<string>();
  const sdk = new Set<string>();
  const visit = (n: string): void => {
    if (seen.has(n)) return;
    seen.add(n);
    const m = graph.get(n);
    if (m === undefined) return;
    for (const s of m.sdk) sdk.add(s);
    for (const i of m.imports) visit(i);
  };
  visit(name);
  return sdk;
}
