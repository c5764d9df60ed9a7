// Byte layouts from shared/reference/esp-provisioning.md (§2, §3.7, §4.1) reproduced by our codec
// and by our client's request builders, on every engine.
import { fromHex, toHex, utf8 } from "../../src/bytes/bytes.js";
import { decode, encode } from "../../src/protobuf/codec.js";
import { RMakerConfigPayload, SessionData, WiFiConfigPayload } from "../../src/protobuf/messages.js";
import { ProvisioningClient } from "../../src/provisioning/client.js";
import { characteristicUuid, DEFAULT_SERVICE_UUID, RAINMAKER_SERVICE_UUID, uuidToLeBytes } from "../../src/provisioning/uuid.js";
import { qrPayload } from "../../src/provisioning/qr.js";
import { checkEqual, type Scenario } from "./harness.js";

const K32 = new Uint8Array(32).fill(0xab);
const R16 = new Uint8Array(16).fill(0xcd);
const hex = (b: Uint8Array): string => toHex(b);

export const scenarios: Scenario[] = [
  {
    name: "protobuf/wire: handshake and endpoint messages match the reference byte examples",
    run() {
      checkEqual(hex(encode(SessionData, { sec_ver: 0, sec0: { msg: 0, sc: {} } })), "5203a20100", "Sec0 command");
      checkEqual(hex(encode(SessionData, { sec_ver: 0, sec0: { msg: 1, sr: { status: 0 } } })), "52050801aa0100", "Sec0 response");
      checkEqual(hex(encode(SessionData, { sec_ver: 1, sec1: { msg: 0, sc0: { client_pubkey: K32 } } })), "10015a25a201220a20" + hex(K32), "Sec1 SessionCmd0");
      checkEqual(hex(encode(SessionData, { sec_ver: 1, sec1: { msg: 1, sr0: { status: 0, device_pubkey: K32, device_random: R16 } } })), "10015a390801aa01341220" + hex(K32) + "1a10" + hex(R16), "Sec1 SessionResp0");
      checkEqual(hex(encode(SessionData, { sec_ver: 1, sec1: { msg: 2, sc1: { client_verify_data: K32 } } })), "10015a270802b201221220" + hex(K32), "Sec1 SessionCmd1");
      checkEqual(hex(encode(SessionData, { sec_ver: 1, sec1: { msg: 3, sr1: { status: 0, device_verify_data: K32 } } })), "10015a270803ba01221a20" + hex(K32), "Sec1 SessionResp1");
      checkEqual(hex(encode(WiFiConfigPayload, { msg: 2, cmd_set_config: { ssid: utf8("test-ssid"), passphrase: utf8("secretpass") } })), "0802621" + "70a09" + hex(utf8("test-ssid")) + "120a" + hex(utf8("secretpass")), "SetConfig");
      checkEqual(hex(encode(WiFiConfigPayload, { msg: 4 })), "0804", "Apply as esp_prov sends it");
      checkEqual(decode<{ msg: number }>(WiFiConfigPayload, fromHex("08047200")).msg, 4, "Apply as Android sends it");
      checkEqual(hex(encode(WiFiConfigPayload, { msg: 0, cmd_get_status: {} })), "5200", "GetStatus");
      checkEqual(hex(encode(RMakerConfigPayload, { msg: 0, cmd_set_user_mapping: { UserID: "user-1234", SecretKey: "a1b2c3d4-secret" } })), "521c0a09" + hex(utf8("user-1234")) + "120f" + hex(utf8("a1b2c3d4-secret")), "cloud_user_assoc request");
    },
  },
  {
    name: "protobuf/wire: a singular message field sent twice merges field by field (proto3)",
    run() {
      // Sec1 SessionResp0 split over two occurrences of sec1/sr0: status+pubkey, then random.
      const first = encode(SessionData, { sec_ver: 1, sec1: { msg: 1, sr0: { status: 0, device_pubkey: K32 } } });
      const second = encode(SessionData, { sec1: { msg: 1, sr0: { device_random: R16 } } });
      const merged = decode<{ sec_ver: number; sec1: { msg: number; sr0: { status: number; device_pubkey: Uint8Array; device_random: Uint8Array } } }>(SessionData, Uint8Array.from([...first, ...second]));
      checkEqual(merged.sec_ver, 1, "a scalar absent from the second part keeps its value");
      checkEqual(hex(merged.sec1.sr0.device_pubkey), hex(K32), "a nested field absent from the second part is kept");
      checkEqual(hex(merged.sec1.sr0.device_random), hex(R16), "a nested field in the second part is added");
      const replaced = decode<{ sec1: { sr0: { device_pubkey: Uint8Array } } }>(SessionData, Uint8Array.from([...first, ...encode(SessionData, { sec1: { msg: 1, sr0: { device_pubkey: R16 } } })]));
      checkEqual(hex(replaced.sec1.sr0.device_pubkey), hex(R16), "a scalar present in both takes the last value");
    },
  },
  {
    name: "protobuf/wire: our client's requests are the bytes esp_prov sends",
    async run() {
      const sent: [string, string][] = [];
      const reply: Record<string, string> = { "prov-config": "", "prov-session": "52050801aa0100" };
      const client = new ProvisioningClient({ send: async (ep, data) => (sent.push([ep, hex(data)]), fromHex(reply[ep] ?? "")) }, (b) => b.fill(1));
      await client.establishSession(0);
      reply["prov-config"] = "0803" + "6a00";
      await client.setConfig("test-ssid", "secretpass");
      reply["prov-config"] = "0805" + "7a00";
      await client.applyConfig();
      checkEqual(sent, [["prov-session", "5203a20100"], ["prov-config", "08026217" + "0a09" + hex(utf8("test-ssid")) + "120a" + hex(utf8("secretpass"))], ["prov-config", "0804"]], "requests");
    },
  },
  {
    name: "protobuf/wire: GATT UUID derivation and QR payload as in the reference",
    run() {
      checkEqual(hex(uuidToLeBytes(DEFAULT_SERVICE_UUID)), "07ed9b2d0f067c879b43436b4d247517", "default service UUID LE bytes");
      checkEqual(hex(uuidToLeBytes(RAINMAKER_SERVICE_UUID)), "b4df5a1c3f6bf4bfea4a820304901a02", "RainMaker service UUID LE bytes");
      checkEqual(characteristicUuid(DEFAULT_SERVICE_UUID, 0xff51), "1775ff51-6b43-439b-877c-060f2d9bed07", "prov-session");
      checkEqual(characteristicUuid(DEFAULT_SERVICE_UUID, 0xff53), "1775ff53-6b43-439b-877c-060f2d9bed07", "proto-ver");
      checkEqual(characteristicUuid(RAINMAKER_SERVICE_UUID, 0xff51), "021aff51-0382-4aea-bff4-6b3f1c5adfb4", "RainMaker prov-session");
      checkEqual(qrPayload({ name: "PROV_1a2b3c", pop: "abcd1234", transport: "ble", security: 2, username: "wifiprov" }), '{"ver":"v1","name":"PROV_1a2b3c","pop":"abcd1234","transport":"ble","username":"wifiprov"}', "QR Sec2");
    },
  },
];
