// npm run typecheck:sdk — type-check the board glue and the core it reaches against the Moddable
// SDK's own typings ($MODDABLE/typings, xs/includes), the program mcconfig's TypeScript step
// builds, instead of our declarations in src/platform/moddable/types (which `npm run typecheck`
// uses, so CI needs no SDK). SDK modules without typings (crypt's BlockCipher/Mode, gcm) are
// declared in src/platform/moddable/types/untyped.d.ts, which the glue references.
//
// For each platform (lin: no BLE; esp32: the ECMA-419 BLE peripheral) mcconfig generates its
// tsconfig (paths for every SDK module specifier, the SDK's global types) without building; we
// extend it with the SDK's embedded_io/socket/tls.d.ts (mcconfig maps the TLS socket to its
// untyped example JavaScript) and run the project's tsc. Exits non-zero on any error.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { glueDir, repoRoot } from "./bundle.js";
import { fail, sdkOrExplain } from "./sdk.js";

function findFile(dir: string, name: string): string | undefined {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) {
      const found = findFile(path, name);
      if (found !== undefined) return found;
    } else if (entry === name) return path;
  }
  return undefined;
}

const path = sdkOrExplain();
const moddable = process.env.MODDABLE!;
const npm = spawnSync(process.execPath, ["--import", "tsx", join(repoRoot, "host-sim", "board", "build.ts"), "npm"], { cwd: repoRoot, stdio: "inherit" });
if (npm.status !== 0) fail(["bundling the npm modules failed"]);

let failed = false;
for (const [platform, glue] of [["lin", ["ble-absent.ts", "storage-files.ts"]], ["esp32", ["ble.ts", "storage.ts"]]] as const) {
  const out = join(repoRoot, "build", "typecheck-sdk", platform);
  mkdirSync(out, { recursive: true });
  // mcconfig refuses esp32 without $IDF_PATH even when it only writes the makefile and tsconfigs.
  const idf = process.env.IDF_PATH ?? out;
  const gen = spawnSync("mcconfig", ["-d", "-t", "build", "-p", platform, "-o", out, join(repoRoot, "manifest.json")],
    { cwd: repoRoot, encoding: "utf8", env: { ...process.env, PATH: path, IDF_PATH: idf } });
  if (gen.status !== 0) fail([`mcconfig -p ${platform} failed:`, gen.stdout, gen.stderr]);
  const base = findFile(join(out, "tmp"), "tsconfig-base.json");
  if (base === undefined) fail([`mcconfig -p ${platform} wrote no tsconfig-base.json under ${out}`]);
  const tsconfig = join(out, "tsconfig.json");
  writeFileSync(tsconfig, JSON.stringify({
    extends: base,
    compilerOptions: { noEmit: true },
    files: [join(glueDir, "main.ts"), ...glue.map((file) => join(glueDir, file)), join(moddable, "typings", "embedded_io", "socket", "tls.d.ts")],
  }, null, 2));
  const tsc = spawnSync(join(repoRoot, "node_modules", ".bin", "tsc"), ["-p", tsconfig], { cwd: repoRoot, stdio: "inherit" });
  console.log(`${platform}: ${tsc.status === 0 ? "the glue type-checks against the SDK's typings" : "type errors against the SDK's typings"}`);
  if (tsc.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
