/**
 * The router without sockets: property-based fuzz (fast-check) — whatever one frame holds,
 * handle() never throws, answers at most once, and one bad message never closes the connection.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { z } from "zod";
import { createLogger } from "../../../src/log.ts";
import { Router } from "../../../src/app/router.ts";
import { AppConn } from "../../../src/app/app-connection.ts";
import { PushGate, newPushCounters } from "../../../src/app/push.ts";
import { Rooms } from "../../../src/app/rooms.ts";
import { ClusterRooms } from "../../../src/app/cluster-rooms.ts";
import { ClusterService } from "../../../src/cluster/index.ts";
import { BadMessageBudget } from "../../../src/app/bad-messages.ts";
import type { TaskDefinition } from "../../../src/app/task.ts";
import type { Connection } from "../../../src/endpoint/connection.ts";

function fakeConnection() {
  const sent: string[] = [];
  const closes: number[] = [];
  const raw = {
    id: "t-1", bufferedAmount: 0, isOpen: true,
    send: (text: string) => (sent.push(text), true),
    sendPrepared: (m: { data: string }) => (sent.push(String(m.data)), true),
    close: (code: number) => void closes.push(code),
  };
  return { raw: raw as unknown as Connection<unknown>, sent, closes };
}

function setup(maxBadMessages = 10) {
  const tasks = new Map<string, TaskDefinition<any, any, any>>([
    ["echo", { name: "echo", handler: ({ data }) => data }],
    ["typed", { name: "typed", schema: z.object({ n: z.number() }), handler: ({ data }) => data.n }],
    ["boom", { name: "boom", handler: () => { throw new Error("boom"); } }],
  ]);
  const log = createLogger({ level: "silent" });
  const cluster = new ClusterRooms("/t", new ClusterService({}, { logger: log, countConnections: () => 0 }), { room: () => undefined, all: () => undefined }, log);
  const rooms = new Rooms(() => 0, () => undefined, false, cluster);
  const router = new Router(tasks, rooms, { taskTimeoutMs: 1000, maxInFlightTasks: 8 }, log);
  const fake = fakeConnection();
  const gate = new PushGate("drop", 1024, newPushCounters());
  const conn = new AppConn(fake.raw, { id: "u", name: "u" }, { gate, budgetLimits: { max: maxBadMessages, windowMs: 10_000 }, streams: false });
  return { router, conn, ...fake };
}

/** Let the handler's promise chain settle. */
const settle = () => new Promise((r) => setImmediate(r));

const frames = fc.oneof(
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.record({
    task: fc.oneof(fc.constantFrom("echo", "typed", "boom", "nope", "", "a b"), fc.jsonValue()),
    data: fc.jsonValue(),
    id: fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.string(), fc.constant(null)),
    extra: fc.jsonValue(),
  }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
);

test("fuzz: one frame never throws, never closes, and gets at most one answer", async () => {
  await fc.assert(fc.asyncProperty(frames, fc.boolean(), async (frame, binary) => {
    const { router, conn, sent, closes } = setup();
    assert.doesNotThrow(() => router.handle(conn, binary ? Buffer.from(frame) : frame, binary));
    await settle();
    assert.deepEqual(closes, []);
    assert.ok(sent.length <= 1, `answered ${sent.length} times`);
    for (const text of sent) {
      const reply = JSON.parse(text);
      if (reply.error) assert.match(reply.error.code, /^(bad_request|unknown_task|internal)$/);
    }
  }), { numRuns: 1500 });
});

test("fuzz: a stream of frames closes with 1008 exactly when the bad ones pass the budget", async () => {
  await fc.assert(fc.asyncProperty(fc.array(frames, { maxLength: 30 }), async (list) => {
    const { router, conn, closes } = setup(5);
    for (const frame of list) router.handle(conn, frame, false);
    await settle();
    // The fake connection stays open, so every bad frame past the budget asks for a close.
    assert.equal(closes.length, Math.max(0, router.stats.badMessages - 5));
    assert.ok(closes.every((code) => code === 1008));
  }), { numRuns: 300 });
});

test("bad-message budget: a sliding window", () => {
  let now = 0;
  const budget = new BadMessageBudget(2, 100, () => now);
  assert.equal(budget.spend(), false);
  assert.equal(budget.spend(), false);
  now = 150; // both fell out of the window
  assert.equal(budget.spend(), false);
  assert.equal(budget.spend(), false);
  assert.equal(budget.spend(), true);
});
