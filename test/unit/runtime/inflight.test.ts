import { test } from "node:test";
import assert from "node:assert/strict";
import { InFlight } from "../../../src/runtime/inflight.ts";
import { StateError } from "../../../src/errors.ts";
import { FakeTimers } from "../../helpers/fake-timers.ts";

test("drain waits for running work, then refuses new work", async () => {
  const work = new InFlight(new FakeTimers());
  let finish: (v: string) => void = () => {};
  const task = work.run(() => new Promise<string>((r) => { finish = r; }));
  assert.equal(work.size, 1);
  const draining = work.drain(10_000);
  assert.throws(() => work.run(async () => 1), StateError);
  finish("done");
  assert.equal(await task, "done");
  assert.deepEqual(await draining, { finished: 1, aborted: 0, abandoned: 0 });
});

test("at the deadline signals abort; work that ignores them is abandoned after the grace", async () => {
  const timers = new FakeTimers();
  const work = new InFlight(timers);
  const polite = work.run((signal) => new Promise<string>((r, j) => signal.addEventListener("abort", () => j(signal.reason))));
  void work.run(() => new Promise<void>(() => {})); // never ends
  const draining = work.drain(100, 50);
  await waitFor(() => timers.pending().includes(100));
  timers.fire(100);
  await assert.rejects(polite, /deadline reached/);
  await waitFor(() => timers.pending().includes(50));
  timers.fire(50);
  assert.deepEqual(await draining, { finished: 0, aborted: 1, abandoned: 1 });
});

test("a throwing task does not break the drain", async () => {
  const work = new InFlight(new FakeTimers());
  await assert.rejects(work.run(() => { throw new Error("x"); }), /x/);
  assert.deepEqual(await work.drain(10), { finished: 0, aborted: 0, abandoned: 0 });
});

async function waitFor(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 1_000 && !cond(); i++) await new Promise<void>((r) => setImmediate(r));
  if (!cond()) throw new Error("condition not reached");
}
