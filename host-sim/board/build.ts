// npm run build:esp32 [-- <target> [mcconfig args…]]  and  npm run build:sim [-- mcconfig args…]
// (npx tsx host-sim/board/build.ts npm: only the npm bundles, no SDK needed)
// Builds the firmware with the Moddable SDK's mcconfig. Not part of CI (no SDK there).
//
// Steps: (1) bundle each npm specifier the core imports (@noble/*) into build/board/npm/ as one
// ES module (mcconfig does no node_modules lookup; Ed25519 without its 1.6 MB precompute table);
// (2) run mcconfig -d -m -t build -p <platform> manifest.json, with the factory config from manifest.json
// and any key=value overrides given after "--".
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { boardGraph, ed25519WithoutPrecompute, repoRoot } from "./bundle.js";
import { fail, sdkOrExplain } from "./sdk.js";

/**
 * npm specifier → module file under build/board/npm (manifest.json maps these). Only what the board
 * image reaches: its crypto is the SDK's (src/platform/moddable/crypto.ts), so @noble/hashes,
 * @noble/ciphers and @noble/curves stay out.
 */
export const NPM_MODULES: Readonly<Record<string, string>> = {
  "@noble/ed25519": "noble-ed25519",
};

/**
 * mcconfig's TypeScript step maps each specifier to the file the manifest names, so each bundle
 * gets a .d.ts next to it re-exporting the package's own declarations (relative to build/board/npm;
 * the package directory for @noble/ed25519, whose folder also ships index.ts sources).
 */
const NPM_TYPES: Readonly<Record<string, string>> = {
  "@noble/ed25519": "../../../node_modules/@noble/ed25519",
};


/** Every npm package the board image reaches must have a bundle and a manifest mapping. */
async function checkNpmCoverage(): Promise<void> {
  const manifest = JSON.parse(readFileSync(join(repoRoot, "manifest.json"), "utf8")) as { modules: Record<string, string> };
  for (const platform of ["esp32", "lin"] as const) {
    for (const name of (await boardGraph(platform)).keys()) {
      if (name.startsWith("src/")) continue;
      const specifier = Object.keys(NPM_MODULES).find((s) => name.startsWith(`${s}/`));
      if (specifier === undefined || manifest.modules[specifier] !== `./build/board/npm/${NPM_MODULES[specifier]}`) {
        fail([`the board image reaches ${name}, which has no bundle in host-sim/board/build.ts or no manifest.json entry.`]);
      }
    }
  }
}

async function bundleNpm(): Promise<void> {
  const out = join(repoRoot, "build", "board", "npm");
  mkdirSync(out, { recursive: true });
  for (const [specifier, file] of Object.entries(NPM_MODULES)) {
    await build({
      stdin: { contents: `export * from ${JSON.stringify(specifier)};`, resolveDir: repoRoot, loader: "js" },
      bundle: true, format: "esm", platform: "neutral", target: "es2022",
      mainFields: ["module", "main"], conditions: ["import", "default"],
      outfile: join(out, `${file}.js`), logLevel: "warning",
      plugins: [ed25519WithoutPrecompute()],
    });
    writeFileSync(join(out, `${file}.d.ts`), `export * from ${JSON.stringify(NPM_TYPES[specifier])};\n`);
  }
}

const [which, ...rest] = process.argv.slice(2);
let platform: string;
let extra: string[];
if (which === "esp32") {
  const target = rest[0] !== undefined && !rest[0].includes("=") && !rest[0].startsWith("-") ? rest.shift()! : undefined;
  platform = target ? `esp32/${target}` : "esp32";
  extra = rest;
} else if (which === "npm") {
  // only step (1): no SDK needed
  await checkNpmCoverage();
  await bundleNpm();
  console.log(`bundled ${Object.keys(NPM_MODULES).join(", ")} into build/board/npm/`);
  process.exit(0);
} else if (which === "sim") {
  platform = process.platform === "darwin" ? "mac" : "lin";
  extra = rest;
} else {
  fail(["usage: tsx host-sim/board/build.ts esp32 [target] [key=value…] | sim [key=value…] | npm"]);
}

const path = sdkOrExplain();
await checkNpmCoverage();
await bundleNpm();
// mcconfig writes into -o but does not create it (a fresh clone failed with "directory not found").
const out = join(repoRoot, "build", "board", "mc");
mkdirSync(out, { recursive: true });
// -t build: only build. The default target of a debug build runs `pkill mcsim` / `pkill serial2xsbug`
// and launches the simulator, which would end anyone's simulator on this machine.
const args = ["-d", "-m", "-t", "build", "-p", platform, "-o", out, join(repoRoot, "manifest.json"), ...extra];
console.log(`mcconfig ${args.join(" ")}`);
const result = spawnSync("mcconfig", args, { cwd: repoRoot, stdio: "inherit", env: { ...process.env, PATH: path } });
process.exit(result.status ?? 1);
