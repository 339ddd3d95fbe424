import { test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { installShutdown } from "../../../src/runtime/shutdown.ts";

/** Stands in for `process`: the test emits the signals. */
class FakeSignals extends EventEmitter {}

function setup(stop: (reason: string) => Promise<void>) {
  const proc = new FakeSignals();
  const codes: number[] = [];
  let exited: (code: number) => void = () => {};
  const exitedOnce = new Promise<number>((r) => { exited = r; });
  const handle = installShutdown({ stop, process: proc, exit: (c) => { codes.push(c); exited(c); } });
  return { proc, codes, exitedOnce, handle };
}

test("SIGTERM runs the graceful stop and exits 0", async () => {
  const reasons: string[] = [];
  const { proc, exitedOnce } = setup(async (r) => { reasons.push(r); });
  proc.emit("SIGTERM");
  assert.equal(await exitedOnce, 0);
  assert.deepEqual(reasons, ["SIGTERM"]);
});

test("SIGINT works the same way", async () => {
  const { proc, exitedOnce } = setup(async () => {});
  proc.emit("SIGINT");
  assert.equal(await exitedOnce, 0);
});

test("a stop that throws exits 1, with no unhandled rejection", async () => {
  const { proc, exitedOnce } = setup(async () => { throw new Error("stuck"); });
  proc.emit("SIGTERM");
  assert.equal(await exitedOnce, 1);
});

test("a second signal forces an exit at once with 128 + signal number", async () => {
  let finish: () => void = () => {};
  const { proc, codes, exitedOnce } = setup(() => new Promise<void>((r) => { finish = r; }));
  proc.emit("SIGINT");
  proc.emit("SIGINT");
  assert.equal(await exitedOnce, 130);
  proc.emit("SIGTERM");
  assert.deepEqual(codes, [130, 143]);
  finish();
});

test("trigger() shares the path; a signal during it forces; uninstall removes listeners", async () => {
  const { proc, handle, codes } = setup(async () => {});
  assert.equal(await handle.trigger("control"), 0);
  assert.equal(await handle.trigger("again"), 0); // same promise, one exit
  assert.deepEqual(codes, [0]);
  handle.uninstall();
  assert.equal(proc.listenerCount("SIGTERM") + proc.listenerCount("SIGINT"), 0);
});
