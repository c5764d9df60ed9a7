// The state behind the fakes of the SDK modules: a manual clock and timer queue, the "other side"
// of sockets, NVS, the radio. The guest checks drive it; the fakes enforce the SDK's rules (as
// read from its sources) so the glue fails here where it would fail on the board.

export interface FakeTimer {
  readonly id: number;
  due: number;
  readonly repeat: number;
  callback: (timer: FakeTimer) => void;
  cleared: boolean;
}

export const world = {
  /** Wall clock, ms since the epoch (what Date.now() reads in the glue). */
  now: 5_000,
  /** Milliseconds since boot (Time.ticks): moves with advance(), not with Time.set(). */
  ticks: 0,
  timers: [] as FakeTimer[],
  nextTimer: 1,
  /** Preference store: `${domain}/${key}` → value. */
  prefs: new Map<string, string | number | boolean | ArrayBuffer>(),
  /** The desktop simulator's files (the "file" fake): path → bytes. */
  files: new Map<string, Uint8Array>(),
  /** When set: write() calls that still succeed before one fails half-way (see file.ts). */
  fileWritesLeft: undefined as number | undefined,
  dns: new Map<string, string>(),
  /** Seconds since the epoch that SNTP answers with; undefined = no answer (error). */
  sntpSeconds: undefined as number | undefined,
  sntpRequests: 0,
  /** WiFi.mode: -5 (off) until Wi-Fi is initialised, as the ESP32's xs6wifi.c reports. */
  wifiMode: -5,
  mac: "a4:d1:8c:db:c0:20",
  ip: "192.0.2.7",
  restarts: 0,
  randomBytes: 0,
  digests: 0,
  /** AES block/GCM operations through the fake crypt modules. */
  ciphers: 0,
  traces: [] as string[],
  config: {} as Record<string, unknown>,
};

/** Fakes whose state lives beside `world` (e.g. the BLE stack) register their reset here. */
export const onReset: (() => void)[] = [];

export function resetWorld(): void {
  for (const reset of onReset) reset();
  world.now = 5_000;
  world.ticks = 0;
  world.timers = [];
  world.prefs.clear();
  world.files.clear();
  world.fileWritesLeft = undefined;
  world.dns.clear();
  world.sntpSeconds = undefined;
  world.sntpRequests = 0;
  world.wifiMode = -5;
  world.restarts = 0;
  world.randomBytes = 0;
  world.digests = 0;
  world.ciphers = 0;
  world.traces = [];
}

export function addTimer(callback: (timer: FakeTimer) => void, delay: number, repeat: number): FakeTimer {
  const timer: FakeTimer = { id: world.nextTimer++, due: world.now + delay, repeat, callback, cleared: false };
  world.timers.push(timer);
  return timer;
}

/** Move the clock forward, firing due timers in order (a callback may add more). */
export function advance(ms: number): void {
  const end = world.now + ms;
  for (;;) {
    const due = world.timers.filter((t) => !t.cleared && t.due <= end).sort((a, b) => a.due - b.due || a.id - b.id)[0];
    if (!due) break;
    world.ticks += Math.max(0, due.due - world.now);
    world.now = Math.max(world.now, due.due);
    if (due.repeat > 0) due.due += due.repeat;
    else due.cleared = true;
    due.callback(due);
  }
  world.timers = world.timers.filter((t) => !t.cleared);
  world.ticks += Math.max(0, end - world.now);
  world.now = Math.max(world.now, end); // Time.set() may have moved the clock past `end`
}

export function isIpv4(address: unknown): boolean {
  return typeof address === "string" && /^\d{1,3}(\.\d{1,3}){3}$/.test(address);
}

export function bytesOf(value: unknown, what: string): Uint8Array {
  if (value instanceof ArrayBuffer) return new Uint8Array(value.slice(0));
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
  throw new TypeError(`${what}: expected a buffer`);
}
