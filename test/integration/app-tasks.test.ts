/**
 * Task isolation: the AbortSignal fires on timeout, client disconnect and server stop; guards
 * fail closed; the worker-thread pool runs CPU work off the main thread and reports overload.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { workerPool, type TaskContext } from "../../src/index.ts";
import { ProtoClient, startApp } from "../helpers/app-client.ts";
import { deferred, within } from "../helpers/until.ts";

/** A task that waits for its signal and reports the abort reason. */
function abortable(started: () => void, aborted: (reason: unknown) => void) {
  return ({ signal }: TaskContext) =>
    new Promise((resolve) => {
      started();
      signal.addEventListener("abort", () => {
        aborted(signal.reason);
        resolve("aborted");
      });
    });
}

test("the signal fires on timeout with a TaskAbort reason", async (t) => {
  const reason = deferred<unknown>();
  const { server, url } = await startApp({ taskTimeoutMs: 20 }, (app) => app.task("wait", abortable(() => undefined, reason.resolve)));
  t.after(() => server.stop());
  const c = await ProtoClient.open(url);
  const reply = await c.call("wait", null);
  assert.equal(reply.error.code, "timeout");
  assert.equal((await within(reason.promise, 5000, "abort")) instanceof Error, true);
  await c.close();
});

test("the signal fires when the client disconnects", async (t) => {
  const started = deferred();
  const reason = deferred<any>();
  const { server, url } = await startApp({}, (app) => app.task("wait", abortable(started.resolve, reason.resolve)));
  t.after(() => server.stop());
  const c = await ProtoClient.open(url);
  c.send("wait", null);
  await within(started.promise, 5000, "task start");
  c.ws.terminate();
  const r = await within(reason.promise, 5000, "abort on disconnect");
  assert.equal(r.code, "disconnected");
});

test("a task still running at the stop deadline sees its signal fire", async () => {
  const started = deferred();
  const reason = deferred<any>();
  const { server, url } = await startApp({}, (app) => app.task("wait", abortable(started.resolve, reason.resolve)));
  const c = await ProtoClient.open(url);
  c.send("wait", null);
  await within(started.promise, 5000, "task start");
  const stopped = server.stop({ timeoutMs: 100 });
  const r = await within(reason.promise, 5000, "abort on stop");
  assert.equal(r.code, "stopped");
  assert.equal((await c.waitClosed()).code, 1001);
  await stopped;
});

test("a graceful stop lets running tasks finish: the reply arrives before the 1001; new calls are refused", async () => {
  const started = deferred();
  const release = deferred();
  const { server, url } = await startApp({}, (app) =>
    app.task("slow", async () => {
      started.resolve();
      await release.promise;
      return "finished";
    }),
  );
  const c = await ProtoClient.open(url);
  const reply = c.call("slow", null);
  await within(started.promise, 5000, "task start");
  const stopped = server.stop({ timeoutMs: 5000 });
  // While the stop waits for the task, the connection is open but takes no new work.
  assert.equal((await c.call("slow", null)).error.code, "overloaded");
  release.resolve();
  assert.equal((await reply).data, "finished");
  assert.equal((await c.waitClosed()).code, 1001);
  await stopped;
});

test("a guard that throws fails closed (forbidden); a guard may read user and data", async (t) => {
  const { server, url } = await startApp({}, (app) => {
    app.task("broken", { guard: () => { throw new Error("bug"); }, handler: () => "never" });
    app.task("mine", { guard: ({ data, user }) => data === user.id, handler: () => "yours" });
  });
  t.after(() => server.stop());
  const c = await ProtoClient.open(url);
  assert.equal((await c.call("broken", null)).error.code, "forbidden");
  assert.equal((await c.call("mine", "someone")).error.code, "forbidden");
  assert.equal((await c.call("mine", c.welcome.data.user.id)).data, "yours");
  await c.close();
});

test("a reply JSON cannot encode is internal; a handler returning undefined replies null", async (t) => {
  const { server, url } = await startApp({}, (app) => {
    app.task("bigint", () => 10n);
    app.task("nothing", () => undefined);
  });
  t.after(() => server.stop());
  const c = await ProtoClient.open(url);
  assert.equal((await c.call("bigint", null)).error.code, "internal");
  assert.deepEqual(await c.call("nothing", null), { id: 2, data: null });
  await c.close();
});

test("worker pool: CPU work runs on a thread, main thread keeps answering; full queue → overloaded", async (t) => {
  const pool = workerPool({ filename: new URL("../../examples/worker-pool/primes.worker.ts", import.meta.url), maxThreads: 1, minThreads: 1, maxQueue: 1 });
  const { server, url } = await startApp({}, (app) => {
    app.task("primes", { worker: pool, timeoutMs: 60_000 });
    app.task("ping", () => "pong");
  });
  t.after(async () => {
    await server.stop();
    await pool.close();
  });
  const c = await ProtoClient.open(url);
  assert.deepEqual((await c.call("primes", { limit: 100 })).data, 25);
  // One running, one queued: the third finds the queue full.
  const running = c.call("primes", { limit: 3_000_000 }, 60_000);
  const queued = c.call("primes", { limit: 10 }, 60_000);
  const refused = await c.call("primes", { limit: 10 });
  assert.equal(refused.error.code, "overloaded");
  assert.equal((await c.call("ping", null)).data, "pong");
  assert.equal((await running).data, 216816);
  assert.equal((await queued).data, 4);
  await c.close();
});

test("worker pool: a timeout cancels the worker call", async (t) => {
  const pool = workerPool({ filename: new URL("../../examples/worker-pool/primes.worker.ts", import.meta.url), maxThreads: 1 });
  const { server, url } = await startApp({}, (app) => {
    app.task("primes", { worker: pool, timeoutMs: 50 });
    app.task("primes.patient", { worker: pool, timeoutMs: 30_000 }); // a new thread has to start after the cancel
  });
  t.after(async () => {
    await server.stop();
    await pool.close();
  });
  const c = await ProtoClient.open(url);
  assert.equal((await c.call("primes", { limit: 50_000_000 })).error.code, "timeout");
  assert.equal((await c.call("primes.patient", { limit: 100 }, 30_000)).data, 25);
  await c.close();
});
