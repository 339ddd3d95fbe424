/**
 * prom-client is loaded only when metrics are on (observe/metrics.ts requires it on first use):
 * a server without metrics never loads it. Checked in a fresh process, through require's cache.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));

async function loadsPromClient(metrics: boolean): Promise<boolean> {
  const script = `
    const { createServer } = await import("switchboard");
    const { createRequire } = await import("node:module");
    const server = createServer({ port: 0, logger: { level: "silent" }, ${metrics ? "metrics: { enabled: true }" : ""} });
    await server.start();
    await server.stop();
    const cache = createRequire(import.meta.url).cache;
    console.log(JSON.stringify(Object.keys(cache).some((path) => path.includes("/prom-client/"))));
  `;
  const { stdout } = await run(process.execPath, ["--conditions=source", "--import", "tsx", "--input-type=module", "-e", script], { cwd: root, timeout: 60_000 });
  return JSON.parse(stdout.trim().split("\n").pop()!) as boolean;
}

test("without metrics prom-client is not loaded; with metrics it is", async () => {
  assert.equal(await loadsPromClient(false), false);
  assert.equal(await loadsPromClient(true), true);
});
