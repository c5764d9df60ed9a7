// Finding a Moddable SDK the user installed ($MODDABLE), for the scripts that need one
// (build:sim, build:esp32, typecheck:sdk, sim:run). None of them is part of CI.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./bundle.js";

export function fail(lines: string[]): never {
  for (const line of lines) console.error(line);
  process.exit(1);
}

/** The SDK's host tools folder ($MODDABLE/build/bin/<host>/release), where a built SDK keeps mcconfig. */
export function sdkToolsDir(moddable: string): string {
  return join(moddable, "build", "bin", process.platform === "darwin" ? "mac" : "lin", "release");
}

/** $MODDABLE checked; mcconfig found on PATH or in the SDK's tools folder. Returns PATH for mcconfig. */
export function sdkOrExplain(): string {
  const moddable = process.env.MODDABLE;
  const missing: string[] = [];
  if (!moddable || !existsSync(join(moddable, "tools", "mcmanifest.js"))) missing.push("  - $MODDABLE must point at a Moddable SDK checkout (written against 8.2.3, commit 48ee02d8).");
  const onPath = spawnSync("sh", ["-c", "command -v mcconfig"], { encoding: "utf8" }).status === 0;
  const tools = moddable ? sdkToolsDir(moddable) : "";
  if (!onPath && !(moddable && existsSync(join(tools, "mcconfig")))) {
    missing.push("  - mcconfig was found neither on $PATH nor in $MODDABLE/build/bin/<host>/release (build the SDK's host tools).");
  }
  if (missing.length > 0) {
    fail([
      "Cannot build the board firmware: the Moddable SDK is not installed here.",
      ...missing,
      "Install: https://github.com/Moddable-OpenSource/moddable/blob/public/documentation/Moddable%20SDK%20-%20Getting%20Started.md",
      "  (host tools: cd $MODDABLE/build/makefiles/lin && make; for ESP32 also ESP-IDF v5 with $IDF_PATH set and export.sh sourced)",
      "The simulator tests (npm test) do not need the SDK.",
    ]);
  }
  // mcconfig runs "tsc" from PATH: the project's TypeScript (package.json) goes first.
  return [join(repoRoot, "node_modules", ".bin"), ...(onPath ? [] : [tools]), process.env.PATH ?? ""].join(":");
}

