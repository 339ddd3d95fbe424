/**
 * Room streams on one node, memory engine (issue 15): a client that comes back gets every push
 * it missed, exactly once, in order — or is told it cannot (`unrecovered`). The socket is cut
 * from the server side (terminate: no close frame), so the client reconnects on its own.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { Client } from "../../client/index.ts";
import type { App, AppOptions, Server, ServerOptions } from "../../src/index.ts";
import { startServer } from "../helpers/server.ts";
import { within, deferred, when } from "../helpers/until.ts";

interface Pushes {
  said: { n: number };
}

const RECONNECT = { initialDelayMs: 20, maxDelayMs: 100 };

async function start(options: ServerOptions = {}, port?: number, appOptions: AppOptions = {}): Promise<{ server: Server; app: App }> {
  let app!: App;
  const server = await startServer({ ...options, ...(port === undefined ? {} : { port }) }, (s) => {
    app = s.app("/app", appOptions);
    app.task<{ room: string; id: string; n: number }>("post", async ({ data, rooms, conn }) => {
      const at = await rooms.publish(data.room, "said", { n: data.n }, { idempotencyKey: `${conn.user.id}:${data.id}` });
      return { offset: at.offset, duplicate: at.duplicate };
    });
    app.task("ping", () => "pong");
  });
  return { server, app };
}

/** A client in room "r" that records every `said` push it delivers. */
function member(server: Server, options: { room?: string } = {}): { client: Client<any, Pushes>; got: number[]; changed: (fn: () => void) => void } {
  const client = new Client<any, Pushes>(server.url("/app"), { WebSocket, room: options.room ?? null, reconnect: RECONNECT });
  const got: number[] = [];
  const listeners = new Set<() => void>();
  client.subscribe("said", ({ n }) => {
    got.push(n);
    for (const fn of listeners) fn();
  });
  return { client, got, changed: (fn) => void listeners.add(fn) };
}

function upTo(n: number, from = 1): number[] {
  return Array.from({ length: n - from + 1 }, (_, i) => from + i);
}

/** Cut the client's socket on the server (no close frame); resolves when the client saw it. */
async function cut(app: App, client: Client<any, any>, whileDown: () => void = () => {}): Promise<void> {
  const closed = deferred<void>();
  const off = client.on("close", () => {
    off();
    whileDown(); // published before the client's reconnect attempt (it waits its backoff)
    closed.resolve();
  });
  const conn = app.connections.get(client.welcome!.connection) as unknown as { raw: { terminate(): void } };
  conn.raw.terminate();
  await within(closed.promise, 5000, "client saw the cut");
}

async function fresh(client: Client<any, any>): Promise<void> {
  const reconnected = deferred<void>();
  const off = client.on("reconnect", () => (off(), reconnected.resolve()));
  await within(reconnected.promise, 10_000, "reconnect");
}

test("a client that missed pushes while disconnected gets each exactly once, in order", async (t) => {
  const { server, app } = await start();
  t.after(() => server.stop());
  const a = member(server);
  t.after(() => a.client.close());
  await within(a.client.join("r"), 5000, "join");
  for (const n of upTo(3)) app.rooms.push("r", "said", { n });
  await when(() => a.got.length >= 3, a.changed, 5000, "first three");
  const back = fresh(a.client);
  await cut(app, a.client, () => {
    for (const n of upTo(6, 4)) app.rooms.push("r", "said", { n });
  });
  await back;
  await when(() => a.got.length >= 6, a.changed, 5000, "the missed three");
  for (const n of upTo(8, 7)) app.rooms.push("r", "said", { n });
  await when(() => a.got.length >= 8, a.changed, 5000, "live again");
  assert.equal(await a.client.call("ping", null), "pong");
  assert.deepEqual(a.got, upTo(8));
  assert.equal(a.client.position("r")?.offset, 8);
});

test("a client that reconnects before its first push still recovers (socket.io#5538)", async (t) => {
  const { server, app } = await start();
  t.after(() => server.stop());
  const a = member(server);
  t.after(() => a.client.close());
  const reply = await within(a.client.join("r"), 5000, "join");
  assert.equal(reply.offset, 0);
  assert.equal(typeof reply.epoch, "string");
  const back = fresh(a.client);
  await cut(app, a.client, () => {
    for (const n of upTo(3)) app.rooms.push("r", "said", { n });
  });
  await back;
  await when(() => a.got.length >= 3, a.changed, 5000, "the missed three");
  app.rooms.push("r", "said", { n: 4 });
  await when(() => a.got.length >= 4, a.changed, 5000, "live");
  assert.deepEqual(a.got, upTo(4));
});

test("pushes published during the replay are neither lost nor duplicated", async (t) => {
  const { server, app } = await start({ cluster: { historyMaxCount: 10_000 } }); // covers the whole outage
  t.after(() => server.stop());
  const a = member(server, { room: "r" }); // also in ?room=: rejoined at connect, then recovered
  t.after(() => a.client.close());
  await within(a.client.call("ping", null), 5000, "open");
  app.rooms.push("r", "said", { n: 1 });
  await when(() => a.got.length >= 1, a.changed, 5000, "first push");
  const TOTAL = 400;
  let n = 1;
  const done = deferred<void>();
  // Publish continuously (one per turn of the event loop, bounded) across the cut, the
  // reconnect and the rejoin's replay.
  const publish = (): void => {
    if (n >= TOTAL) return done.resolve();
    app.rooms.push("r", "said", { n: ++n });
    setImmediate(publish);
  };
  const unrecovered: unknown[] = [];
  a.client.on("unrecovered", (info) => unrecovered.push(info));
  const back = fresh(a.client);
  await cut(app, a.client, publish);
  await back;
  await within(done.promise, 10_000, "publisher finished");
  await when(() => a.got.length >= TOTAL, a.changed, 10_000, "every push").catch((err: Error) => {
    throw new Error(`${err.message}: got ${a.got.length} (last ${a.got.slice(-3).join(",")}), unrecovered ${JSON.stringify(unrecovered)}`);
  });
  assert.equal(await a.client.call("ping", null), "pong");
  assert.deepEqual(a.got, upTo(TOTAL));
  assert.deepEqual(unrecovered, []);
});

test("server restart: the epoch changed, so the client hears `unrecovered` and continues live", async (t) => {
  let { server, app } = await start();
  const port = server.port;
  t.after(() => server.stop());
  const a = member(server);
  t.after(() => a.client.close());
  await within(a.client.join("r"), 5000, "join");
  app.rooms.push("r", "said", { n: 1 });
  await when(() => a.got.length >= 1, a.changed, 5000, "first push");
  const unrecovered = deferred<{ room: string; reason: string }>();
  a.client.on("unrecovered", unrecovered.resolve);
  const back = fresh(a.client);
  await server.stop();
  ({ server, app } = await start({}, port));
  await back;
  assert.deepEqual(await within(unrecovered.promise, 10_000, "unrecovered"), { room: "r", reason: "epoch" });
  await within(a.client.call("ping", null), 5000, "rejoined");
  app.rooms.push("r", "said", { n: 2 });
  await when(() => a.got.length >= 2, a.changed, 5000, "live after restart");
  assert.deepEqual(a.got, [1, 2]);
});

test("history trimmed past the client's position: recovered false, then live", async (t) => {
  const { server, app } = await start({ cluster: { historyMaxCount: 3 } });
  t.after(() => server.stop());
  const a = member(server);
  t.after(() => a.client.close());
  await within(a.client.join("r"), 5000, "join");
  app.rooms.push("r", "said", { n: 1 });
  await when(() => a.got.length >= 1, a.changed, 5000, "first push");
  const unrecovered = deferred<{ room: string; reason: string }>();
  a.client.on("unrecovered", unrecovered.resolve);
  const back = fresh(a.client);
  await cut(app, a.client, () => {
    for (const n of upTo(10, 2)) app.rooms.push("r", "said", { n });
  });
  await back;
  assert.deepEqual(await within(unrecovered.promise, 5000, "unrecovered"), { room: "r", reason: "history" });
  await within(a.client.call("ping", null), 5000, "rejoined");
  app.rooms.push("r", "said", { n: 11 });
  await when(() => a.got.includes(11), a.changed, 5000, "live");
  assert.deepEqual(a.got, [1, 11]);
  assert.equal(a.client.position("r")?.offset, 11);
});

test("room.join with history: N returns (and delivers) the last N pushes", async (t) => {
  const { server, app } = await start();
  t.after(() => server.stop());
  for (const n of upTo(5)) app.rooms.push("r", "said", { n });
  const a = member(server);
  t.after(() => a.client.close());
  const reply = await within(a.client.join("r", { history: 3 }), 5000, "join");
  assert.deepEqual(reply.pushes?.map((p) => [p.offset, (p.data as { n: number }).n]), [[3, 3], [4, 4], [5, 5]]);
  assert.equal(reply.offset, 5);
  assert.deepEqual(a.got, [3, 4, 5]);
  app.rooms.push("r", "said", { n: 6 });
  await when(() => a.got.length >= 4, a.changed, 5000, "live");
  assert.deepEqual(a.got, [3, 4, 5, 6]);
});

test("idempotent publish: a resent message id is not published twice", async (t) => {
  const { server } = await start();
  t.after(() => server.stop());
  const a = member(server);
  t.after(() => a.client.close());
  await within(a.client.join("r"), 5000, "join");
  const first = await a.client.call("post", { room: "r", id: "m1", n: 1 });
  const again = await a.client.call("post", { room: "r", id: "m1", n: 1 });
  assert.deepEqual(first, { offset: 1, duplicate: false });
  assert.deepEqual(again, { offset: 1, duplicate: true });
  const next = await a.client.call("post", { room: "r", id: "m2", n: 2 });
  assert.deepEqual(next, { offset: 2, duplicate: false });
  await when(() => a.got.length >= 2, a.changed, 5000, "pushes");
  assert.deepEqual(a.got, [1, 2]);
});

test("a connection without ?streams=1 gets today's push shape", async (t) => {
  const { server, app } = await start();
  t.after(() => server.stop());
  const ws = new WebSocket(server.url("/app") + "?room=r", "switchboard.v1");
  t.after(() => ws.terminate());
  const frames: unknown[] = [];
  const second = deferred<void>();
  ws.on("message", (raw) => {
    frames.push(JSON.parse(String(raw)));
    if (frames.length === 2) second.resolve();
  });
  await within(new Promise((r) => ws.once("open", r)), 5000, "open");
  // The welcome comes first; the connect-time join is in force once room.members-free ping replies.
  ws.send(JSON.stringify({ task: "ping", data: null, id: 1 }));
  await when(() => frames.length >= 2, (fn) => ws.on("message", fn), 5000, "welcome and pong");
  app.rooms.push("r", "said", { n: 1 });
  await when(() => frames.length >= 3, (fn) => ws.on("message", fn), 5000, "push");
  assert.deepEqual(frames[2], { task: "said", data: { n: 1 } });
});

test("rooms: false (connect-time rooms only): a room joined at connect still recovers", async (t) => {
  const { server, app } = await start({}, undefined, { rooms: false });
  t.after(() => server.stop());
  const a = member(server, { room: "r" });
  t.after(() => a.client.close());
  const errors: string[] = [];
  a.client.on("error", (err) => errors.push(err.message));
  await within(a.client.call("ping", null), 5000, "open");
  app.rooms.push("r", "said", { n: 1 });
  await when(() => a.got.length >= 1, a.changed, 5000, "first push");
  const back = fresh(a.client);
  await cut(app, a.client, () => {
    for (const n of upTo(4, 2)) app.rooms.push("r", "said", { n });
  });
  await back;
  await when(() => a.got.length >= 4, a.changed, 5000, "the missed three");
  app.rooms.push("r", "said", { n: 5 });
  await when(() => a.got.length >= 5, a.changed, 5000, "live");
  assert.deepEqual(a.got, upTo(5));
  assert.deepEqual(errors, []);
  // The policy still holds for rooms it is not in.
  await assert.rejects(a.client.join("elsewhere"), (err: { code?: string }) => err.code === "forbidden");
});
