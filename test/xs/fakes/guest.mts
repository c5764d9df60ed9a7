// (.mts: the host type-check has no SDK declarations and skips it; tsconfig.moddable.json checks it.)
// Runs inside the XS worker, after the board prelude: the board glue (src/platform/moddable/) with
// every SDK module replaced by a fake from this folder. Each check drives the glue through the
// fakes and the real core; the Node side (test/xs/platform.test.ts) asks for them one by one.
import "./globals.js";
import { check, CheckFailed, eq, sameBytes, serveChecks, throwsCode, type Checks } from "./checks.js";
import { advance, resetWorld, world } from "./world.js";
import { peers, UDP, type FakePeer } from "./sockets.js";
import { Digest } from "./crypt.js";
import { ATT_ERR_INVALID_OFFSET, central, GATTServer, nimble } from "./ble.js";
import { radio } from "./wifi.js";
import main from "../../../src/platform/moddable/main.js";
import { createBoardIo } from "../../../src/platform/moddable/io.js";
import { BoardError } from "../../../src/platform/moddable/errors.js";
import { ADVERTISING_FLAGS, ADVERTISING_WATCHDOG_MS, PREFERRED_MTU } from "../../../src/platform/moddable/ble.js";
import { BoardConfigError, copyConfig } from "../../../src/platform/moddable/board-config.js";
import fakeConfig from "./mc-config.js";
import { fromHex, fromUtf8, toBase64, utf8 } from "../../../src/bytes/bytes.js";
import { Secret } from "../../../src/secrets/secret.js";
import type { BleConnection, BlePeripheralOptions, Io, SocketError, WifiEvent, WifiNetwork } from "../../../src/io/io.js";
import { buildGattService, DECLARED_CUSTOM_ENDPOINTS } from "../../../src/provisioning/gatt.js";
import { STANDARD_ENDPOINTS, type ProvisioningService } from "../../../src/provisioning/service.js";
import { DEFAULT_SERVICE_UUID } from "../../../src/provisioning/uuid.js";
import { providerMismatches } from "../../scenarios/provider-vectors.js";
import { RECORDED_AT, RECORDED_HANDSHAKES, type RecordedHandshake } from "../../scenarios/tls-recordings.js";
import { HandshakeObserver } from "../../../src/tls/observer.js";
import { parseCertificate } from "../../../src/tls/x509.js";
import { connect, finish, head, httpWorld, post, type FakeResponse } from "./http.js";
import { BoardHttpProvisioning, HTTP_MAX_BODY } from "../../../src/platform/moddable/http-provisioning.js";
import { Logger } from "../../../src/log/logger.js";

function pem(label: string, bytes: Uint8Array): string {
  const b64 = toBase64(bytes);
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

const SERVICE_UUID = "021a9004-0382-4aea-bff4-6b3f1c5adfb4";

const SESSION_UUID = "021aff51-0382-4aea-bff4-6b3f1c5adfb4";
const CONFIG_UUID = "021aff52-0382-4aea-bff4-6b3f1c5adfb4";

/** A small table in the provisioning shape: two READ|WRITE endpoints with 0x2901, one write-only without descriptors. */
function bleOptions(handlers: {
  onWrite?: (c: BleConnection, v: Uint8Array) => void; onRead?: () => Uint8Array;
  onConnect?: (c: BleConnection) => void; onDisconnect?: (c: BleConnection) => void;
}, configUuid = CONFIG_UUID): BlePeripheralOptions {
  return {
    deviceName: "PROV_dbc020",
    advertisedService: SERVICE_UUID,
    services: [{
      uuid: SERVICE_UUID,
      characteristics: [
        { uuid: SESSION_UUID, properties: ["read", "write"], descriptors: [{ uuid: "2901", value: utf8("prov-session") }], ...(handlers.onWrite ? { onWrite: handlers.onWrite } : {}), ...(handlers.onRead ? { onRead: handlers.onRead } : {}) },
        { uuid: configUuid, properties: ["read", "write"], descriptors: [{ uuid: "2901", value: utf8("prov-config") }] },
        { uuid: "021aff53-0382-4aea-bff4-6b3f1c5adfb4", properties: ["write"], onWrite: () => undefined },
      ],
    }],
    ...(handlers.onConnect ? { onConnect: handlers.onConnect } : {}),
    ...(handlers.onDisconnect ? { onDisconnect: handlers.onDisconnect } : {}),
  };
}

function validConfig(): Record<string, unknown> {
  return {
    sntp: "pool.ntp.org",
    device: { telemetryIntervalMs: 10_000, keepaliveSeconds: 60 },
    storage: { namespace: "onboard" },
    provisioning: { serviceUuid: SERVICE_UUID, namePrefix: "PROV_", pop: { namespace: "factory", key: "pop" } },
    factory: {
      chain: ["stored", "bootstrap"],
      broker: { url: "mqtts://broker.example.net:8883", ca: RECORDED_HANDSHAKES[0]!.ca },
      bootstrap: { url: "https://bootstrap.example.net:9013", generation: "client", externalKey: "fleet-key", ca: RECORDED_HANDSHAKES[0]!.ca },
    },
  };
}

/** The leaf certificate a recorded server sent (read with the core's own observer and parser). */
function leafOf(rec: RecordedHandshake) {
  const observer = new HandshakeObserver();
  for (const f of rec.flights) observer.feed(f.d, fromHex(f.hex));
  return parseCertificate(observer.certificates![0]!);
}

function freshIo(): Io {
  resetWorld();
  peers.length = 0;
  return createBoardIo({ storageNamespace: "onboard", sntp: "pool.ntp.org", log: (r) => world.traces.push(JSON.stringify(r)) });
}

function recorder() {
  const events: string[] = [];
  const errors: SocketError[] = [];
  return {
    events, errors,
    handlers: {
      onWritable: (n: number) => { events.push(`writable ${n}`); },
      onReadable: (n: number) => { events.push(`readable ${n}`); },
      onError: (e: SocketError) => { errors.push(e); events.push(`error ${e.kind}`); },
    },
  };
}

function lastPeer(): FakePeer {
  const peer = peers[peers.length - 1];
  check(peer !== undefined, "no socket was opened");
  return peer;
}

let dialing: { device: NonNullable<ReturnType<typeof main>>; rounds: number } | undefined;

const checks: Checks = {
  "main boots a blank board with a factory PoP: radio first, identity via the native RNG and SHA-512, stored in NVS, provisioning window open, kept across a reboot"() {
    resetWorld();
    peers.length = 0;
    world.config = validConfig();
    world.prefs.set("factory/pop", "abcd1234");
    const device = main();
    check(device !== undefined, "main() returned no device");
    eq(device.state, "provisioning", "a blank board with radios and a PoP opens the provisioning window");
    check(device.nodeId !== undefined, "no node ID");
    eq(world.wifiMode, 1, "Wi-Fi station mode set before boot");
    check(world.randomBytes >= 32, "identity key not drawn from board-random");
    check(world.digests > 0, "Ed25519 did not use the native Digest(\"SHA512\")");
    const stored = [...world.prefs.keys()].filter((k) => k.startsWith("onboard/"));
    check(stored.length > 0, "nothing written to the NVS namespace");
    const boardLine = world.traces.find((t) => t.includes("A4:D1:8C:DB:C0:20"));
    check(boardLine !== undefined, "boot log does not show the MAC");
    check(boardLine.includes("present"), "boot log does not report the factory PoP as present");
    check(!world.traces.some((t) => t.includes("abcd1234")), "the PoP reached the console");
    device.shutdown();
    nimble.reset(); // a reboot: the SDK's one GATT server goes with it
    const again = main();
    check(again !== undefined, "second boot failed");
    eq(again.nodeId, device.nodeId, "node ID after reboot");
    again.shutdown();
  },

  "crypto: the board's provider (io.crypto) gives the published answers through the SDK's Digest, BlockCipher, Mode(CTR) and GCM"() {
    const io = freshIo();
    eq(providerMismatches(io.crypto), [], "board provider known answers");
    check(world.digests > 0 && world.ciphers > 0, "the provider did not go through the SDK's crypt modules");
  },

  "mc/config is preload-created (JSON.stringify throws): main works on a plain copy, so nothing kept, stored or logged is one of its objects"() {
    resetWorld();
    peers.length = 0;
    world.config = validConfig();
    let threw = false;
    try { JSON.stringify(fakeConfig.factory); } catch { threw = true; }
    check(threw, "the fake mc/config lets JSON.stringify through: the check has no teeth");
    const copy = copyConfig(fakeConfig) as Record<string, unknown>;
    eq(JSON.parse(JSON.stringify(copy.factory)), validConfig().factory, "the copy serialises and equals the config");
    const device = main();
    check(device !== undefined, "main() returned no device");
    device.shutdown();
  },

  "wifi: SNTP retried with back-off while the clock is unset (M6): connected after the first failure, 2 s, 4 s … later attempts, none once set, none extra per rejoin"() {
    const io = freshIo();
    radio.instances.length = 0;
    const events: WifiEvent[] = [];
    io.wifi!.connect({ ssid: utf8("Lab"), passphrase: Secret.fromString("correct horse") }, (e) => events.push(e));
    advance(1);
    world.now = 10_000; // a board at power-on: clock unset
    world.sntpSeconds = undefined; // the server does not answer
    radio.emit("connect");
    radio.emit("gotIP");
    advance(100);
    eq(world.sntpRequests, 1, "first SNTP attempt on the join");
    eq(events.at(-1), { type: "connected", ip: "192.0.2.7" }, "connected reported after the failed attempt");
    advance(2_000);
    eq(world.sntpRequests, 2, "retried 2 s later, without a rejoin");
    radio.emit("disconnect", 0);
    radio.emit("connect");
    radio.emit("gotIP"); // a rejoin during the back-off: reported at once, no extra attempt
    eq(events.at(-1), { type: "connected", ip: "192.0.2.7" }, "rejoin reported");
    eq(world.sntpRequests, 2, "a rejoin does not add an attempt");
    advance(4_100);
    eq(world.sntpRequests, 3, "then 4 s later");
    world.sntpSeconds = 1_800_000_000;
    advance(8_100);
    eq(world.sntpRequests, 4, "then 8 s later");
    check(world.now >= 1_800_000_000_000, "clock set by the answered attempt");
    advance(600_000);
    eq(world.sntpRequests, 4, "no attempt once the clock is set");
    io.wifi!.disconnect();
  },

  "device: where System.restart() would hang (the desktop simulator, canRestart false) restart() is a typed refusal, never a call"() {
    resetWorld();
    peers.length = 0;
    const io = createBoardIo({ storageNamespace: "onboard", canRestart: false, log: (r) => world.traces.push(JSON.stringify(r)) });
    throwsCode(() => io.device.restart(), "restart-unavailable", "restart on the simulator");
    eq(world.restarts, 0, "System.restart was called");
  },

  // The strategy chain runs on promises, and XS runs promise jobs between commands: this check
  // answers "again" until the dial shows up (the Node side asks again, up to a limit).
  "main dials the bootstrap service over TLS through the glue: DNS, SNI, the SDK's verification off (the firmware verifies)"() {
    if (dialing === undefined) {
      resetWorld();
      peers.length = 0;
      world.config = validConfig();
      world.dns.set("bootstrap.example.net", "10.1.2.3");
      const device = main();
      check(device !== undefined, "main() returned no device");
      dialing = { device, rounds: 0 };
      return "again";
    }
    const { device } = dialing;
    advance(100);
    const tls = peers.find((p) => p.kind === "tls");
    if (tls === undefined) {
      if (++dialing.rounds < 50) return "again";
      dialing = undefined;
      throw new CheckFailed(`the chain did not open a TLS socket (state ${device.state})`);
    }
    dialing = undefined;
    eq(tls.options.address, "10.1.2.3", "address from System.resolve");
    eq(tls.options.port, 9013, "port");
    eq(tls.options.host, "bootstrap.example.net", "host (SNI)");
    const secure = tls.options.secure as { certificate?: ArrayBuffer; serverName?: string; verify?: boolean; cache?: boolean };
    eq([secure.certificate, secure.verify, secure.cache], [undefined, false, false], "no anchor for the SDK, verification and resumption off");
    eq(secure.serverName, "bootstrap.example.net", "serverName");
    tls.fail();
    device.shutdown();
    return undefined;
  },

  "main refuses a bad build at boot and names the field"() {
    resetWorld();
    const config = validConfig();
    (config.factory as Record<string, unknown>).chain = [];
    world.config = config;
    check(main() === undefined, "main() booted with a bad factory config");
    check(world.traces.some((t) => t.includes("config-invalid") && t.includes("chain")), "error does not name the field");
    world.config = { ...validConfig(), storage: { namespace: "a-namespace-too-long" } };
    check(main() === undefined, "main() booted with a 20-character NVS namespace");
    check(world.traces.some((t) => t.includes("storage.namespace")), "error does not name storage.namespace");
    check(new BoardConfigError("x", "y").code === "bad-board-config", "BoardConfigError code");
    check(new BoardError("pem", "y").code === "pem", "BoardError code");
  },

  "tcp: names resolved first, writes queued beyond the writable window, then refused/closed/dns errors"() {
    const io = freshIo();
    world.dns.set("broker.local", "10.0.0.2");
    const r = recorder();
    const socket = io.network.tcp({ host: "broker.local", port: 1883, ...r.handlers });
    const early = utf8("x".repeat(100));
    socket.write(early); // before DNS and connect: must be queued, not thrown
    eq(peers.length, 0, "socket opened before the name resolved");
    advance(20);
    const peer = lastPeer();
    eq(peer.options.address, "10.0.0.2", "resolved address");
    eq(peer.options.nodelay, true, "nodelay");
    peer.accept(40);
    eq(peer.sentBytes().length, 40, "first window");
    eq(r.events, [], "onWritable reached the core while bytes were still queued");
    peer.grant(100);
    sameBytes(peer.sentBytes(), early, "all bytes, in order");
    eq(r.events, ["writable 40"], "onWritable once the queue drained");
    peer.send(utf8("hello"));
    peer.send(utf8(" world"));
    eq(fromUtf8(socket.read()!), "hello world", "read returns everything waiting");
    eq(socket.read(), undefined, "nothing left");
    peer.fail();
    eq(r.errors.map((e) => e.kind), ["closed"], "error after connect");
    throwsCode(() => socket.write(utf8("late")), "socket-finished", "write after the end");
    check(peer.closed, "SDK socket not closed after its error");

    const refused = recorder();
    io.network.tcp({ host: "10.0.0.9", port: 1, ...refused.handlers });
    lastPeer().fail();
    eq(refused.errors.map((e) => e.kind), ["refused"], "error before connect");

    const unknown = recorder();
    io.network.tcp({ host: "nowhere.local", port: 1, ...unknown.handlers });
    advance(50);
    eq(unknown.errors.map((e) => e.kind), ["dns"], "unresolvable name");

    const closed = recorder();
    const s = io.network.tcp({ host: "10.0.0.9", port: 2, ...closed.handlers });
    const p = lastPeer();
    s.close();
    check(p.closed, "close() did not close the SDK socket");
    p.send(utf8("ignored"));
    eq(closed.events, [], "handlers called after close()");
  },

  "tls: the SDK session runs unverified and uncached; the firmware verifies the recorded handshake it saw on the transport; PEM errors typed"() {
    const io = freshIo();
    const [rsa, ec] = RECORDED_HANDSHAKES as [RecordedHandshake, RecordedHandshake];
    const flights = (rec: RecordedHandshake) => rec.flights.map((f) => ({ d: f.d, bytes: fromHex(f.hex) }));
    world.now = RECORDED_AT;
    const key = Uint8Array.from({ length: 64 }, (_, i) => 255 - i);
    const cert = Uint8Array.from({ length: 80 }, (_, i) => i);
    const r = recorder();
    const socket = io.network.tls({
      host: "10.9.8.7", port: 8883, serverName: "localhost", ca: rsa.ca,
      clientCertificate: pem("CERTIFICATE", cert), clientKey: Secret.fromString(pem("PRIVATE KEY", key)), alpn: ["mqtt"],
      ...r.handlers,
    });
    const peer = lastPeer();
    eq(peer.kind, "tls", "TLS socket");
    const secure = peer.options.secure as { certificate?: ArrayBuffer; verify: boolean; cache: boolean; serverName: string; clientKey: ArrayBuffer; clientCertificates: ArrayBuffer[]; applicationLayerProtocolNegotiation: string[] };
    eq(secure.verify, false, "the SDK's verification is off: the firmware verifies");
    eq(secure.cache, false, "no session resumption (a resumed session shows no certificate)");
    eq(secure.certificate, undefined, "no trust anchor handed to the SDK");
    eq(secure.serverName, "localhost", "serverName");
    sameBytes(new Uint8Array(secure.clientKey), key, "client key");
    eq(secure.clientCertificates.length, 1, "client chain length");
    sameBytes(new Uint8Array(secure.clientCertificates[0]!), cert, "client certificate");
    eq(secure.applicationLayerProtocolNegotiation, ["mqtt"], "ALPN");
    peer.handshake(flights(rsa));
    eq(r.events, ["writable 1000"], "verified, then writable");
    eq(socket.tlsVerified?.(), true, "tlsVerified");
    check(world.traces.some((t) => t.includes('"verified"')), "verdict logged");

    // The same bytes under the wrong CA: refused before the caller may write, the SDK socket closed.
    const wrong = recorder();
    const refusedSocket = io.network.tls({ host: "10.9.8.7", port: 8883, serverName: "localhost", ca: ec.ca, ...wrong.handlers });
    const wrongPeer = lastPeer();
    wrongPeer.handshake(flights(rsa));
    check(!wrong.events.some((e) => e.startsWith("writable")), "no onWritable for an untrusted server");
    eq(wrong.errors.map((e) => [e.kind, e.reason]), [["tls", "untrusted-chain"]], "typed refusal");
    check(wrongPeer.closed, "the SDK socket is closed");
    throwsCode(() => refusedSocket.write(utf8("CONNECT")), "handshake-incomplete", "no byte after a refusal");

    // The EC chain, with the device clock two years on.
    world.now = RECORDED_AT + 2 * 365 * 86_400_000;
    const late = recorder();
    io.network.tls({ host: "10.9.8.7", port: 8883, serverName: "localhost", ca: ec.ca, ...late.handlers });
    lastPeer().handshake(flights(ec));
    eq(late.errors.map((e) => e.reason), ["expired"], "expired by the device clock");
    world.now = RECORDED_AT;

    // The SDK's TLS throwing inside its transport callback (a refused handshake) is this socket's
    // typed error, not an XS abort.
    const thrown = recorder();
    io.network.tls({ host: "10.9.8.7", port: 8883, serverName: "localhost", ca: rsa.ca, ...thrown.handlers });
    const throwingPeer = lastPeer();
    throwingPeer.throwInSession("ssl: certificate: auth err");
    eq(thrown.errors.map((e) => e.kind), ["tls"], "exception → tls error");
    check(thrown.errors[0]!.message.includes("auth err"), "the SDK's reason is kept");
    check(throwingPeer.closed, "the SDK socket is closed after its exception");

    throwsCode(() => io.network.tls({ host: "10.9.8.7", port: 8883, ca: "-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n", ...recorder().handlers }), "pem", "bad base64");
    throwsCode(() => io.network.tls({ host: "10.9.8.7", port: 8883, ca: "no pem here", ...recorder().handlers }), "pem", "no certificate");
    throwsCode(() => io.network.tls({ host: "10.9.8.7", port: 8883, ca: rsa.ca, clientKey: Secret.fromString(pem("RSA PRIVATE KEY", key)), ...recorder().handlers }), "pem", "PKCS#1 key");

    // Trust on first use (hub pairing): no chain check, but the key exchange must be signed by the
    // leaf whose key peerKey() reports (SHA-256 of its SubjectPublicKeyInfo).
    const pinned = recorder();
    const tofu = io.network.tls({ host: "10.9.8.7", port: 8443, trustOnFirstUse: true, ...pinned.handlers });
    const tofuPeer = lastPeer();
    eq((tofuPeer.options.secure as { verify?: boolean }).verify, false, "verify off for trust on first use");
    eq(tofu.peerKey?.(), undefined, "no key before the handshake");
    world.now = 0; // dates play no part in a pin
    tofuPeer.handshake(flights(ec));
    eq(pinned.events, ["writable 1000"], "pinned session up");
    eq(tofu.tlsVerified?.(), false, "a pin is not a verified chain");
    const digest = new Digest("SHA256");
    digest.write(leafOf(ec).spki.slice().buffer);
    sameBytes(tofu.peerKey?.(), new Uint8Array(digest.close()), "peer key = SHA-256(SPKI)");
    check(!world.traces.some((t) => t.includes(toBase64(key))), "key material in the log");
  },

  "tls: a fatal alert behind application data — run by tlssocket.js's own re-read Timer — is the socket's tls error, not an exception escaping a timer (fxAbort)"() {
    const io = freshIo();
    const [rsa] = RECORDED_HANDSHAKES as [RecordedHandshake];
    world.now = RECORDED_AT;
    const r = recorder();
    const socket = io.network.tls({ host: "10.9.8.7", port: 8883, serverName: "localhost", ca: rsa.ca, ...r.handlers });
    const peer = lastPeer();
    peer.handshake(rsa.flights.map((f) => ({ d: f.d, bytes: fromHex(f.hex) })));
    eq(r.events, ["writable 1000"], "verified, then writable");
    // The server's reply, and behind it a fatal alert (handshake_failure) the SDK's session throws on.
    peer.sendThenFault(utf8("CONNACK"), "alert: 2, 40");
    eq(r.events.at(-1), "readable 7", "the reply reaches the core");
    sameBytes(socket.read(), utf8("CONNACK"), "the reply");
    try {
      advance(10); // tlssocket.js's re-read Timer (and the glue's)
    } catch (e) {
      throw new CheckFailed(`an exception escaped a timer callback (XS abort on the board): ${e instanceof Error ? e.message : String(e)}`);
    }
    eq(r.errors.map((e) => e.kind), ["tls"], "the alert is the socket's tls error");
    check(r.errors[0]!.message.includes("alert: 2, 40"), "the SDK's reason is kept");
    check(peer.closed, "the SDK socket is closed");
    advance(1000);
    eq(r.errors.length, 1, "one error, nothing after");
  },

  "udp: datagrams both ways, addresses as given"() {
    const io = freshIo();
    UDP.sockets.length = 0;
    let readable = 0;
    const socket = io.network.udp({ port: 5353, onReadable: (n) => { readable += n; } });
    const raw = UDP.sockets[0];
    check(raw !== undefined, "no UDP socket");
    eq(raw.options.port, 5353, "bound port");
    socket.write(utf8("ping"), "224.0.0.251", 5353);
    eq(raw.outbox.map((d) => [fromUtf8(d.data), d.address, d.port]), [["ping", "224.0.0.251", 5353]], "sent datagram");
    raw.deliver(utf8("pong"), "192.0.2.50", 5353);
    check(readable > 0, "onReadable not called");
    const got = socket.read();
    check(got !== undefined, "no datagram");
    eq([fromUtf8(got.data), got.address, got.port], ["pong", "192.0.2.50", 5353], "received datagram");
    eq(socket.read(), undefined, "one datagram only");
    socket.close();
    throwsCode(() => socket.write(utf8("x"), "192.0.2.1", 1), "socket-finished", "write after close");
  },

  "storage: blobs round-trip through Preference; NVS limits and foreign values are typed errors"() {
    const io = freshIo();
    const value = Uint8Array.from({ length: 200 }, (_, i) => i);
    io.storage.write("cred-a", value);
    value[0] = 99; // the stored copy must not alias the caller's array
    const back = io.storage.read("cred-a");
    check(back !== undefined && back[0] === 0 && back.length === 200, "stored bytes changed or missing");
    eq(io.storage.read("absent"), undefined, "absent key");
    io.storage.delete("cred-a");
    eq(io.storage.read("cred-a"), undefined, "deleted key");
    throwsCode(() => io.storage.write("sixteen-chars-ab", value), "storage-key", "16-character key");
    world.prefs.set("onboard/foreign", "a string");
    throwsCode(() => io.storage.read("foreign"), "storage-value", "non-blob value");
  },

  "timers and clock: one-shot timers fire once in order, clear works, clock reads the board time"() {
    const io = freshIo();
    const fired: string[] = [];
    io.timers.set(() => fired.push("b"), 200);
    io.timers.set(() => fired.push("a"), 100);
    const c = io.timers.set(() => fired.push("c"), 150);
    io.timers.clear(c);
    io.timers.clear(c); // twice is harmless
    advance(1_000);
    eq(fired, ["a", "b"], "fired");
    advance(1_000);
    eq(fired, ["a", "b"], "one-shot timers fired again");
    world.now = 1_800_000_000_000;
    eq(io.clock.now(), 1_800_000_000_000, "clock");
    const bytes = new Uint8Array(16);
    io.random(bytes);
    check(bytes.some((b) => b !== 0), "random bytes not filled");
  },

  "timers: a callback that throws is caught and logged by code, never reaches the SDK's timer service (fxAbort on the board)"() {
    const io = freshIo();
    const fired: string[] = [];
    io.timers.set(() => { throw Object.assign(new Error("core bug"), { code: "core-bug" }); }, 100);
    io.timers.set(() => { throw new Error("untyped"); }, 150);
    io.timers.set(() => fired.push("after"), 200);
    advance(1_000); // the fake propagates an escaping exception, which would fail this check
    eq(fired, ["after"], "later timers still fire");
    const logged = world.traces.filter((t) => t.includes("timer-callback-threw"));
    eq(logged.length, 2, "each throw logged once");
    check(logged[0]!.includes("core-bug") && logged[1]!.includes("exception"), `codes not logged: ${logged.join(" | ")}`);
    check(!logged.some((t) => t.includes("core bug") || t.includes("untyped")), "the message text (could carry anything) was logged");
  },

  "device: MAC undefined until Wi-Fi starts, then upper case; restart goes to System.restart"() {
    const io = freshIo();
    eq(io.device.mac(), undefined, "MAC before Wi-Fi start");
    io.wifi!.start();
    eq(io.device.mac(), "A4:D1:8C:DB:C0:20", "MAC after start");
    io.device.restart();
    eq(world.restarts, 1, "restart");
  },

  "wifi: scan mapped to bytes and auth modes; connect reports auth-error, network-not-found, connection-lost; SNTP before connected"() {
    const io = freshIo();
    radio.instances.length = 0;
    radio.scanResults = [
      { ssid: "Café", authentication: "wpa2_psk", rssi: -40, channel: 6, bssid: Uint8Array.of(1, 2, 3, 4, 5, 6).buffer },
      { ssid: "open", authentication: "none", rssi: -70, channel: 11 }, // the simulator gives no BSSID
    ];
    let networks: readonly WifiNetwork[] | undefined;
    io.wifi!.scan((n) => { networks = n; });
    advance(2_000);
    check(networks !== undefined, "scan did not answer");
    eq(networks.map((n) => [fromUtf8(n.ssid), n.auth, n.channel, n.rssi, [...n.bssid]]), [
      ["Café", "wpa2-psk", 6, -40, [1, 2, 3, 4, 5, 6]],
      ["open", "open", 11, -70, [0, 0, 0, 0, 0, 0]],
    ], "scan results");

    const events: WifiEvent[] = [];
    io.wifi!.connect({ ssid: utf8("Café"), passphrase: Secret.fromString("correct horse"), channel: 6 }, (e) => events.push(e));
    eq(radio.lastOptions, { ssid: "Café", password: "correct horse", channel: 6 }, "driver options");
    advance(1);
    eq(events, [{ type: "connecting" }], "connecting");
    radio.emit("disconnect", -1);
    eq(events[1], { type: "disconnected", reason: "auth-error" }, "wrong passphrase");
    radio.emit("disconnect", 0);
    eq(events[2], { type: "disconnected", reason: "network-not-found" }, "never associated");
    radio.emit("connect");
    world.now = 10_000; // clock unset: the glue must ask SNTP before saying "connected"
    world.sntpSeconds = 1_800_000_000;
    radio.emit("gotIP");
    eq(events.length, 3, "connected reported before the clock was set");
    advance(100);
    eq(world.sntpRequests, 1, "SNTP asked once");
    eq(events[3], { type: "connected", ip: "192.0.2.7" }, "connected with IP");
    eq(world.now >= 1_800_000_000_000, true, "clock set from SNTP");
    radio.emit("disconnect", 0);
    eq(events[4], { type: "disconnected", reason: "connection-lost" }, "lost after association");
    radio.emit("connect");
    radio.emit("gotIP");
    eq(events[5], { type: "connected", ip: "192.0.2.7" }, "no second SNTP once the clock is set");
    eq(world.sntpRequests, 1, "SNTP asked again");

    const replaced: WifiEvent[] = [];
    io.wifi!.connect({ ssid: utf8("other") }, (e) => replaced.push(e));
    radio.emit("disconnect", -1);
    eq(events.length, 6, "events reached a replaced connect()");
    eq(replaced.map((e) => e.type), ["disconnected"], "new connect gets the event");

    const bad: WifiEvent[] = [];
    io.wifi!.connect({ ssid: Uint8Array.of(0xff, 0xfe) }, (e) => bad.push(e));
    advance(1);
    eq(bad, [{ type: "disconnected", reason: "network-not-found" }], "non-UTF-8 SSID");
    check(!world.traces.some((t) => t.includes("correct horse")), "passphrase in the log");
  },

  "ble: advertising as the SDK's convert() builds it (flags byte 0x06, one 128-bit UUID, name in the scan response); the runtime GATTServer has no static advertise"() {
    const io = freshIo();
    check(!("advertise" in GATTServer), "the fake has a static advertise the ESP32 runtime lacks");
    io.ble!.start(bleOptions({}));
    const server = central.requireServer();
    eq(server.preferredMtu, PREFERRED_MTU, "preferred MTU asked of the stack");
    eq(nimble.advertisingActive, false, "advertising before onReady");
    advance(100);
    check(nimble.advertisingActive, "not advertising after onReady");
    // expected bytes from the Core Specification's AD format (derived here, not read from the glue):
    // [len, type 0x01 flags, 0x02 LE General Discoverable | 0x04 BR/EDR not supported],
    // [len, type 0x07 complete list of 128-bit UUIDs, UUID little-endian]
    const uuidLe: number[] = [];
    const hex = SERVICE_UUID.replaceAll("-", "");
    for (let i = hex.length - 2; i >= 0; i -= 2) uuidLe.push(parseInt(hex.slice(i, i + 2), 16));
    eq([...nimble.advertisement!], [2, 1, 0x06, 17, 7, ...uuidLe], "advertising data");
    eq([...nimble.scanResponse!], [12, 9, ...utf8("PROV_dbc020")], "scan response: complete local name");
    eq(ADVERTISING_FLAGS, 0x06, "flags constant");
    eq(nimble.aborts, [], "exceptions reached the SDK");
    io.ble!.stop();
  },

  "ble: GATT table the SDK accepts, 0x2901 descriptors, long writes whole, long reads by offset after the MTU exchange"() {
    const io = freshIo();
    const written: { id: number; value: Uint8Array }[] = [];
    const connections: BleConnection[] = [];
    let response: Uint8Array = Uint8Array.from({ length: 450 }, (_, i) => (i * 13) & 0xff);
    io.ble!.start(bleOptions({
      onWrite: (c, v) => { written.push({ id: c.id, value: v }); },
      onRead: () => response,
      onConnect: (c) => connections.push(c),
    }));
    const server = central.requireServer();
    eq(central.readDescriptor(SESSION_UUID, "2901").length, "prov-session".length, "0x2901 user description");
    eq(fromUtf8(central.readDescriptor(SESSION_UUID, "2901")), "prov-session", "0x2901 value");
    check(server.registered[2]!.characteristic.descriptors === undefined, "empty descriptor list passed to the SDK");
    advance(100);
    const phone = central.connect(185);
    eq(connections.length, 1, "onConnect");
    eq(connections[0]!.mtu, 185, "MTU after the exchange, read live from the SDK connection");
    const long = Uint8Array.from({ length: 400 }, (_, i) => i & 0xff);
    eq(central.write(phone, SESSION_UUID, long), {}, "long write acknowledged");
    eq(written.length, 1, "one write for a long value");
    sameBytes(written[0]!.value, long, "long write");
    eq(written[0]!.id, connections[0]!.id, "same connection id");
    const read = central.read(phone, SESSION_UUID);
    sameBytes("value" in read ? read.value : undefined, response, "long read by offsets");
    response = utf8("short");
    const short = central.read(phone, SESSION_UUID);
    sameBytes("value" in short ? short.value : undefined, utf8("short"), "short read");
    const none = central.read(phone, CONFIG_UUID);
    sameBytes("value" in none ? none.value : undefined, new Uint8Array(0), "read with no core onRead");
    central.disconnect(phone);
    eq(nimble.aborts, [], "exceptions reached the SDK");
    io.ble!.stop();
  },

  "ble: every SDK callback is guarded: a throwing core, log sink and SDK call never reach the SDK"() {
    resetWorld();
    peers.length = 0;
    let sinkCalls = 0;
    const io = createBoardIo({ storageNamespace: "onboard", log: () => { sinkCalls++; throw new Error("log sink failed"); } });
    const boom = (what: string) => () => { throw new Error(`core ${what} failed`); };
    io.ble!.start(bleOptions({ onWrite: boom("write"), onRead: boom("read"), onConnect: boom("connect"), onDisconnect: boom("disconnect") }));
    const server = central.requireServer();
    nimble.failNextAdvertising = true; // onReady → startAdvertising throws "invalid adv"
    advance(100);
    eq(nimble.advertisingActive, false, "the failed advertising start did not advertise");
    advance(ADVERTISING_WATCHDOG_MS); // the watchdog timer asserts advertising again
    check(nimble.advertisingActive, "not advertising after the watchdog");
    server.options.onWarning?.call(server, "a warning the logger cannot take");
    const phone = central.connect(512);
    eq(central.write(phone, SESSION_UUID, utf8("x")), {}, "write acknowledged although the core threw");
    const read = central.read(phone, SESSION_UUID);
    sameBytes("value" in read ? read.value : undefined, new Uint8Array(0), "empty read when the core throws");
    central.disconnect(phone);
    check(nimble.advertisingActive, "advertising again after the phone left");
    io.ble!.stop();
    check(sinkCalls > 5, "the failures were not even offered to the log");
    eq(nimble.aborts, [], "exceptions reached the SDK (fxAbort → esp_restart on the board)");
  },

  "ble: one GATT server per boot: windows reopen on it (the SDK's 'only one' is never reached); another table is a typed error"() {
    const io = freshIo();
    const disconnects: number[] = [];
    io.ble!.start(bleOptions({ onDisconnect: (c) => disconnects.push(c.id) }));
    const server = central.requireServer();
    advance(100);
    const phone = central.connect(512);
    io.ble!.stop(); // the window closes with the phone connected
    check(phone.terminatedByDevice, "the central was not disconnected");
    eq(disconnects.length, 1, "the core was told the link it no longer has");
    eq(nimble.advertisingActive, false, "advertising after the window closed");
    central.disconnect(phone); // the controller finishes the termination: no onDisconnect follows
    eq(disconnects.length, 1, "a second onDisconnect for the same link");
    for (let round = 2; round <= 3; round++) {
      io.ble!.start(bleOptions({}));
      check(nimble.server === server && !server.closed, `round ${round}: a new GATT server`);
      check(nimble.advertisingActive, `round ${round}: a reopened window advertises at once (onReady does not fire again)`);
      const p = central.connect(23);
      const r = central.read(p, SESSION_UUID);
      check("value" in r, `round ${round}: reads work on the kept server`);
      central.disconnect(p);
      io.ble!.stop();
    }
    throwsCode(() => io.ble!.start(bleOptions({}, "021aff99-0382-4aea-bff4-6b3f1c5adfb4")), "ble-layout", "another GATT table");
    check(nimble.server === server, "the server was replaced");
    eq(nimble.aborts, [], "exceptions reached the SDK");
    // a table the SDK refuses burns its one server (gServer is set before the services are added):
    // the glue says so instead of reaching "only one" at the next window
    const burnt = freshIo();
    let refused = "";
    try { burnt.ble!.start(bleOptions({}, "not-a-uuid")); } catch (e) { refused = (e as Error).message; }
    eq(refused, "bad uuid", "the SDK's refusal reaches the caller");
    check(nimble.server !== undefined, "the SDK did not keep its server armed");
    throwsCode(() => burnt.ble!.start(bleOptions({})), "ble-unavailable", "a window after a burnt server");
  },

  "ble: one central at a time: advertising stops on connect, a second central is closed at once, advertising resumes when the phone leaves or the closed link clears"() {
    const io = freshIo();
    nimble.maxConnections = 3; // an sdkconfig with more connections: the SDK would re-advertise on connect
    const connects: number[] = [];
    const disconnects: number[] = [];
    io.ble!.start(bleOptions({ onConnect: (c) => connects.push(c.id), onDisconnect: (c) => disconnects.push(c.id) }));
    advance(100);
    const first = central.connect(512);
    eq(nimble.advertisingActive, false, "advertising while a central is connected");
    nimble.advertisingActive = true; // a second phone's connect request raced the stop
    const second = central.connect(512);
    check(second.terminatedByDevice, "the second central was not refused");
    check(!first.terminatedByDevice && first.linkUp, "the first central lost its link");
    eq(connects.length, 1, "the core saw the second central");
    central.disconnect(second);
    central.disconnect(first);
    eq(disconnects, connects, "the core's disconnect for the first central");
    check(nimble.advertisingActive, "advertising again after the phone left");
    // the default sdkconfig (one connection): a window that closes on a connected phone and reopens
    // at once cannot advertise until the link is down; the glue's watchdog asserts it again
    nimble.maxConnections = 1;
    const third = central.connect(512);
    io.ble!.stop();
    io.ble!.start(bleOptions({}));
    eq(nimble.advertisingActive, false, "advertising while the closed link still holds the only slot");
    central.disconnect(third);
    eq(nimble.advertisingActive, false, "the SDK restarted advertising by itself");
    advance(ADVERTISING_WATCHDOG_MS);
    check(nimble.advertisingActive, "the watchdog did not restore advertising");
    io.ble!.stop();
    eq(nimble.aborts, [], "exceptions reached the SDK");
  },
};

checks["ble: a request the provisioning table rejects: the write is acknowledged, the read fails with ATT Invalid Offset, the link stays usable"] = () => {
  const io = freshIo();
  const requests: string[] = [];
  // only the two members buildGattService uses; the protocol itself is tested in test/scenarios
  const service = {
    endpoints: STANDARD_ENDPOINTS,
    handle(_connection: number, endpoint: string, request: Uint8Array): Uint8Array {
      requests.push(endpoint);
      if (request[0] === 0xff) throw new Error("malformed request");
      return utf8(`${endpoint} ok`);
    },
  } as unknown as ProvisioningService;
  io.ble!.start({ deviceName: "PROV_dbc020", advertisedService: DEFAULT_SERVICE_UUID, services: [buildGattService(service, DEFAULT_SERVICE_UUID)] });
  const server = central.requireServer();
  eq(server.registered.map((r) => fromUtf8(central.readDescriptor(r.characteristic.uuid, "2901"))), [...STANDARD_ENDPOINTS.map((e) => e.name), ...DECLARED_CUSTOM_ENDPOINTS], "0x2901 names (the RainMaker endpoints are declared in every window)");
  advance(100);
  for (const mtu of [23, 185, 512]) {
    const phone = central.connect(mtu);
    const session = server.registered[STANDARD_ENDPOINTS.findIndex((e) => e.name === "prov-session")]!.characteristic.uuid;
    eq(central.write(phone, session, Uint8Array.of(1, 2, 3)), {}, "write acknowledged");
    const ok = central.read(phone, session);
    eq("value" in ok ? fromUtf8(ok.value) : ok, "prov-session ok", "response read back");
    eq(central.write(phone, session, Uint8Array.of(0xff)), {}, "a rejected request is still an acknowledged write (the SDK has no ATT error)");
    eq(central.read(phone, session), { attError: ATT_ERR_INVALID_OFFSET }, `mtu ${mtu}: the read after a rejection fails`);
    const after = central.read(phone, session);
    eq("value" in after ? after.value.length : after, 0, "the failure is spent: an empty value afterwards");
    central.disconnect(phone);
  }
  eq(requests.length, 6, "requests reached the service");
  eq(nimble.aborts, [], "exceptions reached the SDK");
  io.ble!.stop();
};

function httpConfig(provisioning: Record<string, unknown>): Record<string, unknown> {
  const config = validConfig();
  return { ...config, provisioning: { ...(config.provisioning as object), ...provisioning } };
}

/** A fresh board (the SDK's one GATT server gone with the reboot) with a factory PoP and these provisioning settings. */
function rebootWith(provisioning: Record<string, unknown>): void {
  resetWorld();
  peers.length = 0;
  nimble.reset();
  world.config = httpConfig(provisioning);
  world.prefs.set("factory/pop", "abcd1234");
}

function cookieOf(r: FakeResponse | undefined): string | undefined {
  return r?.headers["set-cookie"];
}

Object.assign(checks, {
  "HTTP provisioning (transport http, on the SDK's HTTP server): POST /<endpoint>, one session cookie at a time, 400/404/405 refusals, in-flight requests cut and 503 once the window closes, nothing reaches the SDK"() {
    rebootWith({ transport: "http", httpPort: 8080 });
    const device = main();
    check(device !== undefined, "main() returned no device");
    eq(device.state, "provisioning", "a board without stored Wi-Fi opens the window over HTTP");
    check(nimble.server === undefined && !nimble.advertisingActive, "transport http: no GATT server, no BLE advertising");
    eq(httpWorld.servers.length, 1, "one HTTP server");
    const server = httpWorld.servers[0]!;
    eq(server.port, 8080, "the configured port");
    const window = device.provisioningWindow;
    check(window !== undefined, "no window");
    check(window.qr.includes('"transport":"softap"'), `the QR names the softap transport: ${window.qr}`);

    const first = post(server, "/proto-ver", utf8("---"));
    eq(first?.status, 200, "proto-ver answered");
    const cookie = cookieOf(first);
    check(cookie !== undefined && /^session=\d+$/.test(cookie), `a session cookie is set: ${String(cookie)}`);
    const version = JSON.parse(fromUtf8(first!.body)) as { prov?: { sec_ver?: number } };
    eq(version.prov?.sec_ver, 2, "proto-ver is the service's (Security 2)");
    eq(first!.headers["connection"], "close", "the SDK closes every connection after its response");

    const again = post(server, "/proto-ver", utf8("---"), [["Cookie", cookie!]]);
    eq(again?.status, 200, "second request");
    eq(cookieOf(again), undefined, "the same cookie keeps its session (no new Set-Cookie)");
    const noCookie = post(server, "/proto-ver", utf8("---"));
    const second = cookieOf(noCookie);
    check(second !== undefined && second !== cookie, "a request without the cookie starts a new session");
    const stale = post(server, "/proto-ver", utf8("---"), [["Cookie", `lang=en; ${cookie!}`]]);
    check(cookieOf(stale) !== undefined && cookieOf(stale) !== second, "the first session's cookie is no longer current: one session at a time");

    eq(post(server, "/nope", utf8("x"))?.status, 404, "unknown endpoint");
    eq(post(server, "/proto-ver", utf8("x"), [], "GET")?.status, 405, "GET refused");
    eq(post(server, "/proto-ver", new Uint8Array(0))?.status, 400, "empty body refused");
    eq(post(server, "/proto-ver", new Uint8Array(HTTP_MAX_BODY + 1))?.status, 400, "a body over 4096 bytes is refused (and discarded by the SDK)");
    const hostile = connect(server);
    const h = head(hostile, "POST", "/proto-ver", [["Content-Length", "3junk"]]);
    check(h !== undefined, "head");
    eq(finish(hostile, h, utf8("abc"))?.status, 400, "a Content-Length that is not a number is refused");
    const garbage = post(server, "/prov-session", fromHex("ffff01"), [["Cookie", cookieOf(stale)!]]);
    eq(garbage?.status, 500, "a malformed session message is a handler error, not a crash");

    // a phone half-way through a request when the window closes
    const inFlight = connect(server);
    const partial = head(inFlight, "POST", "/proto-ver", [["Content-Length", "10"]]);
    check(partial !== undefined, "head of the in-flight request");
    window.close();
    check(inFlight.closedByApp, "the in-flight connection is closed with the window");
    eq(server.connections.length, 0, "no connection left open");
    eq(finish(inFlight, partial, utf8("0123456789")), undefined, "nothing more is answered on it");
    eq(post(server, "/proto-ver", utf8("---"), [["Cookie", cookie!]])?.status, 503, "503 once the window has closed");
    eq(httpWorld.aborts, [], "exceptions reached the SDK");
    device.shutdown();
  },

  "HTTP provisioning: transport both serves BLE and HTTP; a port that cannot be bound leaves the window on BLE; a bad transport name stops the boot by field"() {
    rebootWith({ transport: "both", httpPort: 8081 });
    const both = main();
    check(both !== undefined, "main() returned no device");
    eq(both.state, "provisioning", "window open");
    advance(100); // NimBLE ready
    check(nimble.advertisingActive, "transport both: BLE advertises");
    eq(httpWorld.servers.length, 1, "transport both: HTTP listens");
    eq(post(httpWorld.servers[0]!, "/proto-ver", utf8("-"))?.status, 200, "HTTP answers");
    both.shutdown();

    rebootWith({ transport: "both", httpPort: 8082 });
    httpWorld.portsInUse.add(8082);
    const taken = main();
    check(taken !== undefined, "main() returned no device");
    eq(taken.state, "provisioning", "the window opens on BLE");
    advance(100); // NimBLE ready
    check(nimble.advertisingActive, "BLE advertises");
    eq(httpWorld.servers.length, 0, "no HTTP server");
    check(world.traces.some((t) => t.includes("http-provisioning-unavailable") && t.includes("8082")), "the failure is logged with the port");
    taken.shutdown();

    resetWorld();
    world.config = httpConfig({ transport: "softap" });
    check(main() === undefined, "main() booted with an unknown transport");
    check(world.traces.some((t) => t.includes("config-invalid") && t.includes("provisioning.transport")), "error names provisioning.transport");
    resetWorld();
    world.config = httpConfig({ transport: "http", httpPort: 70_000 });
    check(main() === undefined, "main() booted with port 70000");
    check(world.traces.some((t) => t.includes("provisioning.httpPort")), "error names provisioning.httpPort");
  },

  "HTTP provisioning: a service that throws and a log sink that throws reach no SDK callback"() {
    resetWorld();
    const log = new Logger(() => { throw new Error("sink broken"); }, () => 0, "http");
    const http = new BoardHttpProvisioning({ port: 8083, log, random: (b) => b.fill(7) });
    let closeListener: (() => void) | undefined;
    const service = {
      closed: false,
      endpoints: [],
      hasSession: () => false,
      openSession: () => undefined,
      onClose: (l: () => void) => { closeListener = l; },
      handle: () => { throw new TypeError("not a protocomm error"); },
    } as unknown as ProvisioningService;
    check(http.serve(service), "served");
    const server = httpWorld.servers[0]!;
    eq(post(server, "/proto-ver", utf8("x"))?.status, 500, "an unexpected exception is a 500");
    // callbacks the SDK never sends in this order (a header before any connection record)
    const stray = connect(server);
    server.callback!.call(stray, 3, "cookie", "session=1");
    server.callback!.call({} as never, 6, new ArrayBuffer(1));
    server.callback!.call({} as never, 8);
    closeListener?.();
    http.close();
    check(!server.listening, "close() stops listening");
    eq(httpWorld.aborts, [], "exceptions reached the SDK");
  },
});

serveChecks(checks);
