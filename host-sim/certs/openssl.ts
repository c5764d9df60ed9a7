// Thin wrapper around the `openssl` command-line tool. We shell out instead of using node:crypto
// because Node can make keys but not X.509 certificates.
import { execFileSync } from "node:child_process";

export class OpensslError extends Error {}

let checked = false;

/** Throws a readable error when the openssl binary is absent (instead of a bare ENOENT). */
export function requireOpenssl(): void {
  if (checked) return;
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new OpensslError(
        "openssl CLI not found on PATH: install Debian package openssl (apt-get install -y openssl)",
      );
    }
    throw err;
  }
  checked = true;
}

/** Runs `openssl <args>` in `cwd`; on failure the error carries openssl's own stderr. */
export function openssl(args: readonly string[], cwd: string): string {
  requireOpenssl();
  try {
    return execFileSync("openssl", args, {
      cwd,
      encoding: "utf8",
      // openssl chatters on stderr (key generation progress dots); keep it only for errors.
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? "").trim();
    throw new OpensslError(`openssl ${args[0]} failed: ${stderr || (err as Error).message}`);
  }
}

/** openssl's -startdate/-enddate format (GeneralizedTime, UTC); openssl emits UTCTime before 2050. */
export function opensslTime(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, "").replace(/\.\d+Z$/, "Z");
}
