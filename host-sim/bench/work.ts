// The work the bench times, written as engine-neutral scenarios so the very same code runs on
// Node and inside XS (bundled by host-sim/xs/host.ts, board prelude applied). Each one does its
// operation `iterations` times; the bench times whole runs from the Node side (Date.now is gone
// inside XS) and subtracts the empty run. Adding a figure: one entry in WORK.
import type { Io } from "../../src/io/io.js";
import { generateIdentity, nodeIdOf } from "../../src/identity/identity.js";
import { signFor } from "../../src/identity/signing.js";
import { Device } from "../../src/lifecycle/device.js";
import { Secret } from "../../src/secrets/secret.js";
import { CredentialStore } from "../../src/storage/credential-store.js";
import { aesGcmEncrypt, AesCtrStream } from "../../src/crypto/aes.js";
import { x25519, x25519KeyPair } from "../../src/crypto/x25519.js";
import { createSecuritySession } from "../../src/provisioning/security.js";
import { check, waitFor, type Scenario, type ScenarioContext } from "../../test/scenarios/harness.js";
import type { CryptoProvider } from "../../src/crypto/provider.js";
import { fixedRandom, prepare, type Prepared } from "../provisioning/handshake-bench.js";

export interface Work {
  readonly name: string;
  /** Operations per run on each engine (XS is much slower: fewer there). */
  readonly iterations: { readonly node: number; readonly xs: number };
  readonly needsBroker?: boolean;
  /** Untimed preparation, run once before the timed runs (its results kept in the module). */
  setup?(ctx: ScenarioContext): void;
  run(ctx: ScenarioContext, iterations: number): Promise<void> | void;
}

const KIB = new Uint8Array(1024).map((_, i) => i & 255);

/** A device with factory credentials in flash, booted and online. */
async function onlineDevice(ctx: ScenarioContext): Promise<{ device: Device; io: Io }> {
  const broker = ctx.broker!;
  const d = ctx.device();
  const identity = generateIdentity(d.io);
  new CredentialStore(d.io.storage).save({
    version: 1, identity,
    mqtt: { brokerUrl: `mqtts://${broker.host}:${broker.port}`, clientId: nodeIdOf(ctx.crypto, identity), username: broker.username, password: Secret.fromString(broker.password), ca: broker.ca },
  });
  const device = new Device(d.io, { telemetryIntervalMs: 0, keepaliveSeconds: 60, backoff: { initialMs: 100, maxMs: 1000, minMs: 50 } });
  device.boot();
  await waitFor(d.io, () => device.state === "online", 20_000, "online");
  return { device, io: d.io };
}

/** `count` QoS 1 telemetry messages, at most 32 unacknowledged at a time, all delivered. */
async function telemetry(ctx: ScenarioContext, count: number): Promise<void> {
  const { device, io } = await onlineDevice(ctx);
  const client = device.mqtt!;
  for (let sent = 0; sent < count; sent++) {
    check(device.publishTelemetry({ seq: sent, t: "bench" }) !== undefined, "telemetry refused");
    if (client.outboxSize >= 32) await waitFor(io, () => client.outboxSize < 16, 20_000, "acknowledgements");
  }
  await waitFor(io, () => client.outboxSize === 0, 20_000, "all delivered");
  device.shutdown();
}

// Device-side handshakes: the phone's messages are computed once in setup (handshake-bench.ts: the
// device's random is fixed, so its replies and hence the phone's Command1 are the same on every run).
let sec1: Prepared | undefined;
let sec2: Prepared | undefined;

/** One device-side handshake from a fresh session; checks it ends established. */
function deviceHandshake(crypto: CryptoProvider, prepared: Prepared | undefined): void {
  check(prepared !== undefined, "setup did not run");
  const session = createSecuritySession(prepared.config, fixedRandom, crypto);
  session.handshake(prepared.cmd0);
  session.handshake(prepared.cmd1);
  check(session.established, "handshake did not complete");
}

export const WORK: readonly Work[] = [
  { name: "empty", iterations: { node: 1, xs: 1 }, run() {} },
  {
    name: "ed25519-keygen",
    iterations: { node: 50, xs: 3 },
    run(ctx, n) {
      const d = ctx.device();
      for (let i = 0; i < n; i++) generateIdentity(d.io);
    },
  },
  {
    name: "ed25519-sign",
    iterations: { node: 50, xs: 3 },
    run(ctx, n) {
      const identity = generateIdentity(ctx.device().io);
      const message = KIB.subarray(0, 64);
      for (let i = 0; i < n; i++) signFor(ctx.crypto, identity, "rmaker-challenge", message);
    },
  },
  {
    name: "sha512-1kib",
    iterations: { node: 2000, xs: 20 },
    run(ctx, n) {
      for (let i = 0; i < n; i++) ctx.crypto.sha512(KIB);
    },
  },
  {
    name: "x25519-shared",
    iterations: { node: 50, xs: 3 },
    run(_ctx, n) {
      const peer = x25519KeyPair((into) => into.fill(9)).publicKey;
      const secret = new Uint8Array(32).fill(3);
      for (let i = 0; i < n; i++) x25519(secret, peer);
    },
  },
  { name: "security1-handshake", iterations: { node: 20, xs: 2 }, setup: (ctx) => { sec1 = prepare(1, ctx.crypto); }, run: (ctx, n) => { for (let i = 0; i < n; i++) deviceHandshake(ctx.crypto, sec1); } },
  { name: "security2-handshake", iterations: { node: 5, xs: 1 }, setup: (ctx) => { sec2 = prepare(2, ctx.crypto); }, run: (ctx, n) => { for (let i = 0; i < n; i++) deviceHandshake(ctx.crypto, sec2); } },
  {
    name: "aes-ctr-1kib",
    iterations: { node: 2000, xs: 20 },
    run(ctx, n) {
      const stream = new AesCtrStream(ctx.crypto, new Uint8Array(32).fill(1), new Uint8Array(16));
      for (let i = 0; i < n; i++) stream.apply(KIB);
    },
  },
  {
    name: "aes-gcm-1kib",
    iterations: { node: 1000, xs: 10 },
    run(ctx, n) {
      const key = new Uint8Array(32).fill(1);
      const nonce = new Uint8Array(12);
      for (let i = 0; i < n; i++) aesGcmEncrypt(ctx.crypto, key, nonce, KIB);
    },
  },
  { name: "online", iterations: { node: 1, xs: 1 }, needsBroker: true, run: (ctx) => telemetry(ctx, 0) },
  { name: "telemetry-100", iterations: { node: 100, xs: 100 }, needsBroker: true, run: (ctx, n) => telemetry(ctx, n) },
  { name: "telemetry-1000", iterations: { node: 1000, xs: 1000 }, needsBroker: true, run: (ctx, n) => telemetry(ctx, n) },
  { name: "telemetry-3000", iterations: { node: 3000, xs: 3000 }, needsBroker: true, run: (ctx, n) => telemetry(ctx, n) },
];

/** The scenarios the XS bundle registers: "bench:<name>", with XS iteration counts. */
export const scenarios: Scenario[] = [
  ...WORK.map((w) => ({
    name: `bench:${w.name}`,
    ...(w.needsBroker ? { needs: ["broker"] as const } : {}),
    run: (ctx: ScenarioContext) => w.run(ctx, w.iterations.xs),
  })),
  // "bench:<name>:setup", run once (untimed) before the timed runs of a case that has one
  ...WORK.filter((w) => w.setup !== undefined).map((w) => ({ name: `bench:${w.name}:setup`, run: (ctx: ScenarioContext) => w.setup!(ctx) })),
];
