// Test harness around Debian's Mosquitto 2.0: a TLS-only, password-protected broker on a loopback
// port, with its config, password file, persistence and log in one temp directory.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { accessSync, closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { renderMosquittoConfig, type MosquittoConfig } from "./mosquitto-config.js";
import { freePort, waitForPort } from "./ports.js";
import { reapOnExit } from "./reaper.js";

const INSTALL_HINT = "install Debian package mosquitto: apt-get install -y mosquitto";

export interface MosquittoPki {
  caPath: string;
  serverCertPath: string;
  serverKeyPath: string;
}

export interface MosquittoOptions {
  /** CA, server certificate and key files (a TestPki from host-sim/certs/pki.ts fits). */
  pki: MosquittoPki;
  /** username → password, written with mosquitto_passwd. */
  users?: Record<string, string>;
  host?: string;
  /** Default: a free port picked at start. restart() always reuses the port. */
  port?: number;
  /** mTLS: refuse TLS clients without a certificate signed by pki.caPath. */
  requireCertificate?: boolean;
  /** With requireCertificate: the certificate CN is the username and no password is checked. */
  useIdentityAsUsername?: boolean;
  /** Contents of an ACL file (mosquitto acl_file syntax). Without it every user may do anything. */
  acl?: string;
  /** Seconds between database saves; default 0 = only on stop()/persistNow(), so kill() loses state. */
  autosaveInterval?: number;
  autosaveOnChanges?: boolean;
  /** Minimum TLS version; default tlsv1.2 (1.3 is still offered to clients that support it). */
  tlsVersion?: "tlsv1.2" | "tlsv1.3";
  /** OpenSSL cipher list for TLS 1.2, e.g. "ECDHE-RSA-AES128-GCM-SHA256". */
  ciphers?: string;
  /** Work directory (config, passwords, db, log). Default: a fresh temp dir removed by dispose(). */
  dir?: string;
  /**
   * Load Debian's dynamic-security plugin, its state initialised with `mosquitto_ctrl dynsec init`
   * and this admin account (which administers it over MQTT on $CONTROL/dynamic-security/v1).
   * `adminPublishes`: the admin may also publish anywhere (a cloud that sends commands to devices).
   * Default ACL access becomes deny for publish/receive/subscribe: every right is granted by a role
   * (or, for users the plugin does not know, by the password and ACL files).
   */
  dynamicSecurity?: { adminUsername: string; adminPassword: string; adminPublishes?: boolean };
  /** Publish the broker log (notice and above) on $SYS/broker/log/<N|E|W|I>. */
  logToTopic?: boolean;
  /** More TLS listeners (free ports picked at start, kept across restart()), e.g. one requiring client certificates. */
  extraListeners?: readonly { requireCertificate: boolean }[];
}

export interface MosquittoBroker {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  readonly configPath: string;
  readonly logPath: string;
  /** Where Mosquitto writes its database (exists after the first save). */
  readonly dbPath: string;
  /** Ports of `extraListeners`, in order. */
  readonly extraPorts: readonly number[];
  /** The dynamic-security plugin's JSON state file, when loaded. */
  readonly dynsecPath: string | undefined;
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Last `lines` lines of the broker log plus anything it printed to stdout/stderr. */
  logTail(lines?: number): string;
  /** SIGTERM and wait for exit (Mosquitto saves its database on the way out). */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit: a crash, nothing is saved. */
  kill(): Promise<void>;
  /** Starts again with the same port, config, password file and persistence directory. */
  restart(): Promise<void>;
  /** Makes Mosquitto write its database now (SIGUSR1) and waits until the file is replaced. */
  persistNow(): Promise<void>;
  /** Adds or updates a user; a running broker reloads the password file (SIGHUP) before this resolves. */
  addUser(name: string, password: string): Promise<void>;
  /** stop() and delete the work directory if the harness created it. */
  dispose(): Promise<void>;
}

function findExecutable(name: string, preferred: string): string | undefined {
  const candidates = [preferred, ...(process.env.PATH ?? "").split(delimiter).filter(Boolean).map((d) => join(d, name))];
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

function requireExecutable(name: string, preferred: string): string {
  const found = findExecutable(name, preferred);
  if (!found) throw new Error(`${name} not found (looked at ${preferred} and on PATH): ${INSTALL_HINT}`);
  return found;
}

interface DynsecFile {
  roles: { rolename: string; acls: { acltype: string; topic: string; allow: boolean }[] }[];
  defaultACLAccess: Record<string, boolean>;
}

/** Debian ships the plugin in the multiarch library directory (`dpkg -L mosquitto | grep dynamic`). */
function findDynsecPlugin(): string {
  const roots = ["/usr/lib", "/usr/local/lib"];
  for (const root of roots) {
    const candidates = [join(root, "mosquitto_dynamic_security.so")];
    try {
      for (const entry of readdirSync(root)) candidates.push(join(root, entry, "mosquitto_dynamic_security.so"));
    } catch {
      continue;
    }
    const found = candidates.find((c) => existsSync(c));
    if (found) return found;
  }
  throw new Error(`mosquitto_dynamic_security.so not found under ${roots.join(", ")}: ${INSTALL_HINT}`);
}

function tailLines(path: string, lines: number): string {
  if (!existsSync(path)) return "";
  return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}

function inode(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

async function pollUntil(what: string, check: () => boolean, tries = 200, intervalMs = 25): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (check()) return;
    await sleep(intervalMs);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function startMosquitto(options: MosquittoOptions): Promise<MosquittoBroker> {
  const mosquittoBin = requireExecutable("mosquitto", "/usr/sbin/mosquitto");
  const passwdBin = requireExecutable("mosquitto_passwd", "/usr/bin/mosquitto_passwd");
  // setpriv --pdeathsig makes the kernel kill Mosquitto if Node dies without running exit hooks
  // (e.g. SIGKILLed by a test-runner timeout). Optional: without it the reaper still covers normal exits.
  const setpriv = findExecutable("setpriv", "/usr/bin/setpriv");

  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "mosquitto-"));
  if (/\s/.test(dir)) throw new Error(`mosquitto work dir must not contain whitespace: ${dir}`);
  mkdirSync(dir, { recursive: true });
  const host = options.host ?? "127.0.0.1";
  const configPath = join(dir, "mosquitto.conf");
  const logPath = join(dir, "mosquitto.log");
  const outPath = join(dir, "mosquitto.out"); // stdout/stderr: errors before the log file is open
  const passwordFile = join(dir, "passwords");
  const dbPath = join(dir, "mosquitto.db");

  writeFileSync(passwordFile, "", { mode: 0o600 });
  const setPassword = (name: string, password: string) => {
    if (name.includes(":")) throw new Error(`mosquitto usernames cannot contain ':' (${name})`);
    execFileSync(passwdBin, ["-b", passwordFile, name, password], { stdio: ["ignore", "ignore", "pipe"] });
  };
  for (const [name, password] of Object.entries(options.users ?? {})) setPassword(name, password);

  let aclFile: string | undefined;
  if (options.acl !== undefined) {
    aclFile = join(dir, "acl");
    writeFileSync(aclFile, options.acl, { mode: 0o600 });
  }

  let dynsec: MosquittoConfig["dynsec"];
  if (options.dynamicSecurity) {
    const d = options.dynamicSecurity;
    const ctrlBin = requireExecutable("mosquitto_ctrl", "/usr/bin/mosquitto_ctrl");
    const configFile = join(dir, "dynamic-security.json");
    execFileSync(ctrlBin, ["dynsec", "init", configFile, d.adminUsername, d.adminPassword], { stdio: ["ignore", "ignore", "pipe"] });
    const state = JSON.parse(readFileSync(configFile, "utf8")) as DynsecFile;
    // Nothing is allowed unless a role says so (the init defaults let every client receive anything).
    state.defaultACLAccess = { publishClientSend: false, publishClientReceive: false, subscribe: false, unsubscribe: true };
    if (d.adminPublishes) state.roles.find((r) => r.rolename === "admin")?.acls.push({ acltype: "publishClientSend", topic: "#", allow: true });
    writeFileSync(configFile, JSON.stringify(state, null, 1), { mode: 0o600 });
    dynsec = { pluginPath: findDynsecPlugin(), configFile };
  }
  const extraListeners = await Promise.all((options.extraListeners ?? []).map(async (l) => ({ port: await freePort(host), requireCertificate: l.requireCertificate })));

  const config: MosquittoConfig = {
    host,
    port: options.port ?? (await freePort(host)),
    caPath: options.pki.caPath,
    certPath: options.pki.serverCertPath,
    keyPath: options.pki.serverKeyPath,
    passwordFile,
    persistenceDir: dir,
    logPath,
    autosaveInterval: options.autosaveInterval ?? 0,
    autosaveOnChanges: options.autosaveOnChanges ?? false,
    tlsVersion: options.tlsVersion ?? "tlsv1.2",
    requireCertificate: options.requireCertificate ?? false,
    useIdentityAsUsername: options.useIdentityAsUsername ?? false,
    ...(options.ciphers ? { ciphers: options.ciphers } : {}),
    ...(aclFile ? { aclFile } : {}),
    ...(dynsec ? { dynsec } : {}),
    ...(options.logToTopic ? { logToTopic: true } : {}),
    ...(extraListeners.length > 0 ? { extraListeners } : {}),
  };

  let child: ChildProcess | undefined;
  let exitPromise: Promise<void> = Promise.resolve();
  // The child is unref'd; while we wait for it to exit it must hold the event loop open, or Node
  // may quit before the exit event arrives.
  const exited = (): Promise<void> => {
    child?.ref();
    return exitPromise;
  };

  const logTail = (lines = 40): string => {
    const out = tailLines(outPath, lines);
    return tailLines(logPath, lines) + (out ? `\n--- stdout/stderr ---\n${out}` : "");
  };

  const launch = async (): Promise<void> => {
    writeFileSync(configPath, renderMosquittoConfig(config));
    const outFd = openSync(outPath, "a");
    const [command, args] = setpriv
      ? [setpriv, ["--pdeathsig", "KILL", "--", mosquittoBin, "-c", configPath]]
      : [mosquittoBin, ["-c", configPath]];
    const proc = spawn(command, args, { cwd: dir, stdio: ["ignore", outFd, outFd] });
    closeSync(outFd);
    // Don't let a forgotten broker keep Node alive; the reaper kills it when Node exits.
    proc.unref();
    reapOnExit(proc);
    child = proc;

    let death: string | undefined;
    exitPromise = new Promise((resolve) => {
      const gone = (reason: string) => {
        death ??= reason;
        if (child === proc) child = undefined;
        resolve();
      };
      proc.once("exit", (code, signal) => gone(`mosquitto exited during startup (code ${code}, signal ${signal})`));
      // A failed spawn emits 'error' and no 'exit'.
      proc.once("error", (err) => gone(`could not run ${command}: ${err.message}`));
    });

    try {
      // Each probe is a bare TCP connect, which Mosquitto logs as a failed TLS handshake
      // ("unexpected eof while reading"); that line in the log is expected.
      await waitForPort(host, config.port, { abort: () => death });
      for (const l of extraListeners) await waitForPort(host, l.port, { abort: () => death });
    } catch (err) {
      proc.kill("SIGKILL");
      await exited();
      throw new Error(
        `mosquitto did not start on ${host}:${config.port}: ${(err as Error).message}\n` +
          `--- tail of ${logPath} ---\n${logTail()}`,
      );
    }
  };

  // The free port can be taken between freePort() and Mosquitto's bind; pick another then.
  for (let attempt = 1; ; attempt++) {
    try {
      await launch();
      break;
    } catch (err) {
      const portRace = options.port === undefined && /Address already in use/.test(logTail());
      if (portRace && attempt < 3) {
        config.port = await freePort(host);
        continue;
      }
      // The error already carries the log tail; nobody gets a handle to dispose() of the dir.
      if (ownsDir) rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  const signal = (sig: NodeJS.Signals): void => {
    if (!child) throw new Error(`mosquitto on port ${config.port} is not running`);
    child.kill(sig);
  };

  const stop = async (): Promise<void> => {
    if (!child) return;
    const proc = child;
    proc.kill("SIGTERM");
    // Mosquitto normally exits at once; escalate if it hangs (the timer must not outlive the wait).
    const escalate = setTimeout(() => proc.kill("SIGKILL"), 10_000);
    await exited();
    clearTimeout(escalate);
  };

  const broker: MosquittoBroker = {
    host,
    get port() {
      return config.port;
    },
    dir,
    configPath,
    logPath,
    dbPath,
    extraPorts: extraListeners.map((l) => l.port),
    dynsecPath: dynsec?.configFile,
    get pid() {
      return child?.pid;
    },
    get running() {
      return child !== undefined;
    },
    logTail,
    stop,
    async kill() {
      if (!child) return;
      child.kill("SIGKILL");
      await exited();
    },
    async restart() {
      await stop();
      await launch();
    },
    async persistNow() {
      // Mosquitto writes mosquitto.db.new and renames it over mosquitto.db, so a new inode at
      // dbPath means the save is complete.
      const before = inode(dbPath);
      signal("SIGUSR1");
      await pollUntil(`${dbPath} to be rewritten`, () => {
        const now = inode(dbPath);
        return now !== undefined && now !== before;
      });
    },
    async addUser(name, password) {
      setPassword(name, password);
      if (!child) return;
      // Mosquitto logs "Reloading config." and reloads in the same main-loop pass, before it reads
      // any further network input; once the line is there, new CONNECTs see the new password file.
      const reloads = () => (readFileSync(logPath, "utf8").match(/Reloading config\./g) ?? []).length;
      const before = reloads();
      signal("SIGHUP");
      await pollUntil("mosquitto to reload its config", () => reloads() > before);
    },
    async dispose() {
      await stop();
      if (ownsDir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return broker;
}
