import { test } from "node:test";
import assert from "node:assert/strict";
import { anonymousSession, findToken, type SessionRequest } from "../../../src/app/sessions.ts";
import { PushGate, newPushCounters } from "../../../src/app/push.ts";

const req = (query: string, headers: Record<string, string> = {}): SessionRequest => ({ path: "/", query: new URLSearchParams(query), headers });

test("findToken: query first, then the session cookie, then Authorization: Bearer", () => {
  assert.equal(findToken(req("session=q", { cookie: "session=c", authorization: "Bearer h" })), "q");
  assert.equal(findToken(req("", { cookie: "a=1; session=c%2Bd; b=2", authorization: "Bearer h" })), "c+d");
  assert.equal(findToken(req("", { cookie: "session=%E0%A4%A", authorization: "Bearer h" })), "%E0%A4%A");
  assert.equal(findToken(req("", { authorization: "bearer h.i.j" })), "h.i.j");
  assert.equal(findToken(req("", { authorization: "Basic abc" })), undefined);
  assert.equal(findToken(req("")), undefined);
});

test("anonymous sessions count per session object", () => {
  const a = anonymousSession();
  const b = anonymousSession("guest");
  assert.deepEqual(a(req("")), { id: "anon-1", name: "anon-1" });
  assert.deepEqual(a(req("")), { id: "anon-2", name: "anon-2" });
  assert.deepEqual(b(req("")), { id: "guest-1", name: "guest-1" });
});

test("push gate: under the limit passes; over it drops or closes with 4000, counted", () => {
  const closes: number[] = [];
  const conn = (buffered: number) => ({ id: "c", bufferedAmount: buffered, send: () => true, close: (code?: number) => void closes.push(code!) });
  const drop = new PushGate("drop", 10, newPushCounters());
  assert.equal(drop.admit(conn(10)), true);
  assert.equal(drop.admit(conn(11)), false);
  assert.deepEqual(drop.counters, { sent: 0, dropped: 1, closedSlow: 0 });
  const close = new PushGate("close", 10, newPushCounters());
  assert.equal(close.admit(conn(11)), false);
  assert.deepEqual(closes, [4000]);
  assert.equal(close.counters.closedSlow, 1);
  assert.throws(() => new PushGate("maybe" as "drop", 1, newPushCounters()), /pushPolicy/);
});

test("app options: unknown keys and bad limits are refused with the option's name", async () => {
  const { createServer } = await import("../../../src/index.ts");
  const server = createServer({ port: 0, logger: { level: "silent" } });
  assert.throws(() => server.app("/a", { presense: true } as never), /option "presense"/);
  assert.throws(() => server.app("/b", { taskTimeoutMs: 0 }), /option "taskTimeoutMs"/);
  assert.throws(() => server.app("/c", { pushPolicy: "maybe" as never }), /option "pushPolicy"/);
  const app = server.app("/d");
  assert.throws(() => app.task("room.join", () => 1), /reserved/);
  app.task("x", () => 1);
  assert.throws(() => app.task("x", () => 2), /already registered/);
  assert.throws(() => app.task("bad name", () => 2), /bad task name/);
  assert.throws(() => app.task("y", {}), /handler or a worker/);
});
