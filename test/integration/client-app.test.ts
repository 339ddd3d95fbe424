/**
 * The client library against a real app: typed calls and errors, pushes, rooms, and a
 * reconnect after the server restarts on the same port (queued sends delivered once, rooms
 * rejoined).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { Client, CallError } from "../../client/index.ts";
import type { App, Server } from "../../src/index.ts";
import { startServer } from "../helpers/server.ts";
import { within, deferred } from "../helpers/until.ts";

interface Tasks {
  add: { data: { a: number; b: number }; reply: number };
  record: { data: number; reply: null };
  where: { data: null; reply: string[] };
  say: { data: string; reply: number };
}
interface Pushes {
  said: { text: string };
}

function mount(received: number[]) {
  return (server: Server): App => {
    const app = server.app("/app", { presence: true });
    app.task<{ a: number; b: number }>("add", ({ data }) => data.a + data.b);
    app.task<number>("record", ({ data }) => void received.push(data));
    app.task("where", ({ conn }) => [...conn.rooms].sort());
    app.task<string>("say", ({ data, room, rooms }) => rooms.push(room!, "said", { text: data }));
    return app;
  };
}

test("typed call, CallError with code, subscribe to room pushes", async (t) => {
  const server = await startServer({}, mount([]));
  t.after(() => server.stop());
  const a = new Client<Tasks, Pushes>(server.url("/app"), { WebSocket, room: "lobby" });
  const b = new Client<Tasks, Pushes>(server.url("/app"), { WebSocket, room: "lobby" });
  t.after(() => (a.close(), b.close()));
  assert.equal(await within(a.call("add", { a: 1, b: 2 }), 5000, "add"), 3);
  const err = await a.call("nope" as "add", { a: 1, b: 1 }).then(() => assert.fail("resolved"), (e: CallError) => e);
  assert.ok(err instanceof CallError);
  assert.equal(err.code, "unknown_task");
  const said = deferred<{ text: string }>();
  b.subscribe("said", said.resolve);
  await within(b.call("where", null), 5000, "b open"); // b is connected and in the room
  assert.equal(await a.call("say", "hi"), 2);
  assert.deepEqual(await within(said.promise, 5000, "push"), { text: "hi" });
  assert.equal(a.welcome?.rooms[0], "lobby");
});

test("reconnect after the server restarts on the same port: queued sends delivered once, rooms rejoined", async (t) => {
  const received: number[] = [];
  let server = await startServer({}, mount(received));
  const port = server.port;
  t.after(() => server.stop());
  const client = new Client<Tasks, Pushes>(server.url("/app"), {
    WebSocket, room: "r1", reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
  });
  t.after(() => client.close());
  await within(client.join("r2"), 5000, "join r2");
  assert.deepEqual(await client.call("where", null), ["r1", "r2"]);

  const lost = deferred<[number, boolean]>();
  client.on("close", (code, _reason, again) => lost.resolve([code, again]));
  await server.stop();
  assert.deepEqual(await within(lost.promise, 5000, "close"), [1001, true]);

  // Offline: these wait in the queue.
  for (const n of [1, 2, 3]) assert.equal(client.send("record", n), true);
  const where = client.call("where", null, { timeoutMs: 20_000 });
  const reconnected = deferred<number>();
  client.on("reconnect", reconnected.resolve);

  server = await startServer({ port }, mount(received));
  assert.ok((await within(reconnected.promise, 20_000, "reconnect")) >= 1);
  assert.deepEqual(await within(where, 20_000, "queued call"), ["r1", "r2"]);
  assert.deepEqual(received, [1, 2, 3]);
  // Delivered once: a later call on the same connection does not bring duplicates.
  assert.equal(await client.call("add", { a: 0, b: 0 }), 0);
  assert.deepEqual(received, [1, 2, 3]);
});
