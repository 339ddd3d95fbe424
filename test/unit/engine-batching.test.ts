import { test } from "node:test";
import assert from "node:assert/strict";
import { SharedReads, WriteBatch } from "../../src/engine/batching.ts";
import { deferred } from "../helpers/until.ts";

test("SharedReads: callers of one tick share one read; a caller during a read in flight gets the next one", async () => {
  const started: number[] = [];
  const gates: Array<ReturnType<typeof deferred<string>>> = [];
  const reads = new SharedReads<string>(async (key) => {
    started.push(started.length);
    const gate = deferred<string>();
    gates.push(gate);
    return `${key}#${await gate.promise}`;
  });
  const a = reads.get("r");
  const b = reads.get("r");
  assert.equal(a, b, "same tick, same read");
  await Promise.resolve(); await Promise.resolve(); await Promise.resolve();
  assert.equal(started.length, 1);
  // In flight now: these must not get the running read (it began before they asked).
  const c = reads.get("r");
  const d = reads.get("r");
  assert.equal(c, d, "queued callers share the next read");
  assert.notEqual(c, a);
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(started.length, 1, "the next read is not sent while one is in flight");
  gates[0]!.resolve("1");
  assert.equal(await a, "r#1");
  await until(() => started.length === 2);
  gates[1]!.resolve("2");
  assert.equal(await c, "r#2");
  assert.equal(started.length, 2, "four callers, two reads");
  // Idle again: a new caller starts a new read; other keys are independent.
  const e = reads.get("r");
  const f = reads.get("other");
  await until(() => started.length === 4);
  gates[2]!.resolve("3");
  gates[3]!.resolve("4");
  assert.deepEqual([await e, await f], ["r#3", "other#4"]);
});

test("SharedReads: a failed read rejects its callers only; the next read runs", async () => {
  let n = 0;
  const reads = new SharedReads<number>(async () => {
    n += 1;
    if (n === 1) throw new Error("store away");
    return n;
  });
  const first = reads.get("r");
  await assert.rejects(first, /store away/);
  assert.equal(await reads.get("r"), 2);
});

test("WriteBatch: adds of one tick go in one flush, in order; adds during a flush go in the next; a failure rejects its batch only", async () => {
  const flushes: number[][] = [];
  const gate = deferred<void>();
  const batch = new WriteBatch<number>(async (items) => {
    flushes.push(items);
    if (flushes.length === 1) await gate.promise;
    if (items.includes(4)) throw new Error("exec failed");
  });
  const first = [batch.add(1), batch.add(2), batch.add(3)];
  await until(() => flushes.length === 1);
  const second = [batch.add(4), batch.add(5)];
  gate.resolve();
  const [ok, failed] = await Promise.all([Promise.allSettled(first), Promise.allSettled(second)]);
  assert.deepEqual(flushes, [[1, 2, 3], [4, 5]]);
  assert.deepEqual(ok.map((r) => r.status), ["fulfilled", "fulfilled", "fulfilled"]);
  assert.deepEqual(failed.map((r) => r.status), ["rejected", "rejected"]);
  await batch.add(6);
  assert.deepEqual(flushes.at(-1), [6]);
});

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !check(); i++) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(check(), "condition not reached within 1000 turns of the event loop");
}
