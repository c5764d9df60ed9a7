// Both test brokers (Mosquitto harness and the embedded aedes broker) checked with the mqtt.js
// client over TLS, using a PKI generated for this run.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { connect as tcpConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { ConnectionOptions } from "node:tls";
import { connect, type IClientOptions, type IConnackPacket, type MqttClient } from "mqtt";
import { generateTestPki, type TestPki } from "../../host-sim/certs/pki.js";
import { startEmbeddedBroker, type ClientInfo, type EmbeddedBroker } from "../../host-sim/broker/embedded.js";
import { startMosquitto, type MosquittoBroker } from "../../host-sim/broker/mosquitto.js";

const USER = "device-0001";
const PASSWORD = "correct horse battery staple";
const WAIT_MS = 10_000;
const TEST_TIMEOUT = { timeout: 30_000 };

// The board's TLS: 1.2 only, ECDHE on P-256, AES-128 GCM or CBC, RSA certificates.
const BOARD_SUITES = ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-SHA256"];

let pki: TestPki;
const clients = new Set<MqttClient>();

before(() => {
  pki = generateTestPki(mkdtempSync(join(tmpdir(), "brokers-test-pki-")));
});

after(async () => {
  await Promise.all([...clients].map((c) => c.endAsync(true)));
  rmSync(pki.dir, { recursive: true, force: true });
});

/** Rejects after `ms` so a broken broker fails the test with a reason instead of hanging it. */
function within<T>(promise: Promise<T>, what: string, diagnostics?: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const extra = diagnostics ? `\n--- broker log ---\n${diagnostics()}` : "";
      reject(new Error(`timed out after ${WAIT_MS} ms waiting for ${what}${extra}`));
    }, WAIT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// mqtt.js hands these to tls.connect() but its option type does not declare them.
type TlsClientOptions = IClientOptions & Pick<ConnectionOptions, "maxVersion" | "ciphers" | "ecdhCurve">;

function clientOptions(port: number, extra: TlsClientOptions = {}): TlsClientOptions {
  return {
    protocol: "mqtts",
    host: "127.0.0.1",
    port,
    protocolVersion: 4,
    ca: pki.caPem,
    username: USER,
    password: PASSWORD,
    reconnectPeriod: 0, // one attempt: the tests want to see refusals, not retries
    connectTimeout: WAIT_MS,
    ...extra,
  };
}

/** Creates a client (tracked for cleanup); `connected` settles on CONNACK 0 or the first failure. */
function openClient(options: IClientOptions): { client: MqttClient; connected: Promise<IConnackPacket> } {
  const client = connect(options);
  clients.add(client);
  const connected = new Promise<IConnackPacket>((resolve, reject) => {
    client.once("connect", resolve);
    client.once("error", reject);
    client.once("close", () => reject(new Error("connection closed before CONNACK")));
  });
  // Refusals are awaited by the tests; keep an unobserved one from crashing the run meanwhile.
  connected.catch(() => {});
  return { client, connected };
}

async function connectClient(options: IClientOptions, diagnostics?: () => string): Promise<MqttClient> {
  const { client, connected } = openClient(options);
  await within(connected, "CONNACK", diagnostics);
  return client;
}

async function refusal(options: IClientOptions): Promise<Error & { code?: string | number }> {
  const { client, connected } = openClient(options);
  const err = await within(
    connected.then(
      () => assert.fail("the broker accepted a connection it should have refused"),
      (e: Error) => e,
    ),
    "the refusal",
  );
  client.end(true);
  return err;
}

function nextMessage(client: MqttClient, topic: string): Promise<{ payload: string; qos: number }> {
  return new Promise((resolve) => {
    const onMessage = (t: string, payload: Buffer, packet: { qos: number }) => {
      if (t !== topic) return;
      client.off("message", onMessage);
      resolve({ payload: payload.toString(), qos: packet.qos });
    };
    client.on("message", onMessage);
  });
}

function portAcceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw err;
  }
}

interface BrokerUnderTest {
  port(): number;
  /** The CONNACK code this broker sends for a known user with a wrong password. */
  wrongPasswordCode: 4 | 5;
  diagnostics(): string;
}

/** Behaviour both brokers must share. */
function sharedContract(b: BrokerUnderTest): void {
  test("accepts the right username and password", TEST_TIMEOUT, async () => {
    const client = await connectClient(clientOptions(b.port()), b.diagnostics);
    assert.equal(client.connected, true);
    await client.endAsync();
  });

  test("delivers a QoS 1 publish to a QoS 1 subscriber", TEST_TIMEOUT, async () => {
    const subscriber = await connectClient(clientOptions(b.port(), { clientId: "qos1-sub" }), b.diagnostics);
    const granted = await subscriber.subscribeAsync("devices/qos1", { qos: 1 });
    assert.equal(granted[0]?.qos, 1);
    const received = nextMessage(subscriber, "devices/qos1");

    const publisher = await connectClient(clientOptions(b.port(), { clientId: "qos1-pub" }), b.diagnostics);
    await publisher.publishAsync("devices/qos1", "hello", { qos: 1 });
    assert.deepEqual(await within(received, "the QoS 1 message", b.diagnostics), { payload: "hello", qos: 1 });

    await Promise.all([subscriber.endAsync(), publisher.endAsync()]);
  });

  test("refuses a wrong password with the broker's CONNACK code", TEST_TIMEOUT, async () => {
    const err = await refusal(clientOptions(b.port(), { password: "wrong" }));
    assert.equal(err.code, b.wrongPasswordCode, err.message);
  });

  test("refuses an unknown user with CONNACK 5 (not authorized)", TEST_TIMEOUT, async () => {
    const err = await refusal(clientOptions(b.port(), { username: "stranger", password: PASSWORD }));
    assert.equal(err.code, 5, err.message);
  });

  test("is refused by a client that does not trust the CA", TEST_TIMEOUT, async () => {
    const err = await refusal(clientOptions(b.port(), { ca: pki.wrongCaPem }));
    // Both brokers send leaf + intermediate (the test PKI's certificate files hold both); the
    // client trusts neither the intermediate nor its root, so OpenSSL finds no local issuer.
    assert.equal(err.code, "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", err.message);
  });

  for (const suite of BOARD_SUITES) {
    test(`accepts the board's TLS 1.2 profile (${suite}, P-256)`, TEST_TIMEOUT, async () => {
      const client = await connectClient(
        clientOptions(b.port(), { maxVersion: "TLSv1.2", ciphers: suite, ecdhCurve: "P-256" }),
        b.diagnostics,
      );
      await client.endAsync();
    });
  }
}

describe("Mosquitto harness", () => {
  let mosquitto: MosquittoBroker;

  before(async () => {
    mosquitto = await startMosquitto({ pki, users: { [USER]: PASSWORD } });
  });

  after(async () => {
    await mosquitto?.dispose();
  });

  sharedContract({
    port: () => mosquitto.port,
    // Mosquitto 2.0 answers every failed password check on MQTT 3.1.1 with 5, never 4.
    wrongPasswordCode: 5,
    diagnostics: () => mosquitto.logTail(),
  });

  test("addUser() takes effect on the running broker", TEST_TIMEOUT, async () => {
    await mosquitto.addUser("late-user", "late-password");
    const client = await connectClient(
      clientOptions(mosquitto.port, { username: "late-user", password: "late-password" }),
      () => mosquitto.logTail(),
    );
    await client.endAsync();
  });

  test("a persistent session survives kill() + restart() on the same port", TEST_TIMEOUT, async () => {
    const diagnostics = () => mosquitto.logTail();
    const session = { clientId: "persistent-sub", clean: false };
    const subscriber = await connectClient(clientOptions(mosquitto.port, session), diagnostics);
    await subscriber.subscribeAsync("devices/persistent", { qos: 1 });
    await subscriber.endAsync();

    // Make the crash deterministic: the session is on disk before the SIGKILL.
    await mosquitto.persistNow();
    const { port, pid } = mosquitto;
    await mosquitto.kill();
    assert.equal(mosquitto.running, false);
    assert.equal(processExists(pid!), false);

    await mosquitto.restart();
    assert.equal(mosquitto.port, port);
    assert.notEqual(mosquitto.pid, pid);

    const publisher = await connectClient(clientOptions(mosquitto.port, { clientId: "after-restart-pub" }), diagnostics);
    await publisher.publishAsync("devices/persistent", "queued while offline", { qos: 1 });
    await publisher.endAsync();

    const { client, connected } = openClient(clientOptions(mosquitto.port, session));
    const received = nextMessage(client, "devices/persistent");
    const connack = await within(connected, "CONNACK after restart", diagnostics);
    assert.equal(connack.sessionPresent, true);
    assert.deepEqual(await within(received, "the queued QoS 1 message", diagnostics), {
      payload: "queued while offline",
      qos: 1,
    });
    await client.endAsync();
  });

  test("requireCertificate: refuses TLS clients without a client certificate", TEST_TIMEOUT, async () => {
    const mtls = await startMosquitto({ pki, users: { [USER]: PASSWORD }, requireCertificate: true });
    try {
      const withCert = await connectClient(
        clientOptions(mtls.port, { cert: pki.client.certPem, key: pki.client.keyPem }),
        () => mtls.logTail(),
      );
      await withCert.endAsync();
      const err = await refusal(clientOptions(mtls.port));
      // Refused during the TLS handshake, before any CONNACK (which would carry a numeric code).
      assert.notEqual(typeof err.code, "number", err.message);
    } finally {
      await mtls.dispose();
    }
  });

  test("stop() leaves no process behind", TEST_TIMEOUT, async () => {
    const scratch = await startMosquitto({ pki, users: { [USER]: PASSWORD } });
    try {
      const { pid, port } = scratch;
      assert.ok(pid !== undefined && processExists(pid));
      await scratch.stop();
      assert.equal(scratch.running, false);
      assert.equal(processExists(pid), false);
      assert.equal(await portAcceptsConnections(port), false);
    } finally {
      await scratch.dispose();
    }
  });
});

describe("embedded aedes broker", () => {
  let broker: EmbeddedBroker;

  before(async () => {
    broker = await startEmbeddedBroker({ pki, users: { [USER]: PASSWORD } });
  });

  after(async () => {
    await broker?.close();
  });

  sharedContract({
    port: () => broker.port,
    wrongPasswordCode: 4,
    diagnostics: () => "",
  });

  test("reports TLS details, publishes and disconnects through its events", TEST_TIMEOUT, async () => {
    // Listen before connecting: the events may fire before or after the client sees CONNACK.
    const ready = new Promise<ClientInfo>((resolve) => {
      const onConnected = (info: ClientInfo) => {
        if (info.clientId !== "events-probe") return;
        broker.events.off("clientConnected", onConnected);
        resolve(info);
      };
      broker.events.on("clientConnected", onConnected);
    });
    const published = new Promise((resolve) => broker.events.once("published", resolve));
    const disconnected = new Promise((resolve) => broker.events.once("clientDisconnected", resolve));

    const client = await connectClient(
      clientOptions(broker.port, {
        clientId: "events-probe",
        maxVersion: "TLSv1.2",
        ciphers: "ECDHE-RSA-AES128-GCM-SHA256",
      }),
    );
    const info = await within(ready, "the clientConnected event");
    assert.equal(info.username, USER);
    assert.equal(info.tlsVersion, "TLSv1.2");
    assert.equal(info.cipher, "ECDHE-RSA-AES128-GCM-SHA256");

    await client.publishAsync("devices/events", Buffer.alloc(42), { qos: 1 });
    assert.deepEqual(await within(published, "the published event"), {
      clientId: "events-probe",
      topic: "devices/events",
      size: 42,
      qos: 1,
      retain: false,
    });
    assert.ok(broker.connectRate() >= 1);

    await client.endAsync();
    assert.deepEqual(await within(disconnected, "the disconnect event"), {
      clientId: "events-probe",
      username: USER,
    });
  });

  test("clientCertificates: require refuses TLS clients without a client certificate", TEST_TIMEOUT, async () => {
    const mtls = await startEmbeddedBroker({
      pki,
      users: {},
      clientCertificates: "require",
      certificateCnAsUsername: true,
    });
    try {
      const withCert = await connectClient(
        clientOptions(mtls.port, { cert: pki.client.certPem, key: pki.client.keyPem, username: undefined, password: undefined }),
      );
      await withCert.endAsync();
      const err = await refusal(clientOptions(mtls.port));
      // Refused during the TLS handshake, before any CONNACK (which would carry a numeric code).
      assert.notEqual(typeof err.code, "number", err.message);
    } finally {
      await mtls.close();
    }
  });
});
