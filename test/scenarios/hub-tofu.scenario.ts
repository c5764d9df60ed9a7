// TLS trust on first use through the engine's own I/O (on XS: across the bridge): the key a TLS
// server shows is reported from the first onWritable, stays the same across connections, and a
// pinned other key stops the HTTP client before it writes. The scenario broker's TLS port is the
// server (any TLS server will do: the request never gets that far).
import { HttpError } from "../../src/http/codec.js";
import { httpFetch } from "../../src/http/client.js";
import { equalBytes, toHex } from "../../src/bytes/bytes.js";
import { probeServerKey } from "../../src/onboarding/hub/tofu.js";
import { parseFactoryConfig } from "../../src/config/factory-config.js";
import { generateIdentity, nodeIdOf } from "../../src/identity/identity.js";
import { Logger } from "../../src/log/logger.js";
import { hubStrategy } from "../../src/onboarding/hub/strategy.js";
import { check, checkEqual, type Scenario } from "./harness.js";

export const scenarios: Scenario[] = [
  {
    name: "hub tofu: the server key is reported, stable, and a different pin is refused before writing",
    needs: ["broker"],
    async run(ctx) {
      const broker = ctx.broker!;
      const d = ctx.device();
      const first = await probeServerKey(d.io, broker.host, broker.port, 20_000);
      const second = await probeServerKey(d.io, broker.host, broker.port, 20_000);
      checkEqual(first.length, 32, "SHA-256 sized");
      check(equalBytes(first, second), "the same server, the same key");
      let seen: Uint8Array | undefined;
      const wrong = first.slice();
      wrong[31] = wrong[31]! ^ 0xff;
      let error: unknown;
      try {
        await httpFetch(d.io, `https://${broker.host}:${broker.port}/hub/v1/pair`, { method: "POST", json: {}, pin: { expected: wrong, seen: (k) => { seen = k; } }, timeoutMs: 20_000 });
      } catch (e) {
        error = e;
      }
      check(error instanceof HttpError && error.code === "pin-mismatch", `refused for the pin: ${String(error)}`);
      check(error.message.includes(toHex(first)) && error.message.includes("nothing sent"), `the message names the key seen: ${error.message}`);
      check(seen !== undefined && equalBytes(seen, first), "the caller heard the key");
      let plain: unknown;
      try {
        await httpFetch(d.io, `http://${broker.host}:${broker.port}/`, { pin: {}, timeoutMs: 5_000 });
      } catch (e) {
        plain = e;
      }
      check(plain instanceof HttpError && plain.code === "bad-request", "a pin needs https");
    },
  },
  {
    name: "hub strategy: a hub whose key is not the stored pin is refused, after showing the code",
    needs: ["broker"],
    async run(ctx) {
      const broker = ctx.broker!;
      const d = ctx.device();
      const identity = generateIdentity(d.io);
      const pinned = new Uint8Array(32).fill(0xab);
      const config = parseFactoryConfig({ chain: ["hub"], hub: { address: broker.host, port: broker.port, service: "", udpPort: 0, trustOnFirstUse: true } }).hub!;
      const result = await hubStrategy(config).obtain({
        io: d.io,
        log: new Logger(d.io.log, () => d.io.clock.now(), "onboarding"),
        record: { version: 1, identity, strategy: { name: "hub", state: { mode: "secure", hubKey: toHex(pinned), hubAddress: "10.9.9.9", hubPort: 1 } } },
        nodeId: nodeIdOf(ctx.crypto, identity),
        mac: d.io.device.mac(),
        storedRejected: false,
      });
      check(!result.ok, "refused");
      checkEqual(result.failure.kind, "refused", result.failure.detail);
      check(/hub key changed/.test(result.failure.detail), result.failure.detail);
      const shown = d.logs.filter((l) => l.event === "hub-pairing-code");
      checkEqual(shown.length, 1, "the code was shown once");
      check(/^\d{3} \d{3}$/.test(String(shown[0]!.fields.code)), "a six-digit code");
      checkEqual(shown[0]!.fields.hub, `${broker.host}:${broker.port}`, "the configured address, not the remembered one");
    },
  },
];
