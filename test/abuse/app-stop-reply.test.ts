/**
 * Exactly one reply per call, also at a stop (issue 14, defect 6): a task still running when a
 * graceful stop stops waiting gets an `unavailable` error reply while its connection is still
 * open — before the 1001 close — and a late settle of that task sends nothing more.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { ProtoClient, startApp, type Frame } from "../helpers/app-client.ts";
import { deferred, within } from "../helpers/until.ts";

const WAIT = 10_000;

type Seen = { kind: "frame"; frame: Frame } | { kind: "close"; code: number };

/** Everything the client sees, in order: frames and the close. */
function record(client: ProtoClient): Seen[] {
  const seen: Seen[] = [];
  client.ws.on("message", (data: Buffer) => seen.push({ kind: "frame", frame: JSON.parse(data.toString()) }));
  client.ws.on("close", (code: number) => seen.push({ kind: "close", code }));
  return seen;
}

test("a task cut off at the stop deadline gets `unavailable` before the 1001 close, exactly once", async () => {
  const started = deferred();
  const { server, url } = await startApp({}, (app) => {
    // Ignores its signal and never settles: only the stop deadline ends the wait for it.
    app.task("stuck", () => {
      started.resolve();
      return new Promise(() => undefined);
    });
  });
  const c = await ProtoClient.open(url);
  const seen = record(c);
  c.sendRaw(JSON.stringify({ task: "stuck", data: null, id: 1 }));
  await within(started.promise, WAIT, "the task to start");
  await within(server.stop({ timeoutMs: 50 }), WAIT, "the stop");
  assert.equal((await c.waitClosed(WAIT)).code, 1001);

  const replies = seen.flatMap((s, index) => (s.kind === "frame" && s.frame.id === 1 ? [{ index, frame: s.frame }] : []));
  assert.equal(replies.length, 1, `exactly one reply for the call, got ${JSON.stringify(replies)}`);
  assert.equal(replies[0]!.frame.error?.code, "unavailable");
  const closeIndex = seen.findIndex((s) => s.kind === "close");
  assert.ok(replies[0]!.index < closeIndex, "the error reply arrives before the close");
  assert.deepEqual(seen[closeIndex], { kind: "close", code: 1001 });
});

test("app.stop() answers every running call at once; a late settle sends no second reply", async (t) => {
  const started = deferred();
  let running = 0;
  const release = deferred<string>();
  const { server, app, url } = await startApp({}, (a) => {
    a.task("late", () => {
      if (++running === 3) started.resolve();
      return release.promise; // settles only after the stop has answered the call
    });
    a.task("echo", ({ data }) => data);
  });
  t.after(() => server.stop({ timeoutMs: 100 }));
  const c = await ProtoClient.open(url);
  c.sendRaw(JSON.stringify({ task: "late", data: null, id: 5 }));
  c.sendRaw(JSON.stringify({ task: "late", data: null, id: 6 }));
  c.send("late", null); // fire-and-forget: aborted, never answered
  await within(started.promise, WAIT, "the three calls to start");
  app.stop(); // what server.stop() calls once it stops waiting for tasks
  const answered = [await c.next((f) => f.id === 5, WAIT), await c.next((f) => f.id === 6, WAIT)];
  for (const reply of answered) assert.equal(reply.error?.code, "unavailable");
  assert.equal(app.stats().failed.unavailable, 3, "two calls and the send (stats count requests, answered or not)");

  // The task settles now, on an open connection. Its (suppressed) reply would be written in
  // this tick's microtasks, so it would arrive before the echo reply that follows it.
  release.resolve("too late");
  assert.equal((await c.call("echo", "after")).data, "after");
  assert.deepEqual(c.frames.filter((f) => f.id === 5 || f.id === 6), [], "no second reply");
  await c.close();
});
