/**
 * Issue 18: limits under `serve --workers N` are per worker (docs/standalone.md, "Workers"):
 * each worker is a whole server, so an endpoint with `maxConnections: 1` behind two workers
 * holds exactly one connection on each, two in all, and refuses every further upgrade with 503
 * on both. Real processes: the CLI primary and its two node:cluster workers on one port.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startCli } from "../helpers/cli.ts";
import { makeTree } from "../helpers/tree.ts";
import { HttpRefusal, TestClient, withTimeout, WAIT_MS, type Received } from "../helpers/ws-client.ts";

const WORKERS = 2;
/** Upgrades tried before both workers must have taken their one connection (round-robin alternates). */
const MAX_ATTEMPTS = 12;

const FILES = {
  // Each accepted client is told which worker took it.
  "handlers/one.ts": "export default { maxConnections: 1, open(conn) { conn.send(String(process.pid)); }, message() {} };\n",
};

/** Opens a client: its worker's pid when accepted, the HTTP status when refused. */
async function attempt(url: string, held: TestClient[]): Promise<{ pid: number } | { status: number }> {
  const client = new TestClient(url);
  try {
    await withTimeout(client.opened, WAIT_MS, `no answer from ${url}`);
  } catch (err) {
    if (err instanceof HttpRefusal) return { status: err.status };
    throw err;
  }
  held.push(client);
  const first: Received = await client.next();
  return { pid: Number(first.text) };
}

test("serve --workers 2: maxConnections holds per worker (one connection on each, 503 after, on both)", async (t) => {
  const root = makeTree(t, FILES, "sb-workers-limits-");
  const cli = await startCli(["serve", join(root, "handlers"), "--workers", String(WORKERS), "--port", "0"], { cwd: root });
  const held: TestClient[] = [];
  t.after(async () => {
    await Promise.all(held.map((c) => c.close()));
    await cli.stop();
  });
  const url = `ws://127.0.0.1:${cli.port}/one`;

  const accepted = new Set<number>();
  const refused: number[] = [];
  for (let i = 0; i < MAX_ATTEMPTS && accepted.size < WORKERS; i++) {
    const result = await attempt(url, held);
    if ("pid" in result) {
      assert.ok(!accepted.has(result.pid), `worker ${result.pid} accepted a second connection past maxConnections 1`);
      accepted.add(result.pid);
    } else {
      refused.push(result.status);
    }
  }
  assert.equal(accepted.size, WORKERS, `each worker took one connection within ${MAX_ATTEMPTS} attempts`);
  assert.equal(held.length, WORKERS, "N workers x maxConnections 1 = 2 connections in all");
  for (const status of refused) assert.equal(status, 503);

  // Full on both: every further upgrade is refused, whichever worker gets it.
  for (let i = 0; i < 2 * WORKERS; i++) {
    const result = await attempt(url, held);
    assert.deepEqual(result, { status: 503 }, `attempt ${i} past the limit of both workers`);
  }

  // A slot freed on one worker is taken again (the limit counts live connections, per worker).
  await held.shift()!.close();
  let reopened: { pid: number } | undefined;
  for (let i = 0; i < MAX_ATTEMPTS && reopened === undefined; i++) {
    const result = await attempt(url, held);
    if ("pid" in result) reopened = result;
  }
  assert.ok(reopened !== undefined && accepted.has(reopened.pid), "the freed slot is served again");
  assert.equal(held.length, WORKERS);
});
