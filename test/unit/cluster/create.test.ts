import { test } from "node:test";
import assert from "node:assert/strict";
import { createLogger } from "../../../src/log.ts";
import { OptionError } from "../../../src/errors.ts";
import { createBus, createPresence, MemoryBus, MemoryBusHub } from "../../../src/cluster/index.ts";

const logger = createLogger({ level: "silent" });

test("no config: an in-memory one-node bus that works with nothing installed", async () => {
  const bus = createBus(undefined, { logger });
  assert.ok(bus instanceof MemoryBus);
  assert.equal(bus.status, "up");
  assert.match(bus.nodeId, /-\d+-[0-9a-f]{6}$/);
  const got: unknown[] = [];
  bus.subscribe("x", (p) => got.push(p));
  bus.subscribe("x", (p) => got.push(["self", p]), { includeSelf: true });
  bus.publish("x", 1);
  await bus.ready();
  await Promise.resolve();
  assert.deepEqual(got, [["self", 1]], "alone, only includeSelf subscribers hear anything");
  await bus.close();
});

test("bad cluster config is refused with the option named", () => {
  const bad: [unknown, RegExp][] = [
    [{ redis: 6379 }, /cluster\.redis/],
    [{ redis: "http://x" }, /cluster\.redis/],
    [{ redis: "redis://127.0.0.1:1", prefix: 3 }, /cluster\.prefix/],
    [{ redsi: "redis://x" }, /cluster\.redsi.*unknown/],
    [{ presenceTtlMs: -1 }, /presenceTtlMs/],
    [{ busMaxPayloadBytes: "big" }, /busMaxPayloadBytes/],
    [{ nodeId: "a\nb" }, /nodeId/],
    [null, /cluster/],
  ];
  for (const [config, message] of bad) {
    assert.throws(() => createBus(config as never, { logger }), (err: unknown) => err instanceof OptionError && message.test(err.message), JSON.stringify(config));
  }
});

test("two buses with one node id on one hub are refused", async () => {
  const hub = new MemoryBusHub();
  const a = createBus({ nodeId: "same" }, { hub, logger });
  assert.throws(() => createBus({ nodeId: "same" }, { hub, logger }), /already a node/);
  await a.close();
  const b = createBus({ nodeId: "same" }, { hub, logger }); // free again after close
  await b.close();
});

test("presence timing is checked: heartbeat must be below the ttl", () => {
  const bus = createBus({}, { logger });
  assert.throws(() => createPresence(bus, {}, { heartbeatMs: 1_000, ttlMs: 500 }), /presenceTtlMs/);
  assert.throws(() => createPresence(bus, {}, { heartbeatMs: 1 }), /presenceHeartbeatMs/);
  assert.throws(() => createPresence({ nodeId: "x" } as never), /createPresence needs a bus/);
});

test("status listeners can be removed; a throwing handler is logged, not thrown", async () => {
  const bus = createBus({}, { logger });
  const off = bus.onStatus(() => {});
  off();
  bus.subscribe("x", () => {
    throw new Error("boom");
  }, { includeSelf: true });
  bus.publish("x", 1);
  await Promise.resolve();
  assert.equal(bus.stats.delivered, 1);
  await bus.close();
});
