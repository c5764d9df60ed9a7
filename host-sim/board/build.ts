// npm run build:esp32 [-- <target> [mcconfig args…]]  and  npm run build:sim [-- mcconfig args…]
// (npx tsx host-sim/board/build.ts npm: only the npm bundles, no SDK needed)
// Builds the firmware with the Moddable SDK's mcconfig. Not part of CI (no SDK there).
//
// Steps: (1) bundle each npm specifier the core imports (@noble/*) into build/board/npm/ as one
// ES module (mcconfig does no node_modules lookup; Ed25519 without its 1.6 MB precompute table);
// (2) run mcconfig -d -m -p <platform> manifest.json, with the factory config from manifest.json
// and any key=value overrides given after "--".
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ed25519WithoutPrecompute, repoRoot } from "./bundle.js";

/** npm specifier (as imported by src/) → module file under build/board/npm (manifest.json maps these). */
export const NPM_MODULES: Readonly<Record<string, string>> = {
  "@noble/ed25519": "noble-ed25519",
  "@noble/hashes/sha2.js": "noble-hashes-sha2",
  "@noble/curves/ed25519.js": "noble-curves-ed25519",
  "@noble/ciphers/aes.js": "noble-ciphers-aes",
};

/**
 * mcconfig's TypeScript step maps each specifier to the file the manifest names, so each bundle
 * gets a .d.ts next to it re-exporting the package's own declarations (relative to build/board/npm;
 * the package directory for @noble/ed25519, whose folder also ships index.ts sources).
 */
const NPM_TYPES: Readonly<Record<string, string>> = {
  "@noble/ed25519": "../../../node_modules/@noble/ed25519",
  "@noble/hashes/sha2.js": "../../../node_modules/@noble/hashes/sha2.js",
  "@noble/curves/ed25519.js": "../../../node_modules/@noble/curves/ed25519.js",
  "@noble/ciphers/aes.js": "../../../node_modules/@noble/ciphers/aes.js",
};

function fail(lines: string[]): never {
  for (const line of lines) console.error(line);
  process.exit(1);
}

function sdkOrExplain(): string {
  const moddable = process.env.MODDABLE;
  const missing: string[] = [];
  if (!moddable || !existsSync(join(moddable, "tools", "mcmanifest.js"))) missing.push("  - $MODDABLE must point at a Moddable SDK checkout (written against 8.2.3, commit 48ee02d8).");
  const which = spawnSync("sh", ["-c", "command -v mcconfig"], { encoding: "utf8" });
  if (which.status !== 0) missing.push("  - mcconfig must be on $PATH ($MODDABLE/build/bin/<host>/release after building the SDK tools).");
  if (missing.length > 0) {
    fail([
      "Cannot build the board firmware: the Moddable SDK is not installed here.",
      ...missing,
      "Install: https://github.com/Moddable-OpenSource/moddable/blob/public/documentation/Moddable%20SDK%20-%20Getting%20Started.md",
      "  (host tools: cd $MODDABLE/build/makefiles/lin && make; for ESP32 also ESP-IDF v5 with $IDF_PATH set and export.sh sourced)",
      "The simulator tests (npm test) do not need the SDK.",
    ]);
  }
  return moddable!;
}

/** Every @noble specifier imported under src/ must have a bundle and a manifest mapping. */
function checkNpmCoverage(): void {
  const manifest = JSON.parse(readFileSync(join(repoRoot, "manifest.json"), "utf8")) as { modules: Record<string, string> };
  const found = spawnSync("grep", ["-rhoE", "from \"@noble/[^\"]+\"", join(repoRoot, "src")], { encoding: "utf8" }).stdout;
  const used = new Set([...found.matchAll(/"(@noble\/[^"]+)"/g)].map((m) => m[1]!));
  for (const specifier of used) {
    const file = NPM_MODULES[specifier];
    const key = specifier.replace(/\.js$/, ""); // XS drops ".js" when it resolves a specifier
    if (file === undefined || manifest.modules[key] !== `./build/board/npm/${file}`) {
      fail([`src/ imports ${specifier}, which has no bundle in host-sim/board/build.ts or no "${key}" entry in manifest.json.`]);
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
  checkNpmCoverage();
  await bundleNpm();
  console.log(`bundled ${Object.keys(NPM_MODULES).join(", ")} into build/board/npm/`);
  process.exit(0);
} else if (which === "sim") {
  platform = process.platform === "darwin" ? "mac" : "lin";
  extra = rest;
} else {
  fail(["usage: tsx host-sim/board/build.ts esp32 [target] [key=value…] | sim [key=value…] | npm"]);
}

sdkOrExplain();
checkNpmCoverage();
await bundleNpm();
const args = ["-d", "-m", "-p", platform, "-o", join(repoRoot, "build", "board", "mc"), join(repoRoot, "manifest.json"), ...extra];
console.log(`mcconfig ${args.join(" ")}`);
const result = spawnSync("mcconfig", args, { cwd: repoRoot, stdio: "inherit" });
process.exit(result.status ?? 1);
