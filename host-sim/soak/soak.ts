// The soak: the device core runs inside XS (board prelude, bridged I/O) on a ManualClock that this
// driver moves, against Debian's Mosquitto over TLS, which the driver stops and starts again every
// `restartEveryMs` of simulated time (down for `downtimeMs` of it each time). An mqtt.js subscriber
// on a persistent session collects every telemetry sequence number; a gap is a lost QoS 1 message,
// a repeat a duplicate (allowed by QoS 1, counted). The scenario (soak-device.ts) asks for the live
// XS heap after a collection at fixed points; the driver checks it against the stated bound.
//
// Time: the device's clock moves only here. After each move the driver waits until the guest is
// quiet (no delivery into XS for `quietMs`, no socket still connecting), then jumps to the next
// timer; right after network traffic it moves at most 1 s at a time, so a reply in flight is not
// overtaken by a timeout on the virtual clock.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import mqtt from "mqtt";
import { startMosquitto } from "../broker/mosquitto.js";
import { generateTestPki } from "../certs/pki.js";
import { ManualClock } from "../io/clock.js";
import { createSimDevice } from "../sim-device.js";
import { XsScenarioHost, type HeapSample } from "../xs/host.js";
import type { SoakEnv, SoakFinal } from "./soak-device.js";

export interface SoakOptions {
  /** Simulated duration. */
  readonly hours: number;
  readonly restartEveryMs?: number;
  readonly downtimeMs?: number;
  readonly telemetryMs?: number;
  /** Allowed growth of the live heap (slots after GC) over the first sample taken online. */
  readonly heapBound?: { readonly fraction: number; readonly slots: number };
  readonly quietMs?: number;
  readonly onProgress?: (p: { simulatedMs: number; restarts: number; received: number }) => void;
}

export interface SoakResult {
  readonly simulatedMs: number;
  readonly realMs: number;
  readonly broker: string;
  readonly restarts: number;
  /** Restarts that were a crash (frozen, then SIGKILL) with a message in flight. */
  readonly crashes: number;
  readonly published: number;
  /** Distinct sequence numbers received (1..published expected). */
  readonly received: number;
  readonly lost: readonly number[];
  readonly duplicates: number;
  readonly droppedByDevice: number;
  readonly onlineTransitions: number;
  /** Messages resent (DUP) after a reconnect. */
  readonly resent: number;
  readonly heap: readonly HeapSample[];
  /** First online sample, the highest one, and the limit they were checked against. */
  readonly heapFirst: number;
  readonly heapMax: number;
  readonly heapLimit: number;
  readonly heapWithinBound: boolean;
  readonly clockSteps: number;
}

export const DEFAULT_HEAP_BOUND = { fraction: 0.02, slots: 500 };

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const restartEveryMs = options.restartEveryMs ?? 20 * 60_000;
  const downtimeMs = options.downtimeMs ?? 30_000;
  const telemetryMs = options.telemetryMs ?? 30_000;
  const durationMs = Math.round(options.hours * 3_600_000);
  const quietMs = options.quietMs ?? 4;
  const bound = options.heapBound ?? DEFAULT_HEAP_BOUND;
  const started = performance.now();

  const dir = mkdtempSync(join(tmpdir(), "onboarding-soak-"));
  const pki = generateTestPki(join(dir, "pki"));
  const users = { device: "soak device password", observer: "soak observer password" };
  const broker = await startMosquitto({ pki, users });
  const clock = new ManualClock(Date.now()); // certificate dates are checked against this clock
  const xs = await XsScenarioHost.start([new URL("./soak-device.ts", import.meta.url).pathname], {
    createDevice: () => createSimDevice({ clock, log: () => {} }),
  });

  // The subscriber: persistent session, QoS 1, so nothing the broker accepted is lost to it.
  const seen = new Map<number, number>();
  let final: SoakFinal | undefined;
  const subscriber = mqtt.connect(`mqtts://localhost:${broker.port}`, {
    ca: pki.caPem, username: "observer", password: users.observer, clientId: "soak-observer",
    clean: false, reconnectPeriod: 100, connectTimeout: 5_000, keepalive: 0,
  });
  subscriber.on("error", () => {}); // refused while the broker restarts: it reconnects
  subscriber.on("message", (_topic, payload) => {
    const m = JSON.parse(payload.toString("utf8")) as { seq?: number } & Partial<SoakFinal>;
    if (m.final === true) final = m as SoakFinal;
    else if (typeof m.seq === "number") seen.set(m.seq, (seen.get(m.seq) ?? 0) + 1);
  });
  const subscribed = async () => {
    while (!subscriber.connected) await sleep(20);
    await subscriber.subscribeAsync("devices/+/telemetry", { qos: 1 });
  };

  let restarts = 0;
  let crashes = 0;
  let steps = 0;
  try {
    await subscribed();
    const env: SoakEnv = {
      host: "localhost", port: broker.port, ca: pki.caPem, wrongCa: pki.wrongCaPem,
      username: "device", password: users.device,
      observer: { username: "observer", password: users.observer },
      soak: { durationMs, telemetryMs, sampleEveryMs: restartEveryMs, sampleOffsetMs: restartEveryMs / 2, keepaliveSeconds: 60 },
    };
    let outcome: { error?: string; heap: readonly HeapSample[] } | undefined;
    const run = xs.run("soak:device", { broker: env, timeoutMs: 24 * 3_600_000 }).then(
      (r) => { outcome = { ...(r.error !== undefined ? { error: r.error } : {}), heap: r.heapSamples ?? [] }; },
      (e: unknown) => { outcome = { error: (e as Error).message, heap: [] }; },
    );

    /** Wait until XS is quiet; true if sockets saw traffic meanwhile. */
    const settle = async (): Promise<boolean> => {
      const before = xs.activity.socketEvents;
      for (let waitedMs = 0; ; ) {
        const a = xs.activity;
        await sleep(quietMs);
        waitedMs += quietMs;
        const b = xs.activity;
        const connecting = b.connecting > 0 && waitedMs < 10_000;
        if (b.inFlight === 0 && a.delivered === b.delivered && !connecting) return b.socketEvents !== before;
      }
    };
    const origin = clock.ticks;
    let nextRestart = origin + restartEveryMs;
    let busy = true;
    let lastReport = 0;
    while (outcome === undefined) {
      busy = (await settle()) || busy;
      if (outcome !== undefined) break;
      if (clock.ticks >= nextRestart && clock.ticks - origin < durationMs) {
        // Every other restart is a crash with a message in flight: the broker is frozen, the next
        // reading goes out (and is never acknowledged), then the broker is killed; the outbox must
        // resend it. The others are orderly stops (SIGTERM), right after a reading went out.
        const crash = restarts % 2 === 0;
        if (crash) process.kill(broker.pid!, "SIGSTOP");
        const next = clock.nextTimerIn();
        if (next !== undefined && next <= telemetryMs) {
          clock.advance(next);
          steps++;
          await settle();
        }
        if (crash) {
          await broker.kill();
          crashes++;
        } else await broker.stop();
        const downUntil = clock.ticks + downtimeMs;
        while (clock.ticks < downUntil) {
          clock.advance(Math.min(downUntil - clock.ticks, clock.nextTimerIn() ?? Infinity, 1_000));
          steps++;
          await settle();
        }
        await broker.restart();
        await subscribed();
        restarts++;
        nextRestart += restartEveryMs;
        busy = true;
        continue;
      }
      const next = clock.nextTimerIn();
      if (next === undefined) {
        await sleep(5); // nothing scheduled: the guest waits on the network
        continue;
      }
      const step = Math.max(0, Math.min(next, nextRestart - clock.ticks, busy ? 1_000 : Infinity));
      busy = false;
      clock.advance(step);
      steps++;
      if (options.onProgress && clock.ticks - lastReport >= 3_600_000) {
        lastReport = clock.ticks;
        options.onProgress({ simulatedMs: clock.ticks - origin, restarts, received: seen.size });
      }
    }
    await run;
    if (outcome.error !== undefined) throw new Error(`soak scenario failed on XS: ${outcome.error}`);
    for (let waited = 0; final === undefined && waited < 10_000; waited += 20) await sleep(20);
    if (final === undefined) throw new Error("the final marker never reached the subscriber");

    // The marker vouches for 1..lastSeq; a tick that fired after it was built is checked too.
    const published = Math.max(final.lastSeq, ...seen.keys());
    const lost: number[] = [];
    for (let seq = 1; seq <= published; seq++) if (!seen.has(seq)) lost.push(seq);
    let duplicates = 0;
    for (const n of seen.values()) duplicates += n - 1;
    const heap = outcome.heap;
    const online = heap.filter((s) => s.label.includes("(online"));
    const heapFirst = online[0]?.slots ?? NaN;
    const heapMax = Math.max(...online.map((s) => s.slots));
    const heapLimit = Math.round(heapFirst * (1 + bound.fraction) + bound.slots);
    return {
      simulatedMs: clock.ticks - origin, realMs: performance.now() - started,
      broker: "Debian Mosquitto over TLS (board TLS profile on the device side), restarted on the same port: alternately an orderly stop (SIGTERM) and a crash (SIGSTOP, a reading sent, SIGKILL)",
      restarts, crashes, published, received: seen.size, lost, duplicates, droppedByDevice: final.dropped,
      onlineTransitions: final.onlineTransitions, resent: final.resent, heap, heapFirst, heapMax, heapLimit,
      heapWithinBound: online.length > 0 && heapMax <= heapLimit, clockSteps: steps,
    };
  } finally {
    subscriber.end(true);
    await xs.close();
    await broker.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}
