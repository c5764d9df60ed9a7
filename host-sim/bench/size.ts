// Code size: the core bundled and minified by esbuild for a neutral platform (as for XS), with
// each output byte attributed to the src/ folder (concern) or npm package it came from.
import { build, type Metafile } from "esbuild";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

export interface SizeReport {
  readonly total: number;
  /** "src/mqtt", "@noble/ed25519", … → minified bytes in the bundle. */
  readonly byConcern: ReadonlyMap<string, number>;
}

function concernOf(input: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  if (pkg) return pkg[1]!;
  const src = /^src\/([^/]+)/.exec(input);
  return src ? `src/${src[1]}` : input;
}

export async function bundleSize(root: string, entries: readonly string[]): Promise<SizeReport> {
  const result = await build({
    stdin: { contents: entries.map((e, i) => `export * as m${i} from ${JSON.stringify(join(root, e))};`).join("\n"), resolveDir: root, loader: "ts" },
    bundle: true, write: false, minify: true, metafile: true, format: "esm", platform: "neutral",
    mainFields: ["module", "main"], conditions: ["import", "default"], target: "es2022", logLevel: "silent",
  });
  const meta: Metafile = result.metafile;
  const output = Object.values(meta.outputs)[0]!;
  const byConcern = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
    const concern = concernOf(relative(root, join(root, input)));
    byConcern.set(concern, (byConcern.get(concern) ?? 0) + bytesInOutput);
  }
  return { total: result.outputFiles[0]!.contents.length, byConcern };
}

/** Every module under src/ (the board glue excluded: it imports embedded:* modules). */
export function allSourceModules(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(join(root, dir)).sort()) {
      const path = join(dir, name);
      if (path === join("src", "platform")) continue;
      if (statSync(join(root, path)).isDirectory()) walk(path);
      else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(path);
    }
  };
  walk("src");
  return out;
}
