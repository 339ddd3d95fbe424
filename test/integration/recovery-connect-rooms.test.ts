/**
 * Rooms joined at connect (`?room=`), memory engine (issue 15, found by the storm bench): they
 * are joined BEFORE the welcome, whose data carries their positions for a `?streams=1`
 * connection. So a push published right after the welcome reaches the new member (the next
 * offset after its position, no jump), and a client that reconnects before its first push in
 * such a room recovers it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { Client } from "../../client/index.ts";
import type { App, AppOptions, Server } from "../../src/index.ts";
import { startServer } from "../helpers/server.ts";
import { within, deferred, when } from "../helpers/until.ts";

interface Pushes {
  said: { n: number };
}

interface Frame {
  task?: string;
  data?: { n?: number; positions?: Record<string, { offset: number; epoch: string }>; rooms?: string[] };
  id?: number;
  room?: string;
  offset?: number;
  epoch?: string;
}

async function start(appOptions: AppOptions = {}): Promise<{ server: Server; app: App }> {
  let app!: App;
  const server = await startServer({}, (s) => {
    app = s.app("/app", appOptions);
    app.task("ping", () => "pong");
    app.task<{ n: number }>("say", ({ data, rooms }) => rooms.push("r", "said", { n: data.n }));
  });
  return { server, app };
}

/** A raw `ws` connection that records every frame, with a way to wait for one. */
async function raw(server: Server, query: string): Promise<{ ws: WebSocket; frames: Frame[]; until: (check: (f: Frame[]) => boolean, what: string) => Promise<void> }> {
  const ws = new WebSocket(server.url("/app") + query, "switchboard.v1");
  const frames: Frame[] = [];
  ws.on("message", (data) => frames.push(JSON.parse(String(data)) as Frame));
  const until = (check: (f: Frame[]) => boolean, what: string) => when(() => check(frames), (fn) => ws.on("message", fn), 5000, what);
  await within(new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject)), 5000, "open");
  return { ws, frames, until };
}

test("the welcome of a ?streams=1 connection carries the positions of its ?room= rooms", async (t) => {
  const { server, app } = await start();
  t.after(() => server.stop());
  // Two pushes already in room "r"'s stream (published with a member in it, so it exists).
  const first = await raw(server, "?room=r&streams=1");
  t.after(() => first.ws.terminate());
  await first.until((f) => f.length >= 1, "first welcome");
  await app.rooms.publish("r", "said", { n: 1 });
  await app.rooms.publish("r", "said", { n: 2 });

  const c = await raw(server, "?room=r&room=s&streams=1");
  t.after(() => c.ws.terminate());
  await c.until((f) => f.length >= 1, "welcome");
  const welcome = c.frames[0]!;
  assert.equal(welcome.task, "switchboard.welcome");
  assert.deepEqual(welcome.data?.rooms, ["r", "s"]);
  const positions = welcome.data?.positions;
  assert.ok(positions !== undefined, `the welcome has positions: ${JSON.stringify(welcome)}`);
  assert.equal(positions.r?.offset, 2);
  assert.equal(typeof positions.r?.epoch, "string");
  assert.notEqual(positions.r?.epoch, "");
  assert.equal(positions.s?.offset, 0);

  // Without ?streams=1 the welcome keeps its shape.
  const plain = await raw(server, "?room=r");
  t.after(() => plain.ws.terminate());
  await plain.until((f) => f.length >= 1, "plain welcome");
  assert.deepEqual(Object.keys(plain.frames[0]!.data!).sort(), ["connection", "protocol", "rooms", "user"]);

  // Still serving: a fresh round-trip.
  c.ws.send(JSON.stringify({ task: "ping", data: null, id: 1 }));
  await c.until((f) => f.some((m) => m.id === 1), "pong");
});

test("a push from the open hook reaches every new member, right after its welcome's position", async (t) => {
  const CLIENTS = 8;
  let published = 0;
  // Each connection's open hook pushes to the room at once: the members welcomed before it must get it.
  const { server, app } = await start({ open: () => void app.rooms.push("r", "said", { n: ++published }) });
  t.after(() => server.stop());
  const clients = await Promise.all(Array.from({ length: CLIENTS }, () => raw(server, "?room=r&streams=1")));
  for (const c of clients) t.after(() => c.ws.terminate());
  for (const [i, c] of clients.entries()) {
    // Every client gets every push above its welcome's position, up to the last one (CLIENTS).
    await c.until((f) => f.some((m) => m.task === "said" && m.offset === CLIENTS), `client ${i}: the last push`);
    const welcome = c.frames[0]!;
    assert.equal(welcome.task, "switchboard.welcome");
    const from = welcome.data?.positions?.r?.offset;
    assert.equal(typeof from, "number", `client ${i}: a position in its welcome`);
    const offsets = c.frames.filter((m) => m.task === "said").map((m) => m.offset);
    assert.deepEqual(offsets, Array.from({ length: CLIENTS - from! }, (_, k) => from! + 1 + k), `client ${i}: no jump, no loss`);
  }
});

test("a client that reconnects before its first push in a ?room= room recovers it", async (t) => {
  const { server, app } = await start();
  t.after(() => server.stop());
  const client = new Client<any, Pushes>(server.url("/app"), { WebSocket, room: "r", reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
  t.after(() => client.close());
  const got: number[] = [];
  const changed = new Set<() => void>();
  client.subscribe("said", ({ n }) => {
    got.push(n);
    for (const fn of changed) fn();
  });
  await within(client.call("ping", null), 5000, "open");
  assert.equal(client.position("r")?.offset, 0, "the welcome gave the client its position in r");

  const reconnected = deferred<void>();
  const offReconnect = client.on("reconnect", () => (offReconnect(), reconnected.resolve()));
  const closed = deferred<void>();
  const offClose = client.on("close", () => {
    offClose();
    // Published while the client is down (it waits its backoff before reconnecting).
    for (const n of [1, 2, 3]) app.rooms.push("r", "said", { n });
    closed.resolve();
  });
  const conn = app.connections.get(client.welcome!.connection) as unknown as { raw: { terminate(): void } };
  conn.raw.terminate();
  await within(closed.promise, 5000, "client saw the cut");
  await within(reconnected.promise, 10_000, "reconnect");
  await when(() => got.length >= 3, (fn) => void changed.add(fn), 5000, "the missed three");
  app.rooms.push("r", "said", { n: 4 });
  await when(() => got.length >= 4, (fn) => void changed.add(fn), 5000, "live");
  assert.deepEqual(got, [1, 2, 3, 4]);
});

test("a task sent before the welcome that pushes to the connection's room: the push follows the welcome, not lost", async (t) => {
  const { server } = await start();
  t.after(() => server.stop());
  const ws = new WebSocket(server.url("/app") + "?room=r&streams=1", "switchboard.v1");
  t.after(() => ws.terminate());
  const frames: Frame[] = [];
  ws.on("message", (data) => frames.push(JSON.parse(String(data)) as Frame));
  // Sent the moment the socket opens: the server may run it before its joins took effect.
  ws.once("open", () => ws.send(JSON.stringify({ task: "say", data: { n: 1 }, id: 1 })));
  await when(() => frames.some((m) => m.task === "said") && frames.some((m) => m.id === 1), (fn) => ws.on("message", fn), 5000, "the push and the reply");
  const welcomeAt = frames.findIndex((m) => m.task === "switchboard.welcome");
  const pushAt = frames.findIndex((m) => m.task === "said");
  assert.ok(welcomeAt >= 0 && welcomeAt < pushAt, `the welcome comes before the push: ${JSON.stringify(frames)}`);
  assert.equal(frames[pushAt]!.offset, frames[welcomeAt]!.data!.positions!.r!.offset + 1);
  assert.equal(frames.filter((m) => m.task === "said").length, 1);
  // Still serving.
  ws.send(JSON.stringify({ task: "ping", data: null, id: 2 }));
  await when(() => frames.some((m) => m.id === 2), (fn) => ws.on("message", fn), 5000, "pong");
});

test("presence pushes and broadcasts for a connection still joining its ?room= rooms follow its welcome; none is dropped", async (t) => {
  const { server, app } = await start({ presence: true });
  t.after(() => server.stop());
  // Each new member's own room.joined is published while it is still joining (before its
  // welcome): it must be held and follow the welcome, not be dropped or come first.
  const clients = await Promise.all(Array.from({ length: 6 }, () => raw(server, "?room=r")));
  t.after(() => { for (const c of clients) c.ws.terminate(); });
  for (const [i, c] of clients.entries()) {
    await c.until((f) => f.some((frame) => frame.task === "room.joined" && (frame.data as { member?: { connection?: string } } | undefined)?.member?.connection === (c.frames[0]?.data as { connection?: string } | undefined)?.connection), `client ${i}: its own room.joined`);
    assert.equal(c.frames[0]?.task, "switchboard.welcome", `client ${i}: the welcome is the first frame`);
  }
  app.broadcast("note", { n: 1 });
  for (const [i, c] of clients.entries()) await c.until((f) => f.some((frame) => frame.task === "note"), `client ${i}: the broadcast`);
  assert.equal(app.stats().pushes.dropped, 0);
});
