import { test } from "node:test";
import assert from "node:assert/strict";
import { covers, sliceHistory, type RoomLog } from "../../../src/engine/history.ts";
import { decodeMessage } from "../../../src/engine/redis-engine.ts";
import { resolveEngineOptions } from "../../../src/engine/options.ts";
import { OptionError } from "../../../src/errors.ts";
import { Buffer } from "node:buffer";

const log: RoomLog = {
  epoch: "e", offset: 9,
  pushes: [5, 6, 7, 8, 9].map((offset) => ({ room: "r", offset, epoch: "e", payload: String(offset) })),
};

test("covers: same epoch, and the history holds the push right after the position", () => {
  assert.equal(covers(log, { offset: 4, epoch: "e" }), true);
  assert.equal(covers(log, { offset: 3, epoch: "e" }), false, "push 4 is gone");
  assert.equal(covers(log, { offset: 9, epoch: "e" }), true, "nothing missed");
  assert.equal(covers(log, { offset: 10, epoch: "e" }), false, "from the future");
  assert.equal(covers(log, { offset: 4, epoch: "x" }), false, "another epoch");
  assert.equal(covers({ ...log, pushes: [] }, { offset: 8, epoch: "e" }), false, "all expired");
  assert.equal(covers(log, { offset: -1, epoch: "e" }), false);
});

test("sliceHistory: the newest limit without since; the oldest limit after since", () => {
  assert.deepEqual(sliceHistory(log, { limit: 2 }).pushes.map((p) => p.offset), [8, 9]);
  assert.deepEqual(sliceHistory(log, { limit: 0 }).pushes, []);
  assert.deepEqual(sliceHistory(log, { since: { offset: 5, epoch: "e" }, limit: 2 }).pushes.map((p) => p.offset), [6, 7]);
  assert.equal(sliceHistory(log, { since: { offset: 1, epoch: "e" }, limit: 2 }).recovered, false);
});

test("decodeMessage reads offset, epoch and a byte-length except id (UTF-8)", () => {
  const except = "é-1";
  const frame = Buffer.from(`12:ab:${Buffer.byteLength(except)}:${except}{"x":"ü"}`);
  assert.deepEqual(decodeMessage("r", frame), { room: "r", offset: 12, epoch: "ab", payload: '{"x":"ü"}', except });
  assert.deepEqual(decodeMessage("r", Buffer.from("3:ab:0:hi")), { room: "r", offset: 3, epoch: "ab", payload: "hi" });
  assert.ok(decodeMessage("r", Buffer.from("garbage")) instanceof Error);
  assert.ok(decodeMessage("r", Buffer.from("1:ab:99:x")) instanceof Error);
});

test("options: bad values are refused by name; forRoom overrides per room", () => {
  assert.throws(() => resolveEngineOptions({ history: { maxCount: -1 } }), (err: unknown) => err instanceof OptionError && /history.maxCount/.test(err.message));
  const options = resolveEngineOptions({ history: { maxCount: 10, forRoom: (room) => (room === "big" ? { maxCount: 1000 } : undefined) } });
  assert.equal(options.history("big").maxCount, 1000);
  assert.equal(options.history("small").maxCount, 10);
});
