/**
 * What only the Redis presence store does: rewrite keys that vanished while connected (a node
 * stalled past its TTL, or someone deleted them), and ignore foreign data under its prefix.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { createLogger } from "../../../src/log.ts";
import { createBus, createPresence } from "../../../src/cluster/index.ts";
import { redisForFile } from "../../helpers/redis.ts";
import { eventually } from "../../helpers/until.ts";

const logger = createLogger({ level: "silent" });
let admin: Redis | undefined;
const shared = redisForFile({
  started: (redis) => void (admin = new Redis(redis.url)),
  stopping: async () => void (await admin?.quit()),
});
const skip = shared.skip;

/** Polled conditions fail after 5 s; 20 ms is a poll interval. */
const DEADLINE_MS = 5_000;
const POLL_MS = 20;

test("keys that vanish while connected are rewritten by the next heartbeat", { skip }, async () => {
  const [a, b] = [createBus({ redis: shared.redis.url, prefix: "hb:", nodeId: "a" }, { logger }), createBus({ redis: shared.redis.url, prefix: "hb:", nodeId: "b" }, { logger })];
  await Promise.all([a.ready(), b.ready()]);
  const [pa, pb] = [createPresence(a, {}, { heartbeatMs: 50, ttlMs: 10_000 }), createPresence(b, {}, { heartbeatMs: 50, ttlMs: 10_000 })];
  try {
    await pa.join("lobby", { connId: "a1" });
    const keys = await admin!.keys("hb:presence:*");
    assert.ok(keys.length >= 3, keys.join(","));
    await admin!.del(...keys);
    assert.deepEqual(await pb.members("lobby"), []);
    await eventually("a's member is back", async () => (await pb.members("lobby")).some((m) => m.connId === "a1"), DEADLINE_MS, POLL_MS);
    await eventually("a is back in nodes()", async () => (await pb.nodes()).some((n) => n.nodeId === "a"), DEADLINE_MS, POLL_MS);
  } finally {
    await Promise.all([pa.close(), pb.close()]);
    await Promise.all([a.close(), b.close()]);
  }
});

test("foreign data under the prefix is skipped, not thrown", { skip }, async () => {
  const bus = createBus({ redis: shared.redis.url, prefix: "junk:", nodeId: "a" }, { logger });
  await bus.ready();
  const presence = createPresence(bus, {}, { heartbeatMs: 50, ttlMs: 10_000 });
  try {
    await admin!.sadd("junk:presence:r:lobby", "ghost");
    await admin!.hset("junk:presence:m:5:ghost:lobby", "g1", "{not json", "g2", '{"connId":"g2"}');
    await admin!.zadd("junk:presence:nodes", Date.now(), "ghost");
    await admin!.set("junk:presence:n:ghost", "not json");
    assert.deepEqual((await presence.members("lobby")).map((m) => `${m.node}/${m.connId}`), ["ghost/g2"]);
    assert.deepEqual((await presence.nodes()).map((n) => n.nodeId), ["a"]);
  } finally {
    await presence.close();
    await bus.close();
  }
});
