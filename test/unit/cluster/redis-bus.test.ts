/**
 * What only the Redis bus has: Redis-side subscriptions, prefixes, foreign frames, and an
 * unreachable Redis (a port nobody listens on).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { once } from "node:events";
import { Redis } from "ioredis";
import { createLogger } from "../../../src/log.ts";
import { OptionError } from "../../../src/errors.ts";
import { createBus, RedisBus, type BusStatus } from "../../../src/cluster/index.ts";
import { Inbox } from "../../helpers/inbox.ts";
import { redisForFile } from "../../helpers/redis.ts";

const logger = createLogger({ level: "silent" });
let admin: Redis | undefined;
const shared = redisForFile({
  started: (redis) => void (admin = new Redis(redis.url)),
  stopping: async () => void (await admin?.quit()),
});
const skip = shared.skip;

async function numsub(channel: string): Promise<number> {
  const reply = (await admin!.call("PUBSUB", "NUMSUB", channel)) as [string, number];
  return Number(reply[1]);
}

test("a Redis subscription exists while the channel has local subscribers, and only then", { skip }, async () => {
  const bus = createBus({ redis: shared.redis.url, prefix: "ns:" }, { logger });
  try {
    const off1 = bus.subscribe("ch", () => {});
    const off2 = bus.subscribe("ch", () => {});
    await bus.ready();
    assert.equal(await numsub("ns:ch"), 1, "one Redis subscription for two local handlers");
    off1();
    await bus.ready();
    assert.equal(await numsub("ns:ch"), 1);
    off2();
    await bus.ready();
    assert.equal(await numsub("ns:ch"), 0);
  } finally {
    await bus.close();
  }
});

test("prefixes keep clusters apart on one Redis", { skip }, async () => {
  const [a, b] = [createBus({ redis: shared.redis.url, prefix: "one:" }, { logger }), createBus({ redis: shared.redis.url, prefix: "two:" }, { logger })];
  const c = createBus({ redis: shared.redis.url, prefix: "one:" }, { logger });
  try {
    const atB = new Inbox<unknown>();
    const atC = new Inbox<unknown>();
    b.subscribe("ch", atB.push);
    c.subscribe("ch", atC.push);
    await Promise.all([a.ready(), b.ready(), c.ready()]);
    a.publish("ch", "for one");
    assert.equal(await atC.next(), "for one");
    b.publish("ch", "fence"); // b hears nothing from "one:", c nothing from "two:"
    assert.equal(atB.items.length, 0);
  } finally {
    await Promise.all([a.close(), b.close(), c.close()]);
  }
});

test("foreign or malformed messages on our channels are ignored", { skip }, async () => {
  const bus = createBus({ redis: shared.redis.url, prefix: "raw:" }, { logger });
  try {
    const got = new Inbox<unknown>();
    bus.subscribe("ch", got.push);
    await bus.ready();
    await admin!.publish("raw:ch", "garbage without header");
    await admin!.publish("raw:ch", 'jother\n{"bad json');
    await admin!.publish("raw:ch", 'jother\n{"ok":true}');
    assert.deepEqual(await got.next(), { ok: true });
    assert.equal(got.items.length, 1);
  } finally {
    await bus.close();
  }
});

test("unreachable Redis: status down, publishes dropped and counted, local delivery works, close does not hang", async () => {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as { port: number }).port;
  server.close(); // now nobody listens there
  await once(server, "close");
  const bus = createBus({ redis: `redis://127.0.0.1:${port}`, redisReconnectMaxMs: 50 }, { logger });
  const statuses: BusStatus[] = [];
  bus.onStatus((s) => statuses.push(s));
  const self = new Inbox<unknown>();
  bus.subscribe("ch", self.push, { includeSelf: true });
  bus.publish("ch", "local");
  assert.equal(await self.next(), "local");
  assert.equal(bus.status, "down");
  assert.equal(bus.stats.dropped, 1);
  await assert.rejects(bus.ready({ signal: AbortSignal.timeout(200) }), /TimeoutError|aborted|timeout/i);
  await bus.close();
  assert.deepEqual(statuses, []);
});

test("bad URLs are refused up front", () => {
  assert.throws(() => new RedisBus({ url: "localhost:6379", logger }), OptionError);
  assert.throws(() => new RedisBus({ url: "", logger }), OptionError);
});
