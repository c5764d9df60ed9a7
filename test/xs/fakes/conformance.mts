// Type-level check that each fake has the shape our declarations give the SDK module it stands
// for (checked by tsconfig.moddable.json). A declaration the glue relies on that a fake lacks, or
// gets wrong, fails the type-check rather than passing the XS test by accident.
import type RealTCP from "embedded:io/socket/tcp";
import type RealTLS from "embedded:io/socket/tcp/tls";
import type RealUDP from "embedded:io/socket/udp";
import type { GATTServer as RealGATTServer } from "embedded:io/bluetoothle/peripheral";
import type RealTimer from "timer";
import type RealTime from "time";
import type RealSNTP from "sntp";
import type RealPreference from "preference";
import type RealNet from "net";
import type RealWiFi from "wifi";
import type { Digest as RealDigest } from "crypt";
import type realConfig from "mc/config";
import type realFillRandom from "board-random";
import FakeTCP from "./tcp.js";
import FakeTLS from "./tls.js";
import FakeUDP from "./udp.js";
import { GATTServer as FakeGATTServer } from "./ble.js";
import FakeTimer from "./timer.js";
import FakeTime from "./time.js";
import FakeSNTP from "./sntp.js";
import FakePreference from "./preference.js";
import FakeNet from "./net.js";
import FakeWiFi from "./wifi.js";
import { Digest as FakeDigest } from "./crypt.js";
import fakeConfig from "./mc-config.js";
import fakeFillRandom from "./board-random.js";

type Conforms<Fake extends Real, Real> = [Fake, Real];

export type Checks = [
  Conforms<typeof FakeTCP, typeof RealTCP>,
  Conforms<typeof FakeTLS, typeof RealTLS>,
  Conforms<typeof FakeUDP, typeof RealUDP>,
  Conforms<Pick<typeof FakeGATTServer, "properties">, Pick<typeof RealGATTServer, "properties">>,
  Conforms<InstanceType<typeof FakeGATTServer>, InstanceType<typeof RealGATTServer>>,
  // The SDK's Timer handle is opaque (a private brand no fake can have): compare the delays and the clear() argument.
  Conforms<Parameters<typeof RealTimer.set>[1], Parameters<typeof FakeTimer.set>[1]>,
  Conforms<Parameters<typeof RealTimer.set>[2], Parameters<typeof FakeTimer.set>[2]>,
  Conforms<typeof FakeTime, typeof RealTime>,
  Conforms<typeof FakeSNTP, typeof RealSNTP>,
  Conforms<typeof FakePreference, typeof RealPreference>,
  Conforms<typeof FakeNet, typeof RealNet>,
  Conforms<typeof FakeWiFi, typeof RealWiFi>,
  Conforms<typeof FakeDigest, typeof RealDigest>,
  Conforms<typeof fakeConfig, typeof realConfig>,
  Conforms<typeof fakeFillRandom, typeof realFillRandom>,
];
