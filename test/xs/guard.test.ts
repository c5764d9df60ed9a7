// The XS run is only a guard if it fails for code the board would refuse. Check that it does.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { bundleScenarios, XsScenarioHost } from "../../host-sim/xs/host.js";

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

let host: XsScenarioHost;
before(async () => {
  host = await XsScenarioHost.start([fixture("uses-host-globals.scenario.ts")]);
});
after(async () => host?.close());

test("a Node module imported by the core fails the XS bundle", async () => {
  await assert.rejects(bundleScenarios([fixture("imports-node.scenario.ts")]), /node:fs|Could not resolve/);
});

const refused: [string, RegExp][] = [
  ["uses Buffer", /Buffer/],
  ["uses process", /process/],
  ["uses TextEncoder", /TextEncoder|not a constructor|no function|undefined/],
  ["reads Date.now", /io\.clock/],
  ["uses Math.random", /io\.random/],
  ["assigns Error name", /name|not writable|read-only|readonly/i],
  ["patches a prototype", /extra|not extensible|extensible/i],
];

for (const [name, message] of refused) {
  test(`XS refuses code that ${name.replace(/^uses /, "uses ")}`, async () => {
    const result = await host.run(name);
    assert.ok(result.error !== undefined, `"${name}" should fail on XS`);
    assert.match(result.error, message);
  });
}

test("XS runs plain ECMAScript", async () => {
  const result = await host.run("plain code");
  assert.equal(result.error, undefined);
});
