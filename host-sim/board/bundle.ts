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
  "mc/config": "mc-config.ts",
  "board-random": "board-random.ts",
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

function sdkPlugin(mode: "fakes" | "external", bleAbsent: boolean): Plugin {
  return {
    name: "moddable-sdk",
    setup(b) {
      b.onResolve({ filter: /.*/ }, (args) => {
        const fake = SDK_MODULES[args.path];
        if (fake !== undefined) {
          return mode === "fakes" ? { path: join(fakesDir, fake) } : { path: args.path, external: true };
        }
        if (bleAbsent && args.path === "./ble.js" && resolve(args.resolveDir) === glueDir) {
          return { path: join(glueDir, "ble-absent.ts") };
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
export async function bundleWithFakes(entry: string | { glueSource: string }, options: { bleAbsent?: boolean } = {}): Promise<string> {
  const result = await build({
    ...common,
    // { glueSource }: a module placed (virtually) in the glue's folder, for probing the rules
    ...(typeof entry === "string"
      ? { entryPoints: [entry] }
      : { stdin: { contents: entry.glueSource, resolveDir: glueDir, sourcefile: "probe.ts", loader: "ts" as const } }),
    format: "iife",
    banner: { js: '"use strict";' },
    plugins: [sdkPlugin("fakes", options.bleAbsent ?? false), ed25519WithoutPrecompute()],
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
