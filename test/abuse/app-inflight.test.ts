/**
 * Abuse of the in-flight table (issue 14, defect 5): the peer chooses request ids, so they
 * must not be what the server counts. A reused id is refused with `bad_request` and does not
 * run; `maxInFlightTasks` bounds every running call; disconnect aborts every one of them, so
 * a stop afterwards has nothing to wait for.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { TaskContext } from "../../src/index.ts";
import { ProtoClient, startApp, type Frame } from "../helpers/app-client.ts";
import { deferred, within } from "../helpers/until.ts";

const MAX_IN_FLIGHT = 8;
const SAME_ID_CALLS = 1_000;
const DISTINCT_CALLS = 100;
const WAIT = 10_000;

/** Collect `count` frames matching `match`, in arrival order (each wait bounded). */
async function collect(client: ProtoClient, count: number, match: (f: Frame) => boolean): Promise<Frame[]> {
  const got: Frame[] = [];
  for (let i = 0; i < count; i++) got.push(await client.next(match, WAIT));
  return got;
}

test("a reused request id does not lift maxInFlightTasks; disconnect aborts every held call; stop then does not wait", async (t) => {
  let started = 0;
  const abortReasons: unknown[] = [];
  let abortsExpected = Number.POSITIVE_INFINITY;
  const allAborted = deferred();
  // Held open for good: it never settles, it only counts the abort its signal reports.
  const hold = ({ signal }: TaskContext) =>
    new Promise<never>(() => {
      started++;
      signal.addEventListener("abort", () => {
        abortReasons.push(signal.reason);
        if (abortReasons.length >= abortsExpected) allAborted.resolve();
      }, { once: true });
    });
  const { server, url } = await startApp({ maxInFlightTasks: MAX_IN_FLIGHT }, (app) => {
    app.task("hold", hold);
    app.task("echo", ({ data }) => data);
  });
  t.after(() => server.stop({ timeoutMs: 100 }));

  const c = await ProtoClient.open(url);
  // 1. The same id, 1,000 times, while the first of them is held open.
  for (let i = 0; i < SAME_ID_CALLS; i++) c.sendRaw(JSON.stringify({ task: "hold", data: null, id: 7 }));
  const refused = await collect(c, SAME_ID_CALLS - 1, (f) => f.id === 7 && f.error !== undefined);
  for (const frame of refused) {
    assert.equal(frame.error.code, "bad_request");
    assert.match(frame.error.message, /already in flight/);
  }
  assert.equal(started, 1, "exactly one of the same-id calls ran");
  assert.deepEqual((await c.call("echo", "still here")).data, "still here");

  // 2. Distinct ids: the held call counts, so MAX - 1 more run and the rest are overloaded.
  const firstId = 1_000;
  for (let i = 0; i < DISTINCT_CALLS; i++) c.sendRaw(JSON.stringify({ task: "hold", data: null, id: firstId + i }));
  const overloaded = await collect(c, DISTINCT_CALLS - (MAX_IN_FLIGHT - 1), (f) => f.id >= firstId && f.error !== undefined);
  assert.ok(overloaded.every((f) => f.error.code === "overloaded"), JSON.stringify(overloaded.find((f) => f.error.code !== "overloaded")));
  assert.deepEqual(overloaded.map((f) => f.id), Array.from({ length: DISTINCT_CALLS - (MAX_IN_FLIGHT - 1) }, (_, i) => firstId + MAX_IN_FLIGHT - 1 + i));
  assert.equal(started, MAX_IN_FLIGHT, "exactly maxInFlightTasks calls run");

  // 3. Disconnect: every running call sees its signal fire, with reason "disconnected".
  abortsExpected = started;
  if (abortReasons.length >= abortsExpected) allAborted.resolve();
  c.ws.terminate();
  await within(allAborted.promise, WAIT, `${MAX_IN_FLIGHT} aborts (saw ${abortReasons.length})`);
  assert.equal(abortReasons.length, MAX_IN_FLIGHT);
  assert.ok(abortReasons.every((reason) => (reason as { code?: string }).code === "disconnected"));

  // The server still serves a new client normally.
  const fresh = await ProtoClient.open(url);
  assert.equal((await fresh.call("echo", 1)).data, 1);
  await fresh.close();

  // 4. Nothing is left in flight: a stop with a long deadline returns without waiting for it.
  await within(server.stop({ timeoutMs: 30_000 }), WAIT, "a stop with no call left in flight");
});

test("a reused id is free again once its call was answered", async (t) => {
  const release = deferred<string>();
  const { server, url } = await startApp({}, (app) => app.task("wait", () => release.promise));
  t.after(() => server.stop({ timeoutMs: 100 }));
  const c = await ProtoClient.open(url);
  c.sendRaw(JSON.stringify({ task: "wait", data: null, id: 3 }));
  c.sendRaw(JSON.stringify({ task: "wait", data: null, id: 3 }));
  const refused = await c.next((f) => f.id === 3, WAIT);
  assert.equal(refused.error.code, "bad_request");
  release.resolve("done");
  assert.equal((await c.next((f) => f.id === 3, WAIT)).data, "done");
  // Answered: the same id may be used again, and runs.
  c.sendRaw(JSON.stringify({ task: "wait", data: null, id: 3 }));
  assert.equal((await c.next((f) => f.id === 3, WAIT)).data, "done");
  await c.close();
});
