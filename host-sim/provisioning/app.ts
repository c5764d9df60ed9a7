// The phone-app stand-in's flow (what the ESP RainMaker app / rmaker_prov do), step by step, over
// any protocomm transport: version → session → user-node mapping (challenge-response or user ID +
// secret key) → scan → credentials → apply → follow the connection status.
import { randomUUID } from "node:crypto";
import { toHex } from "../../src/bytes/bytes.js";
import { ProvisioningClient, type ProtocommTransport, type StatusReport } from "../../src/provisioning/client.js";
import type { SecurityVersion } from "../../src/provisioning/security.js";
import type { CloudApiClient } from "../cloud/user-mapping/http-api.js";

export interface ProvisionOptions {
  readonly transport: ProtocommTransport;
  readonly random: (into: Uint8Array) => void;
  readonly sleep: (ms: number) => Promise<void>;
  /** Default: what proto-ver advertises. */
  readonly security?: SecurityVersion;
  readonly pop?: string;
  readonly username?: string;
  readonly mapping?: { readonly method: "challenge" | "secret-key"; readonly cloud: CloudApiClient };
  readonly ssid: string;
  readonly passphrase: string;
  readonly scan?: boolean;
  readonly pollMs?: number;
  readonly onStep?: (step: string, detail?: string) => void;
}

export interface ProvisionResult {
  readonly nodeId: string | undefined;
  readonly status: StatusReport;
  readonly mapping?: { readonly method: "challenge" | "secret-key"; readonly result: string; readonly requestId: string; readonly secretKey?: string };
  readonly handshakeMs: number;
  readonly traffic: { requests: number; bytesSent: number; bytesReceived: number };
}

export async function provisionDevice(o: ProvisionOptions): Promise<ProvisionResult> {
  const step = o.onStep ?? (() => undefined);
  const client = new ProvisioningClient(o.transport, o.random, o.sleep);
  const info = await client.version();
  step("version", `${info.ver} sec_ver=${info.secVer} cap=${info.cap.join(",")}${info.raw.rmaker_extra ? " rmaker_extra=" + JSON.stringify(info.raw.rmaker_extra) : ""}`);
  const security = o.security ?? ((info.secVer ?? 1) as SecurityVersion);
  const started = Date.now();
  await client.establishSession(security, { ...(o.pop !== undefined ? { pop: o.pop } : {}), ...(o.username !== undefined ? { username: o.username } : {}), secPatchVer: info.secPatchVer });
  const handshakeMs = Date.now() - started;
  step("session", `Security ${security} established in ${handshakeMs} ms`);

  let nodeId: string | undefined;
  let mapping: ProvisionResult["mapping"];
  if (o.mapping?.method === "challenge") {
    const chalCap = (info.raw.rmaker_extra as { cap?: string[] } | undefined)?.cap ?? [];
    if (!chalCap.includes("ch_resp")) throw new Error("device does not advertise ch_resp");
    const { request_id, challenge } = await o.mapping.cloud.initiate();
    step("mapping", `cloud challenge for request ${request_id}`);
    const r = await client.challengeResponse(challenge);
    if (r.status !== 0) throw new Error(`device refused the challenge (status ${r.status})`);
    nodeId = r.nodeId;
    step("mapping", `device ${nodeId} signed (${r.signature.length}-byte signature)`);
    const v = await o.mapping.cloud.verify(request_id, r.nodeId, toHex(r.signature));
    step("mapping", `cloud verify: ${v.status} (${v.description})`);
    mapping = { method: "challenge", result: v.status, requestId: request_id };
    if (v.status !== "success") throw new Error(`mapping failed: ${v.description}`);
  } else if (o.mapping?.method === "secret-key") {
    const secretKey = randomUUID();
    const r = await client.setUserMapping(o.mapping.cloud.userId, secretKey);
    if (r.status !== 0) throw new Error(`device refused the user mapping (status ${r.status})`);
    nodeId = r.nodeId;
    step("mapping", `device ${nodeId} took the user ID and secret key`);
    const { request_id } = await o.mapping.cloud.addMapping(r.nodeId, secretKey);
    step("mapping", `cloud request ${request_id}: completes once the device is online`);
    mapping = { method: "secret-key", result: "requested", requestId: request_id, secretKey };
  }

  if (o.scan ?? true) {
    if (!info.cap.includes("wifi_scan")) step("scan", "device cannot scan");
    else {
      const nets = await client.scan();
      step("scan", nets.map((n) => `${new TextDecoder().decode(n.ssid)}(${n.rssi})`).join(" "));
    }
  }
  const setStatus = await client.setConfig(o.ssid, o.passphrase);
  if (setStatus !== 0) throw new Error(`device refused the credentials (status ${setStatus})`);
  step("credentials", `sent for "${o.ssid}"`);
  await client.applyConfig();
  step("apply", "device is joining");
  const status = await client.waitForConnection(o.pollMs ?? 200, 300, (s) => step("status", s.state + (s.attemptsRemaining !== undefined ? ` (${s.attemptsRemaining} attempts left)` : "")));
  step("result", status.state === "connected" ? `connected, IP ${status.ip}` : `${status.state}${status.failReason ? ": " + status.failReason : ""}`);
  return { nodeId, status, ...(mapping ? { mapping } : {}), handshakeMs, traffic: { ...client.traffic } };
}

/** Poll the cloud until a secret-key mapping request leaves "requested". */
export async function waitForMapping(cloud: CloudApiClient, requestId: string, sleep: (ms: number) => Promise<void>, maxMs = 70_000, stepMs = 200): Promise<string> {
  for (let waited = 0; waited <= maxMs; waited += stepMs) {
    const s = await cloud.mappingStatus(requestId);
    if (s !== "requested") return s;
    await sleep(stepMs);
  }
  return "requested";
}
