// The protocomm service behind every transport (issues 11, 14, 15), engine-neutral: a window over
// the simulated radios, driven by our phone-side client through a direct transport (the
// dispatcher itself, no BLE or HTTP framing), so what is checked is the service's own rule.
import { generateIdentity } from "../../src/identity/identity.js";
import { ProvisioningClient, type ProtocommTransport } from "../../src/provisioning/client.js";
import { ProtocommError } from "../../src/provisioning/errors.js";
import type { SecurityVersion } from "../../src/provisioning/security.js";
import type { ProvisioningService } from "../../src/provisioning/service.js";
import { openProvisioningWindow, type ProvisioningWindowOptions, type WindowEvent } from "../../src/provisioning/window.js";
import { Secret } from "../../src/secrets/secret.js";
import { SimBleRadio } from "../../host-sim/ble/link.js";
import { withRadios } from "../../host-sim/provisioning/kit.js";
import { check, checkEqual, waitFor, type Scenario, type ScenarioContext } from "./harness.js";

const POP = "k7Qp-2mXv";

function setup(ctx: ScenarioContext, options: Partial<ProvisioningWindowOptions> = {}, timing: { scanMs?: number; connectMs?: number } = {}) {
  const d = ctx.device();
  const dev = withRadios(d.io, new SimBleRadio(), undefined, { scanMs: 5, connectMs: 10, ...timing });
  const events: WindowEvent[] = [];
  const window = openProvisioningWindow(dev.io, generateIdentity(d.io), {
    security: 1,
    pop: Secret.fromString(POP),
    ble: false,
    closeAfterSuccessMs: 50,
    retryDelayMs: 10,
    connectAttempts: 1,
    onEvent: (e) => events.push(e),
    ...options,
  });
  return { d, dev, events, window };
}

let nextSession = 1;

/** A transport session straight into the dispatcher (what the GATT glue and HTTP server do). */
function direct(service: ProvisioningService): ProtocommTransport & { readonly id: number } {
  const id = nextSession++;
  service.openSession(id);
  return { id, send: (endpoint, data) => Promise.resolve().then(() => service.handle(id, endpoint, data)) };
}

async function failure(p: Promise<unknown>, what: string): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error(`${what}: expected a failure`);
}

async function session(ctx: ScenarioContext, service: ProvisioningService, security: SecurityVersion = 1, pop = POP): Promise<ProvisioningClient> {
  const io = ctx.device().io;
  const client = new ProvisioningClient(direct(service), io.random);
  await client.establishSession(security, { pop });
  return client;
}

export const scenarios: Scenario[] = [
  {
    name: "issue 14 low: ProvisioningService has a closed state — after the window closes every request, new session or not, is refused with ProtocommError 'closed'",
    async run(ctx) {
      const { window } = setup(ctx);
      const client = await session(ctx, window.service);
      checkEqual(await client.setConfig("home-net", "correct horse battery"), 0, "set config while open");
      window.close();
      check(window.service.closed, "service reports closed");
      const e1 = await failure(client.setConfig("evil-net", "password1"), "config after close");
      check(e1 instanceof ProtocommError && e1.code === "closed", `old session: ${String(e1)}`);
      const fresh = new ProvisioningClient(direct(window.service), ctx.device().io.random);
      const e2 = await failure(fresh.version(), "proto-ver after close");
      check(e2 instanceof ProtocommError && e2.code === "closed", `proto-ver: ${String(e2)}`);
      const e3 = await failure(fresh.establishSession(1, { pop: POP }), "handshake after close");
      check(e3 instanceof ProtocommError && e3.code === "closed", `new session: ${String(e3)}`);
    },
  },
  {
    name: "issue 11: after provisioning succeeded the service closes; new sessions and Wi-Fi credentials are refused",
    async run(ctx) {
      const { d, window, events } = setup(ctx);
      const client = await session(ctx, window.service);
      checkEqual(await client.setConfig("home-net", "correct horse battery"), 0, "set config");
      checkEqual(await client.applyConfig(), 0, "apply");
      await waitFor(d.io, () => events.some((e) => e.type === "wifi-connected"), 5000, "connected");
      checkEqual((await client.getStatus()).state, "connected", "status read by the app");
      await waitFor(d.io, () => window.service.closed, 5000, "service closed after success");
      const e = await failure(session(ctx, window.service), "a new session after success");
      check(e instanceof ProtocommError && e.code === "closed", String(e));
      checkEqual(events.filter((x) => x.type === "credentials-received").length, 1, "credentials received once");
    },
  },
];
