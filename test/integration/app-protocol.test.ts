/**
 * The app protocol end to end with hand-written frames: every error code, bad messages
 * answered and budgeted, replies and pushes.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { z } from "zod";
import { TaskError } from "../../src/index.ts";
import { ProtoClient, startApp } from "../helpers/app-client.ts";

test("welcome, reply, fire-and-forget send, push to the caller", async (t) => {
  const seen: unknown[] = [];
  const { server, url } = await startApp({}, (app) => {
    app.task("add", ({ data }: { data: { a: number; b: number } }) => data.a + data.b);
    app.task("note", ({ data, push }) => {
      seen.push(data);
      push("noted", data);
    });
  });
  t.after(() => server.stop());
  const c = await ProtoClient.open(url);
  assert.equal(c.ws.protocol, "switchboard.v1");
  assert.equal(c.welcome.data.protocol, 1);
  assert.match(c.welcome.data.connection, /^app-\d+$/);
  assert.match(c.welcome.data.user.id, /^anon-\d+$/);
  assert.deepEqual(await c.call("add", { a: 2, b: 3 }), { id: 1, data: 5 });
  c.send("note", "hello");
  assert.deepEqual(await c.next((f) => f.task === "noted"), { task: "noted", data: "hello" });
  assert.deepEqual(seen, ["hello"]);
  await c.close();
});

test("every error code is reached", async (t) => {
  let release!: () => void;
  const blocked = new Promise<void>((r) => (release = r));
  const { server, url } = await startApp({ maxInFlightTasks: 1 }, (app) => {
    app.task("typed", { schema: z.object({ text: z.string(), n: z.number().int() }), handler: () => "ok" });
    app.task("guarded", { guard: () => false, handler: () => "never" });
    app.task("slow", { timeoutMs: 30, handler: ({ signal }) => new Promise((r) => signal.addEventListener("abort", () => r("late"))) });
    app.task("throws", () => {
      throw new Error("secret detail");
    });
    app.task("block", () => blocked);
    app.task("mine", () => {
      throw new TaskError("forbidden", "not yours");
    });
  });
  t.after(() => server.stop());
  const c = await ProtoClient.open(url);

  const bad = await c.call("typed", { text: "x", n: "one" });
  assert.equal(bad.error.code, "bad_request");
  assert.match(bad.error.message, /^data\.n: /);
  assert.equal((await c.call("nope", null)).error.code, "unknown_task");
  assert.equal((await c.call("guarded", null)).error.code, "forbidden");
  assert.deepEqual((await c.call("mine", null)).error, { code: "forbidden", message: "not yours" });
  assert.equal((await c.call("slow", null)).error.code, "timeout");
  const internal = await c.call("throws", null);
  assert.deepEqual(internal.error, { code: "internal", message: "internal error" });
  assert.doesNotMatch(JSON.stringify(internal), /secret detail/);
  const first = c.call("block", null);
  const second = await c.call("block", null);
  assert.equal(second.error.code, "overloaded");
  release();
  assert.equal((await first).data, null);
  await c.close();
});

test("bad frames get bad_request (with the id when readable) and the connection stays open", async (t) => {
  const { server, url, app } = await startApp({}, (a) => a.task("ping", () => "pong"));
  t.after(() => server.stop());
  const c = await ProtoClient.open(url);
  const frames: Array<[string | Buffer, number | null]> = [
    ["{not json", null],
    ['{"id": 41, "task": "ping", ', 41],
    ["[1,2,3]", null],
    ['{"task": 5, "id": 42}', 42],
    ['{"task": "ping", "id": 43, "extra": true}', 43],
    ['{"id": 44, "data": 1}', 44],
    [Buffer.from([1, 2, 3]), null],
  ];
  for (const [frame, id] of frames) {
    c.sendRaw(frame);
    const reply = await c.next((f) => f.error !== undefined);
    assert.equal(reply.error.code, "bad_request", String(frame));
    assert.equal(reply.id, id, String(frame));
  }
  assert.deepEqual(await c.call("ping", null), { id: 1, data: "pong" });
  assert.equal(app.stats().badMessages, frames.length);
  await c.close();
});

test("more bad messages than the budget in the window closes with 1008", async (t) => {
  const { server, url, app } = await startApp({ maxBadMessages: 3 });
  t.after(() => server.stop());
  const c = await ProtoClient.open(url);
  for (let i = 0; i < 4; i++) c.sendRaw("nope");
  const closed = await c.waitClosed();
  assert.equal(closed.code, 1008);
  assert.equal(app.stats().closedForBadMessages, 1);
});

test("a client offering only other subprotocols is accepted with its own offer and closed at once with 4406", async (t) => {
  const { server, url } = await startApp();
  t.after(() => server.stop());
  const { refusedClose } = await import("./client-refusal-helpers.ts");
  assert.deepEqual(await refusedClose(url, ["chat.v9", "chat.v8"]), { code: 4406, reason: "subprotocol not supported; this server speaks switchboard.v1", protocol: "chat.v9", frames: 0 });
  const c = await ProtoClient.open(url, { protocols: [] });
  assert.equal(c.ws.protocol, "");
  await c.close();
});
