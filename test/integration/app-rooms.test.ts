/**
 * Rooms and presence with many clients (bounded: 50), room policy, app.broadcast, and the
 * push backpressure policies with their counters.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ProtoClient, startApp, type Frame } from "../helpers/app-client.ts";
import { refusedClose } from "./client-refusal-helpers.ts";

const MANY = 50;

test(`${MANY} clients in one room: one push reaches each exactly once, another room sees nothing`, async (t) => {
  const { server, url, app } = await startApp({ presence: true }, (a) => {
    a.task("say", ({ data, room, rooms, conn }) => rooms.push(room!, "said", { from: conn.id, text: data }));
  });
  t.after(() => server.stop());
  const clients = await Promise.all(Array.from({ length: MANY }, () => ProtoClient.open(url, { query: { room: "big" } })));
  const outsider = await ProtoClient.open(url, { query: { room: "other" } });
  assert.equal(app.rooms.size("big"), MANY);
  assert.deepEqual(clients[0]!.welcome.data.rooms, ["big"]);

  const reply = await clients[0]!.call("say", "hello");
  assert.equal(reply.data, MANY);
  const got = await Promise.all(clients.map((c) => c.next((f) => f.task === "said")));
  for (const frame of got) assert.deepEqual(frame.data, { from: clients[0]!.welcome.data.connection, text: "hello" });
  // Nothing else of that kind is waiting, and the outsider got none.
  const probe = await outsider.call("say", "other room");
  assert.equal(probe.data, 1);
  assert.equal((await outsider.next((f) => f.task === "said")).data.text, "other room");
  for (const c of clients) assert.equal(c.frames.filter((f: Frame) => f.task === "said").length, 0);
  assert.ok(app.stats().pushes.sent >= MANY + 1);
  await Promise.all([...clients, outsider].map((c) => c.close()));
});

test("presence: members list, joined and left pushes to the room", async (t) => {
  const { server, url, app } = await startApp({ presence: true });
  t.after(() => server.stop());
  const a = await ProtoClient.open(url, { query: { room: "kitchen" } });
  const b = await ProtoClient.open(url, { query: { room: "kitchen" } });
  const bId = b.welcome.data.connection;
  const joined = await a.next((f) => f.task === "room.joined" && f.data.member.connection === bId);
  assert.deepEqual(joined.data, { room: "kitchen", member: { connection: bId, user: b.welcome.data.user } });
  const members = await a.call("room.members", { room: "kitchen" });
  assert.deepEqual(members.data.members.map((m: Frame) => m.connection).sort(), [a.welcome.data.connection, bId].sort());
  assert.equal((await a.call("room.members", { room: "elsewhere" })).error.code, "forbidden");
  await b.close();
  const left = await a.next((f) => f.task === "room.left");
  assert.equal(left.data.member.connection, bId);
  assert.equal(app.rooms.size("kitchen"), 1);
  await a.close();
});

test("room.join / room.leave move a connection; bad room data is bad_request", async (t) => {
  const { server, url, app } = await startApp({ presence: true, maxRoomsPerConnection: 2 }, (a) => {
    a.task<{ room: string; text: string }>("shout", ({ data, rooms }) => rooms.push(data.room, "shouted", data.text));
  });
  t.after(() => server.stop());
  const a = await ProtoClient.open(url);
  assert.deepEqual(a.welcome.data.rooms, []);
  const join = await a.call("room.join", { room: "r1" });
  assert.equal(join.data.room, "r1");
  assert.equal(join.data.members.length, 1);
  assert.equal((await a.call("shout", { room: "r1", text: "x" })).data, 1);
  assert.equal((await a.next((f) => f.task === "shouted")).data, "x");
  assert.equal((await a.call("room.join", { room: "r2" })).data.room, "r2");
  assert.equal((await a.call("room.join", { room: "r3" })).error.code, "bad_request");
  assert.deepEqual(await a.call("room.leave", { room: "r1" }), { id: 5, data: { room: "r1" } });
  assert.equal(app.rooms.size("r1"), 0);
  const bad = await a.call("room.join", { room: "" });
  assert.equal(bad.error.code, "bad_request");
  assert.match(bad.error.message, /^data\.room/);
  await a.close();
});

test("room policy: false keeps the ?room= of connect and forbids moves; a function refuses ?room= (closed with 4403)", async (t) => {
  const locked = await startApp({ rooms: false });
  const picky = await startApp({ rooms: (_user, room) => room !== "secret" });
  t.after(async () => {
    await locked.server.stop();
    await picky.server.stop();
  });
  const a = await ProtoClient.open(locked.url, { query: { room: "fixed" } });
  assert.deepEqual(a.welcome.data.rooms, ["fixed"]);
  assert.equal((await a.call("room.join", { room: "x" })).error.code, "forbidden");
  assert.equal((await a.call("room.leave", { room: "fixed" })).error.code, "forbidden");
  await a.close();
  assert.deepEqual(await refusedClose(`${picky.url}?room=secret`), { code: 4403, reason: "may not join room secret", protocol: "switchboard.v1", frames: 0 });
  assert.deepEqual(await refusedClose(`${picky.url}?room=${"x".repeat(300)}`), { code: 4400, reason: "a room name is 1-256 characters", protocol: "switchboard.v1", frames: 0 });
  const b = await ProtoClient.open(picky.url, { query: { room: "open" } });
  assert.deepEqual(b.welcome.data.rooms, ["open"]);
  await b.close();
});

test("without ?room= the room is the path of the Referer page", async (t) => {
  const { server, url } = await startApp();
  t.after(() => server.stop());
  const c = await ProtoClient.open(url, { headers: { Referer: "http://example.test/games/chess?x=1" } });
  assert.deepEqual(c.welcome.data.rooms, ["/games/chess"]);
  await c.close();
});

test("app.broadcast reaches every connection once; conn.push reaches one", async (t) => {
  const { server, url, app } = await startApp({}, (a) => {
    a.task<string>("poke", ({ data, conn }) => {
      const target = a.connections.get(data);
      return target ? target.push("poked", conn.id) : false;
    });
  });
  t.after(() => server.stop());
  const cs = await Promise.all([1, 2, 3].map(() => ProtoClient.open(url)));
  assert.equal(app.broadcast("news", 1), 3);
  for (const c of cs) assert.equal((await c.next((f) => f.task === "news")).data, 1);
  assert.equal((await cs[0]!.call("poke", cs[2]!.welcome.data.connection)).data, true);
  assert.equal((await cs[2]!.next((f) => f.task === "poked")).data, cs[0]!.welcome.data.connection);
  await Promise.all(cs.map((c) => c.close()));
});

/** Push 64 KiB chunks to a client that does not read, until the policy acts (bounded). */
async function flood(policy: "drop" | "close") {
  const chunk = "x".repeat(64 * 1024);
  const { server, url, app } = await startApp({ pushPolicy: policy, maxPushBufferedBytes: 256 * 1024 }, (a) => {
    a.task("flood", async ({ conn }) => {
      for (let i = 0; i < 2_000; i++) {
        conn.push("chunk", chunk);
        const p = a.stats().pushes;
        if (p.dropped > 0 || p.closedSlow > 0) return i;
        if (i % 16 === 15) await new Promise((r) => setImmediate(r));
      }
      return -1;
    });
  });
  const c = await ProtoClient.open(url);
  (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  c.send("flood", null);
  return { server, app, c };
}

test("backpressure \"drop\": pushes to a client over the limit are skipped and counted", async (t) => {
  const { server, app, c } = await flood("drop");
  t.after(() => server.stop());
  const deadline = Date.now() + 20_000;
  while (app.stats().pushes.dropped === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  assert.ok(app.stats().pushes.dropped > 0);
  assert.equal(app.stats().pushes.closedSlow, 0);
  c.ws.terminate();
});

test("backpressure \"close\": a client over the limit is closed with 4000 and counted", async (t) => {
  const { server, app, c } = await flood("close");
  t.after(() => server.stop());
  const deadline = Date.now() + 20_000;
  while (app.stats().pushes.closedSlow === 0 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  assert.equal(app.stats().pushes.closedSlow, 1);
  (c.ws as unknown as { _socket: { resume(): void } })._socket.resume();
  assert.equal((await c.waitClosed(20_000)).code, 4000);
});
