// Joining the stored Wi-Fi network (at boot, and again whenever the link drops): connect through
// io.wifi, retry with back-off, and give up after a number of failed attempts so the lifecycle can
// reopen the provisioning window (what Espressif's devices do when the stored network is gone or
// its passphrase changed). Once joined, the joiner keeps watching the link and reports its loss.
import type { Io, TimerId, WifiFailure } from "../io/io.js";
import type { Logger } from "../log/logger.js";
import type { WifiCredentials } from "../storage/credential-record.js";
import { backoffDelay, randomUnit, type BackoffPolicy } from "../mqtt/backoff.js";

export interface WifiJoinPolicy {
  readonly backoff: BackoffPolicy;
  /** Failed attempts in a row before `onGiveUp`; 0 = never give up. */
  readonly maxFailures: number;
}

export const DEFAULT_WIFI_JOIN: WifiJoinPolicy = { backoff: { initialMs: 2_000, maxMs: 60_000, minMs: 1_000 }, maxFailures: 5 };

export interface WifiJoinHandlers {
  onConnected(ip: string): void;
  /** One attempt failed; `retryInMs` is undefined when the joiner gives up. */
  onFailed(reason: WifiFailure, failures: number, retryInMs: number | undefined): void;
  onGiveUp(): void;
  /** The joined link dropped (access point gone, out of range); the joiner is finished. */
  onLost?(reason: WifiFailure): void;
}

/** Start joining; the returned function cancels (pending retry and any late event). */
export function joinWifi(io: Io, creds: WifiCredentials, policy: WifiJoinPolicy, log: Logger, h: WifiJoinHandlers): () => void {
  const wifi = io.wifi!;
  let cancelled = false;
  let failures = 0;
  let timer: TimerId | undefined;
  let attemptId = 0;
  let joined = false;
  let connecting = false; // a connect() issued and not answered yet
  const attempt = (): void => {
    timer = undefined;
    const id = ++attemptId;
    connecting = true;
    log.info("wifi-joining", { ssidLength: creds.ssid.length, attempt: failures + 1 });
    wifi.connect({
      ssid: creds.ssid,
      passphrase: creds.passphrase,
      ...(creds.bssid !== undefined ? { bssid: creds.bssid } : {}),
      ...(creds.channel !== undefined && creds.channel > 0 ? { channel: creds.channel } : {}),
    }, (e) => {
      if (id === attemptId && e.type !== "connecting") connecting = false;
      if (cancelled || id !== attemptId) return;
      if (e.type === "connected") {
        joined = true;
        log.info("wifi-joined", { ip: e.ip });
        h.onConnected(e.ip);
      } else if (e.type === "disconnected" && joined) {
        joined = false;
        attemptId++; // nothing more from this join: the lifecycle starts a fresh one
        log.warn("wifi-lost", { reason: e.reason });
        h.onLost?.(e.reason);
      } else if (e.type === "disconnected") {
        failures++;
        attemptId++;
        if (policy.maxFailures > 0 && failures >= policy.maxFailures) {
          log.warn("wifi-join-failed", { reason: e.reason, failures, next: "give up" });
          h.onFailed(e.reason, failures, undefined);
          h.onGiveUp();
          return;
        }
        const delayMs = backoffDelay(policy.backoff, failures - 1, randomUnit(io.random));
        log.warn("wifi-join-failed", { reason: e.reason, failures, next: `retry in ${delayMs} ms` });
        h.onFailed(e.reason, failures, delayMs);
        timer = io.timers.set(attempt, delayMs);
      }
    });
  };
  wifi.start();
  attempt();
  return () => {
    cancelled = true;
    if (timer !== undefined) io.timers.clear(timer);
    timer = undefined;
    // An attempt still under way is aborted: left running, the station would go on joining for
    // nobody, and its driver's callbacks would outlive the lifecycle that asked for them (in the XS
    // suite they reached a device already gone: "host: unknown device").
    if (!joined && attemptId > 0 && connecting) wifi.disconnect();
  };
}
