// Issue 14, defect 1: a TCP reset at any stage of a handshake, or after any refusal, must not
// take the server down. The server runs in a child process (test/abuse/helpers/handshake.ts)
// so that a crash shows as its exit; after every case it must still answer an echo and have
// its handshake counters back at 0.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { NodeProcess } from "../helpers/node-process.ts";
import { connect } from "../helpers/ws-client.ts";
import { eventually, within } from "../helpers/until.ts";
import { RawSocket } from "../helpers/raw-socket.ts";
import { plainGet, resetBurst, statusOf, upgradeRequest, type FixtureStats } from "./helpers/handshake.ts";

/** Sockets per burst: enough to interleave resets with the server's work, bounded. */
const BURST = 200;
const MAX_PENDING = 50;

let node: NodeProcess;
let port: number;

before(async () => {
  node = new NodeProcess("test/abuse/helpers/handshake.ts", { HANDSHAKE_TIMEOUT_MS: "2000", MAX_PENDING_HANDSHAKES: String(MAX_PENDING) });
  port = (await node.waitFor((e) => e.ev === "listening", "the fixture server to listen")).port as number;
});

after(() => node.kill());

/** The process is alive, serves an echo, and its counters are back at 0. */
async function assertStillServing(): Promise<void> {
  assert.ok(node.running, `the server process exited:\n${node.stderr}`);
  const client = await connect(`ws://127.0.0.1:${port}/echo`);
  client.send("still here");
  assert.equal((await client.next()).text, "still here");
  await client.close();
  let last: FixtureStats | undefined;
  await eventually("handshake counters back at 0", async () => {
    last = (await node.request("stats")) as FixtureStats;
    return last.pendingHandshakes === 0 && last.connections === 0 && last.endpoints.every((e) => e.reserved === 0);
  }, 10_000).catch((err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(last)}`);
  });
  assert.ok(node.running, `the server process exited:\n${node.stderr}`);
}

/** resetBurst() against the fixture; a failure says whether the server process is still there. */
async function burst(request: () => string, awaitAnswer: boolean): Promise<number[]> {
  try {
    return await resetBurst(port, BURST, request, { awaitAnswer });
  } catch (err) {
    // A refused or reset connect usually means the process died: wait (bounded) for its exit to say so.
    const exit = await within(node.exited, 2_000, "the server process to exit").catch(() => undefined);
    const state = exit === undefined ? "the server process is still running" : `the server process exited (${exit.code ?? exit.signal}):\n${node.stderr}`;
    throw new Error(`${(err as Error).message} (${state})`);
  }
}

/** A burst reset right after writing, then a burst reset after the answer, which must be `expected`. */
async function resetBothWays(request: () => string, expected: number): Promise<void> {
  await burst(request, false);
  const statuses = await burst(request, true);
  assert.equal(statuses.length, BURST);
  assert.deepEqual([...new Set(statuses)], [expected]);
  await assertStillServing();
}

test("reset after half a request line", async () => {
  await burst(() => "GET /ec", false);
  await assertStillServing();
});

test("reset around a plain GET to an endpoint path (426)", () => resetBothWays(() => plainGet("/echo"), 426));

test("reset around an upgrade to an unknown path (404)", () => resetBothWays(() => upgradeRequest("/nowhere"), 404));

test("reset around an upgrade to a disabled endpoint (503)", () => resetBothWays(() => upgradeRequest("/disabled"), 503));

test("reset around an upgrade to a full endpoint (503)", () => resetBothWays(() => upgradeRequest("/full"), 503));

test("reset around a bad Sec-WebSocket-Version (400)", () => resetBothWays(() => upgradeRequest("/echo", { "Sec-WebSocket-Version": "99" }), 400));

test("reset around a subprotocol mismatch (400)", () => resetBothWays(() => upgradeRequest("/proto", { "Sec-WebSocket-Protocol": "nope" }), 400));

test("reset around a rejection by the handshake hook (its status, 403)", () => resetBothWays(() => upgradeRequest("/reject"), 403));

test("reset right after the 101, and right after sending a valid upgrade", () => resetBothWays(() => upgradeRequest("/echo"), 101));

test("reset around an upgrade refused for too many pending handshakes (503)", async () => {
  await node.request("hold");
  // Fill every pending slot with a hook that waits, then aim the bursts at a free endpoint.
  const holders = await Promise.all(Array.from({ length: MAX_PENDING }, () => RawSocket.open(port)));
  for (const raw of holders) raw.socket.write(upgradeRequest("/slow"));
  await node.waitFor((e) => e.ev === "hook" && e.n === MAX_PENDING, "every pending slot held by a hook");
  await burst(() => upgradeRequest("/echo"), false);
  const statuses = await burst(() => upgradeRequest("/echo"), true);
  assert.deepEqual([...new Set(statuses)], [503]);
  for (const raw of holders) raw.socket.resetAndDestroy();
  await node.request("release");
  await assertStillServing();
});

test("reset while the async handshake hook runs (before the 101)", async () => {
  await node.request("hold");
  const sockets = await Promise.all(Array.from({ length: MAX_PENDING }, () => RawSocket.open(port)));
  for (const raw of sockets) raw.socket.write(upgradeRequest("/slow"));
  await node.waitFor((e) => e.ev === "hook" && e.n === MAX_PENDING, "every hook running");
  for (const raw of sockets) raw.socket.resetAndDestroy();
  // The clients' slots come back at once; the hooks still run, and still count as pending.
  let last: FixtureStats | undefined;
  await eventually("the reset clients' slots given back", async () => {
    last = (await node.request("stats")) as FixtureStats;
    return last.endpoints.find((e) => e.path === "/slow")!.reserved === 0;
  });
  assert.equal(last!.pendingHandshakes, MAX_PENDING);
  const refused = await RawSocket.open(port);
  refused.socket.write(upgradeRequest("/echo"));
  assert.equal(await statusOf(refused), 503, "the pending cap still bounds the hooks running");
  refused.destroy();
  await node.request("release");
  await assertStillServing();
  // And a burst whose resets race the hooks' start.
  await node.request("hold");
  await burst(() => upgradeRequest("/slow"), false);
  await node.request("release");
  await assertStillServing();
});

test("a refused upgrade is answered whole before the socket closes (one more check of the defined answer)", async () => {
  const raw = await RawSocket.open(port);
  raw.socket.write(upgradeRequest("/nowhere"));
  assert.equal(await statusOf(raw), 404);
  const rest = await raw.readToEnd();
  assert.match(rest, /no WebSocket endpoint at \/nowhere$/);
  await assertStillServing();
});
