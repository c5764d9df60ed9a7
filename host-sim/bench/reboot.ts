// Warm reboot to online, on Node with the real core: a device whose flash already holds its
// credentials (it was online before) powers up again and connects through a loopback proxy that
// injects a round-trip latency. Counted: round trips the proxy sees (direction turns), flash
// writes during the boot (must be 0), connections other than the broker's (HTTP calls, must be 0).
import type { Io, TcpOptions, TlsOptions, UdpOptions } from "../../src/io/io.js";
import { generateIdentity, nodeIdOf } from "../../src/identity/identity.js";
import { Device } from "../../src/lifecycle/device.js";
import { Secret } from "../../src/secrets/secret.js";
import { CredentialStore } from "../../src/storage/credential-store.js";
import type { BrokerEnv } from "../../test/scenarios/harness.js";
import { startTcpProxy } from "../net-faults/proxy.js";
import { createSimDevice, type HostSimDevice } from "../sim-device.js";
import { nodeCrypto } from "../io/node-crypto.js";

export interface RebootSample {
  readonly ms: number;
  /** Broker→device flights before CONNACK: TLS 1.2 full handshake 2, MQTT CONNECT/CONNACK 1. */
  readonly roundTrips: number;
  readonly flashWrites: number;
  readonly connections: number;
  readonly otherConnections: number;
}

/** The device's network, counting what it opens. */
function countingIo(io: Io, counts: { to: number[] }): Io {
  const network = io.network;
  return {
    ...io,
    network: {
      tcp: (o: TcpOptions) => { counts.to.push(o.port); return network.tcp(o); },
      tls: (o: TlsOptions) => { counts.to.push(o.port); return network.tls(o); },
      udp: (o: UdpOptions) => { counts.to.push(-1); return network.udp(o); },
    },
  };
}

function waitOnline(device: Device, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not online within ${timeoutMs} ms (state ${device.state})`)), timeoutMs);
    device.on((e) => {
      if (e.type === "state" && e.state === "online") { clearTimeout(timer); resolve(); }
    });
    if (device.state === "online") { clearTimeout(timer); resolve(); }
  });
}

export async function warmReboot(broker: BrokerEnv, latencyMs: number): Promise<RebootSample> {
  const proxy = await startTcpProxy({ target: { host: "127.0.0.1", port: broker.port }, latencyMs: 0 });
  const config = { telemetryIntervalMs: 0, keepaliveSeconds: 60 };
  let sim: HostSimDevice = createSimDevice({ log: () => {}, unrefTimers: true });
  try {
    const identity = generateIdentity(sim.io);
    new CredentialStore(sim.io.storage).save({
      version: 1, identity,
      mqtt: { brokerUrl: `mqtts://localhost:${proxy.port}`, clientId: nodeIdOf(nodeCrypto, identity), username: broker.username, password: Secret.fromString(broker.password), ca: broker.ca },
    });
    // First boot: online once, then an orderly power-off.
    const first = new Device(sim.io, config);
    first.boot();
    await waitOnline(first, 20_000);
    first.shutdown();
    sim = sim.reboot();
    proxy.latencyMs = latencyMs;
    const counts = { to: [] as number[] };
    const device = new Device(countingIo(sim.io, counts), config);
    const start = performance.now();
    device.boot();
    await waitOnline(device, 60_000);
    const ms = performance.now() - start;
    const connection = [...proxy.connections.values()].at(-1);
    const sample = {
      ms,
      roundTrips: connection?.flights.down ?? -1,
      flashWrites: sim.flash.writeCount,
      connections: counts.to.length,
      otherConnections: counts.to.filter((port) => port !== proxy.port).length,
    };
    device.shutdown();
    return sample;
  } finally {
    sim.io.shutdown();
    await proxy.close();
  }
}
