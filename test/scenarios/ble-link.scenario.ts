// The BLE transport as a phone meets it on the board (issue 15: items 2, 3, 5), engine-neutral: the
// simulated link behaves as the board glue on the SDK's NimBLE server (host-sim/ble/link.ts), and
// the same rules are checked against the SDK fakes on XS in test/xs/platform.test.ts.
import { utf8 } from "../../src/bytes/bytes.js";
import { generateIdentity } from "../../src/identity/identity.js";
import type { BlePeripheralOptions } from "../../src/io/io.js";
import { REJECTION_FILLER_BYTES } from "../../src/provisioning/gatt.js";
import { ProvisioningClient } from "../../src/provisioning/client.js";
import { DEFAULT_SERVICE_UUID } from "../../src/provisioning/uuid.js";
import { openProvisioningWindow, type ProvisioningWindowOptions, type WindowEvent } from "../../src/provisioning/window.js";
import { Secret } from "../../src/secrets/secret.js";
import { AttError, ATT_ERR_INVALID_OFFSET, BleProtocommTransport, SimBleRadio } from "../../host-sim/ble/link.js";
import { withRadios } from "../../host-sim/provisioning/kit.js";
import { check, checkEqual, type Scenario, type ScenarioContext } from "./harness.js";

function rig(ctx: ScenarioContext) {
  const d = ctx.device();
  const radio = new SimBleRadio();
  const dev = withRadios(d.io, radio, undefined, { scanMs: 5, connectMs: 10 });
  const identity = generateIdentity(d.io);
  const events: WindowEvent[] = [];
  const open = (extra: ProvisioningWindowOptions = {}) => openProvisioningWindow(dev.io, identity, {
    security: 1,
    pop: Secret.fromString("abcd1234"),
    onEvent: (e) => events.push(e),
    ...extra,
  });
  return { d, radio, dev, events, open };
}

async function failure(p: Promise<unknown>, what: string): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error(`${what}: expected a failure`);
}

export const scenarios: Scenario[] = [
  {
    name: "ble link: a rejected request is an acknowledged write whose read fails with ATT Invalid Offset, at every MTU",
    async run(ctx) {
      for (const mtu of [23, 185, 512]) {
        const { d, radio, open } = rig(ctx);
        const window = open();
        const gatt = await radio.connect(window.deviceName, { mtu });
        const transport = await BleProtocommTransport.open(gatt, DEFAULT_SERVICE_UUID);
        const session = transport.endpoints.get("prov-session")!;
        // malformed SessionData: the device rejects it; the SDK still acknowledges the write
        await gatt.write(session, Uint8Array.of(0x0a, 0x05, 0x01));
        const before = gatt.stats.roundTrips;
        const e = await failure(gatt.read(session), "read after a rejected request");
        check(e instanceof AttError && e.code === ATT_ERR_INVALID_OFFSET, `mtu ${mtu}: expected ATT Invalid Offset, got ${String(e)}`);
        // derived from the mechanism (src/provisioning/gatt.ts): one full Read Response, then the failing Read Blob
        checkEqual(gatt.stats.roundTrips - before, 2, `mtu ${mtu}: Read Request + Read Blob`);
        checkEqual(REJECTION_FILLER_BYTES > gatt.connection.mtu - 1, true, `mtu ${mtu}: the filler does not fit one Read Response`);
        // the failure is spent: the connection stays usable, a read now returns nothing, a good request works
        checkEqual((await gatt.read(session)).length, 0, `mtu ${mtu}: nothing stored after the failure`);
        const client = new ProvisioningClient(transport, d.io.random);
        await client.establishSession(1, { pop: "abcd1234" });
        checkEqual(await client.setConfig("home-net", "pw"), 0, `mtu ${mtu}: the link works after a rejection`);
        check(gatt.connected, "the rejection did not drop the link");
        window.close();
      }
    },
  },
  {
    name: "ble link: a wrong PoP reaches the client as a failed read, and the right PoP then works on the same connection",
    async run(ctx) {
      for (const security of [1, 2] as const) {
        const { d, radio, events, open } = rig(ctx);
        const window = open({ security, lockout: { freeAttempts: 3, baseDelayMs: 20, maxDelayMs: 100 } });
        const gatt = await radio.connect(window.deviceName, { mtu: 185 });
        const transport = await BleProtocommTransport.open(gatt, DEFAULT_SERVICE_UUID);
        const e = await failure(new ProvisioningClient(transport, d.io.random).establishSession(security, { pop: "wrong" }), "wrong PoP");
        check(String(e).includes("ATT error 0x07"), `Sec${security}: the failure is the read's ATT error: ${String(e)}`);
        checkEqual(events.filter((x) => x.type === "wrong-pop").length, 1, `Sec${security}: wrong-pop event`);
        await new ProvisioningClient(transport, d.io.random).establishSession(security, { pop: "abcd1234" });
        window.close();
      }
    },
  },
  {
    name: "ble link: one GATT table per boot: windows reopen on the same peripheral; another table is refused as on the board",
    async run(ctx) {
      const { d, radio, open } = rig(ctx);
      for (let round = 1; round <= 3; round++) {
        const window = open();
        checkEqual(radio.scan().length, 1, `round ${round}: advertising`);
        const gatt = await radio.connect(window.deviceName, { mtu: 512 });
        const transport = await BleProtocommTransport.open(gatt, DEFAULT_SERVICE_UUID);
        await new ProvisioningClient(transport, d.io.random).establishSession(1, { pop: "abcd1234" });
        window.close();
        check(!gatt.connected, `round ${round}: closing the window dropped the central`);
        checkEqual(radio.scan().length, 0, `round ${round}: not advertising once closed`);
      }
      const peripheral = radio.peripheral();
      const options = (uuid: string): BlePeripheralOptions => ({
        deviceName: "PROV_test01",
        advertisedService: uuid,
        services: [{ uuid, characteristics: [{ uuid: "1775ff51-6b43-439b-877c-060f2d9bed07", properties: ["read", "write"], descriptors: [{ uuid: "2901", value: utf8("prov-session") }] }] }],
      });
      peripheral.start(options(DEFAULT_SERVICE_UUID));
      peripheral.stop();
      peripheral.start(options(DEFAULT_SERVICE_UUID)); // same table: fine
      peripheral.stop();
      let refused: unknown;
      try {
        peripheral.start(options("021a9004-0382-4aea-bff4-6b3f1c5adfb4"));
      } catch (e) {
        refused = e;
      }
      checkEqual((refused as { code?: string } | undefined)?.code, "ble-layout", "a second table is a typed error");
      // a window with another GATT table (here another service UUID) would need a second GATT
      // server: the unit's peripheral refuses it and the window runs without BLE, saying why
      const window = open({ serviceUuid: "021a9004-0382-4aea-bff4-6b3f1c5adfb4", deviceName: "PROV_other1" });
      checkEqual(radio.scan().map((a) => a.name), [], "the window with another GATT table does not advertise");
      check(window.isOpen, "the window still opened (other transports)");
      check(d.logs.some((r) => r.event === "ble-unavailable" && JSON.stringify(r).includes("ble-layout")), "the refusal is logged with its code");
      window.close();
    },
  },
  {
    name: "ble link: windows of one boot that serve different endpoints (ch_resp on, off, on) share one GATT table; an unserved endpoint's read fails",
    async run(ctx) {
      const { d, radio, open } = rig(ctx);
      for (const chResp of [true, false, true]) {
        const window = open({ challengeResponse: chResp, security: 0 });
        checkEqual(radio.scan().length, 1, `ch_resp ${chResp}: advertising on the kept table`);
        const gatt = await radio.connect(window.deviceName, { mtu: 185 });
        const transport = await BleProtocommTransport.open(gatt, DEFAULT_SERVICE_UUID);
        check(transport.endpoints.has("ch_resp") && transport.endpoints.has("cloud_user_assoc"), "both RainMaker characteristics are declared in every window");
        const client = new ProvisioningClient(transport, d.io.random);
        const info = await client.version();
        checkEqual(JSON.stringify(info.raw.rmaker_extra ?? null).includes("ch_resp"), chResp, `proto-ver lists ch_resp only when served (${chResp})`);
        await client.establishSession(0);
        if (!chResp) {
          await gatt.write(transport.endpoints.get("ch_resp")!, Uint8Array.of(0x08, 0x00));
          const e = await failure(gatt.read(transport.endpoints.get("ch_resp")!), "unserved ch_resp");
          check(e instanceof AttError && e.code === ATT_ERR_INVALID_OFFSET, `an unserved endpoint answers as unknown: ${String(e)}`);
        }
        window.close();
      }
    },
  },
  {
    name: "ble link: one central at a time: no advertising while connected, a second phone cannot connect, advertising resumes when it leaves",
    async run(ctx) {
      const { d, radio, open } = rig(ctx);
      const window = open();
      const first = await radio.connect(window.deviceName, { mtu: 512 });
      checkEqual(radio.scan().length, 0, "advertising stopped while a central is connected");
      const e = await failure(radio.connect(window.deviceName, { mtu: 512 }), "second phone");
      check(String(e).includes("no advertising peripheral"), `second central refused: ${String(e)}`);
      // the first session is untouched
      const transport = await BleProtocommTransport.open(first, DEFAULT_SERVICE_UUID);
      await new ProvisioningClient(transport, d.io.random).establishSession(1, { pop: "abcd1234" });
      await first.disconnect();
      checkEqual(radio.scan().map((a) => a.name), [window.deviceName], "advertising again after the phone left");
      const second = await radio.connect(window.deviceName, { mtu: 512 });
      const t2 = await BleProtocommTransport.open(second, DEFAULT_SERVICE_UUID);
      await new ProvisioningClient(t2, d.io.random).establishSession(1, { pop: "abcd1234" });
      window.close();
      check(!second.connected, "closing the window drops the central");
    },
  },
];
