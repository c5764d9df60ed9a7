// The reference cloud's bootstrap service against the recordings of the real one
// (test/fixtures/mainflux-bootstrap): set to the recorded version and given the recorded config,
// it must answer every recorded request with the recorded status, content type and error body
// byte for byte, and its 200 replies must have the recorded shape (field names and order, channel
// objects, trailing newline of the plain JSON, binary secure body under application/json). IDs
// and keys it generates itself, so those are compared by shape only.
import assert from "node:assert/strict";
import { request } from "node:https";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { generateTestPki, type TestPki } from "../../host-sim/certs/pki.js";
import { startCloud } from "../../host-sim/cloud/cloud.js";
import { nodeCrypto } from "../../host-sim/io/node-crypto.js";
import { bootstrapProfile } from "../../src/onboarding/bootstrap-version.js";
import { decryptReply, serviceKeyBytes } from "../../src/onboarding/secure-bootstrap.js";
import { recordedJson, recordedVersion } from "../scenarios/bootstrap-recorded.scenario.js";
import { RECORDED } from "../scenarios/mainflux-recordings.js";

let dir: string;
let pki: TestPki;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "cloud-recorded-"));
  pki = generateTestPki(join(dir, "pki"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function get(url: string, authorization: string | undefined): Promise<{ status: number; contentType: string | undefined; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: pki.caPem, headers: { Connection: "close", ...(authorization !== undefined ? { Authorization: authorization } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, contentType: res.headers["content-type"], body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Keys of an object and, recursively, of the first object in each array: the shape without values. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? [] : [shape(value[0])];
  if (typeof value === "object" && value !== null) return Object.entries(value).map(([k, v]) => [k, shape(v)]);
  return typeof value;
}

for (const entry of RECORDED) {
  test(`the reference cloud as ${entry.service} answers ${entry.file}'s requests as recorded`, async () => {
    const version = recordedVersion(entry);
    const secure = entry.deviceConfig.secure;
    const cloud = await startCloud({ tls: { key: pki.serverKeyPem, cert: pki.serverCertPem, ca: pki.caPem }, version, ...(secure ? { encryptKey: secure.key } : {}) });
    try {
      const ok = entry.exchanges.find((x) => x.case === "ok")!;
      const recordedReply = JSON.parse(recordedJson(ok)!) as Record<string, string | undefined>;
      cloud.addBootstrapConfig({
        externalId: entry.deviceConfig.externalId, externalKey: entry.deviceConfig.externalKey,
        ...(recordedReply.content !== undefined ? { content: recordedReply.content } : {}),
        ...(recordedReply.client_cert !== undefined ? { clientCert: recordedReply.client_cert, clientKey: recordedReply.client_key! } : {}),
        ...(recordedReply.ca_cert !== undefined ? { caCert: recordedReply.ca_cert } : {}),
      });
      for (const x of entry.exchanges) {
        const got = await get(`${cloud.httpUrl}${x.path}`, x.authorizationSent);
        const what = `${entry.file} ${x.case}`;
        assert.equal(got.status, x.status, `${what}: status`);
        assert.equal(got.contentType, x.headers["content-type"], `${what}: content type`);
        if (x.status !== 200) {
          assert.equal(got.body.toString("utf8"), x.bodyText, `${what}: body`);
          continue;
        }
        let text = got.body.toString("utf8");
        if (secure) {
          const key = serviceKeyBytes(secure.key, bootstrapProfile(version).keyEncoding);
          text = Buffer.from(decryptReply(nodeCrypto, key, got.body)).toString("utf8");
        }
        assert.equal(text.endsWith("\n"), recordedJson(x)!.endsWith("\n"), `${what}: trailing newline as the service's encoder writes it`);
        const json = JSON.parse(text) as Record<string, unknown>;
        assert.deepEqual(shape(json), shape(recordedReply), `${what}: field names, order and types`);
        for (const field of ["content", "client_cert", "client_key", "ca_cert"]) assert.equal(json[field], recordedReply[field], `${what}: ${field}`);
      }
    } finally {
      await cloud.close();
    }
  });
}
