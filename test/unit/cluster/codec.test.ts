import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { checkChannel, checkNodeId, encodePayload, fromWire, toWire } from "../../../src/cluster/codec.ts";
import { backoff } from "../../../src/cluster/redis-bus.ts";
import { OptionError } from "../../../src/errors.ts";

test("a string payload goes on the wire as is (no JSON quoting)", () => {
  const frame = toWire("n1", encodePayload('{"already":"framed"}'));
  assert.equal(frame, 'sn1\n{"already":"framed"}');
});

test("round trip of every payload kind through the wire frame", () => {
  for (const payload of [{ a: [1, null] }, "text\nwith newline", Buffer.from([10, 0, 255]), 7, null]) {
    const wire = toWire("node:x", encodePayload(payload));
    const frame = fromWire(Buffer.isBuffer(wire) ? wire : Buffer.from(wire));
    assert.ok(!(frame instanceof Error));
    assert.equal(frame.from, "node:x");
    assert.deepEqual(frame.payload, payload);
  }
});

test("malformed frames give an Error, never a throw", () => {
  for (const bad of ["", "no newline", "\n", "xnode\nbody", 'jnode\n{"broken"', "s\nbody"]) {
    assert.ok(fromWire(Buffer.from(bad)) instanceof Error, JSON.stringify(bad));
  }
});

test("node ids and channels are checked", () => {
  for (const bad of ["", "a\nb", "x".repeat(129), 5, undefined]) assert.throws(() => checkNodeId(bad), OptionError);
  assert.equal(checkNodeId("host-1-abc"), "host-1-abc");
  assert.throws(() => checkChannel("abc", 2), /busMaxChannelLength/);
  assert.equal(checkChannel("room:42"), "room:42");
});

test("reconnect backoff doubles from 50 ms up to the maximum, with jitter below", () => {
  for (let attempt = 1; attempt < 40; attempt++) {
    const nominal = Math.min(50 * 2 ** (attempt - 1), 1_000);
    const delay = backoff(attempt, 1_000);
    assert.ok(delay <= nominal && delay >= nominal * 0.8 - 1, `attempt ${attempt}: ${delay}`);
  }
});
