/**
 * Room streams over Redis (issue 15): two servers in this process share one private Redis, so
 * a room's offsets, epoch and history live in Redis, not in a node.
 * - A client's node stops; another node publishes while it is away; a NEW node on the same
 *   port takes it back: it recovers every push (from either node) exactly once, in order.
 * - Two nodes publishing to one room at once get distinct offsets 1..2N, and a member on each
 *   node receives them in that order.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { Client } from "../../client/index.ts";
import type { App, Server } from "../../src/index.ts";
import { startServer } from "../helpers/server.ts";
import { redisForFile } from "../helpers/redis.ts";
import { within, deferred, when } from "../helpers/until.ts";

const shared = redisForFile();
const skip = shared.skip;

interface Pushes {
  said: { n: number; from: string };
}

async function node(prefix: string, port?: number): Promise<{ server: Server; app: App }> {
  let app!: App;
  const server = await startServer({
    ...(port === undefined ? {} : { port }),
    cluster: { redis: shared.redis.url, prefix, presenceHeartbeatMs: 100, presenceTtlMs: 1_000, redisReconnectMaxMs: 200 },
  }, (s) => {
    app = s.app("/app");
    app.task("ping", () => "pong");
  });
  return { server, app };
}

function member(server: Server): { client: Client<any, Pushes>; got: number[]; changed: (fn: () => void) => void } {
  const client = new Client<any, Pushes>(server.url("/app"), { WebSocket, room: null, reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
  const got: number[] = [];
  const listeners = new Set<() => void>();
  client.subscribe("said", ({ n }) => {
    got.push(n);
    for (const fn of listeners) fn();
  });
  return { client, got, changed: (fn) => void listeners.add(fn) };
}

const upTo = (n: number, from = 1): number[] => Array.from({ length: n - from + 1 }, (_, i) => from + i);

test("a client moves to another node and recovers what both nodes published meanwhile", { skip }, async (t) => {
  const prefix = "rec-move:";
  let a = await node(prefix);
  const port = a.server.port;
  const b = await node(prefix);
  t.after(() => Promise.all([a.server.stop(), b.server.stop()]));
  const m = member(a.server);
  t.after(() => m.client.close());
  await within(m.client.join("r"), 5000, "join on A");
  for (const n of upTo(2)) await a.app.rooms.publish("r", "said", { n, from: "A" });
  for (const n of upTo(4, 3)) await b.app.rooms.publish("r", "said", { n, from: "B" });
  await when(() => m.got.length >= 4, m.changed, 5000, "first four (from A and B)");

  const unrecovered: unknown[] = [];
  m.client.on("unrecovered", (info) => unrecovered.push(info));
  const lost = deferred<void>();
  const offLost = m.client.on("close", () => (offLost(), lost.resolve()));
  const back = deferred<void>();
  const offBack = m.client.on("reconnect", () => (offBack(), back.resolve()));
  await a.server.stop(); // the client's node is gone
  await within(lost.promise, 5000, "client saw its node go");
  for (const n of upTo(8, 5)) await b.app.rooms.publish("r", "said", { n, from: "B" });
  a = await node(prefix, port); // a new node (new id, nothing in memory) on the same address
  for (const n of upTo(10, 9)) await a.app.rooms.publish("r", "said", { n, from: "A2" });
  await within(back.promise, 10_000, "reconnect to the new node");
  await when(() => m.got.length >= 10, m.changed, 10_000, "the missed six");
  await b.app.rooms.publish("r", "said", { n: 11, from: "B" });
  await when(() => m.got.length >= 11, m.changed, 5000, "live again");
  assert.equal(await m.client.call("ping", null), "pong");
  assert.deepEqual(m.got, upTo(11));
  assert.deepEqual(unrecovered, []);
  assert.equal(m.client.position("r")?.offset, 11);
});

test("two nodes publishing at once get distinct offsets, delivered in order on both", { skip }, async (t) => {
  const prefix = "rec-race:";
  const a = await node(prefix);
  const b = await node(prefix);
  t.after(() => Promise.all([a.server.stop(), b.server.stop()]));
  const onA = member(a.server);
  const onB = member(b.server);
  t.after(() => Promise.all([onA.client.close(), onB.client.close()]));
  await within(Promise.all([onA.client.join("r"), onB.client.join("r")]), 5000, "joins");
  const unrecovered: unknown[] = [];
  for (const m of [onA, onB]) m.client.on("unrecovered", (info) => unrecovered.push(info));
  const N = 50;
  const results = await within(Promise.all([
    ...upTo(N).map((n) => a.app.rooms.publish("r", "said", { n, from: "A" })),
    ...upTo(N).map((n) => b.app.rooms.publish("r", "said", { n, from: "B" })),
  ]), 10_000, "publishes");
  const offsets = results.map((r) => r.offset).sort((x, y) => x - y);
  assert.deepEqual(offsets, upTo(2 * N), "distinct, no gap");
  assert.equal(new Set(results.map((r) => r.epoch)).size, 1);
  // The client drops an offset at or below its last and reports a skipped one ("gap"): all
  // 2N delivered with no report means each member got 1..2N in order.
  await when(() => onA.got.length >= 2 * N, onA.changed, 10_000, "all on A");
  await when(() => onB.got.length >= 2 * N, onB.changed, 10_000, "all on B");
  assert.deepEqual(unrecovered, []);
  assert.equal(onA.client.position("r")?.offset, 2 * N);
  assert.equal(onB.client.position("r")?.offset, 2 * N);
  assert.equal(await onA.client.call("ping", null), "pong");
});
