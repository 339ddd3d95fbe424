/**
 * Cluster bus throughput: node A publishes M messages on one channel, node B receives them.
 * In memory (two buses on one hub) and over Redis (two buses on one redis-server: REDIS_URL, or
 * a private one started here if redis-server is installed). Bounded in count and time.
 *   node --conditions=source --import tsx bench/cluster-bus.ts [messages=20000] [bytes=200] [window=500]
 * Prints one JSON line per case. Both nodes share this process: the CPU figure is of both.
 */
import { createLogger } from "../src/log.ts";
import { createBus, MemoryBusHub, type ClusterBus } from "../src/cluster/index.ts";
import { redisServerPath, startRedis, type RedisHandle } from "../test/helpers/redis.ts";

const messages = Math.min(Number(process.argv[2] ?? 20_000), 200_000);
const bytes = Math.min(Number(process.argv[3] ?? 200), 64 * 1024);
const TIME_LIMIT_MS = 60_000;
const WINDOW = Math.max(1, Number(process.argv[4] ?? 500));
const logger = createLogger({ level: "silent" });

const frame = JSON.stringify({ type: "push", event: "chat.said", data: { text: "x".repeat(Math.max(0, bytes - 50)) } });
const object = { type: "push", event: "chat.said", data: { text: "x".repeat(Math.max(0, bytes - 50)) } };

async function run(name: string, a: ClusterBus, b: ClusterBus, payload: unknown): Promise<void> {
  let got = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  let caughtUp: (() => void) | undefined;
  const off = b.subscribe("bench", () => {
    ++got;
    if (got === messages) done();
    if (caughtUp !== undefined && got % WINDOW === 0) caughtUp();
  });
  const outages = b.stats.outages;
  await Promise.all([a.ready(), b.ready()]);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  // At most 2 windows in flight, as a server publishing what its clients send would be: a
  // receiver that falls far behind is disconnected by Redis (client-output-buffer-limit pubsub).
  const timer = setTimeout(done, TIME_LIMIT_MS);
  for (let sent = 0; sent < messages && performance.now() - t0 < TIME_LIMIT_MS; sent += WINDOW) {
    while (sent - got > WINDOW && performance.now() - t0 < TIME_LIMIT_MS) {
      await new Promise<void>((resolve) => (caughtUp = resolve));
      caughtUp = undefined;
    }
    for (let i = sent; i < Math.min(sent + WINDOW, messages); i++) a.publish("bench", payload);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await finished;
  clearTimeout(timer);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  off();
  console.log(JSON.stringify({
    case: name, messages, received: got, payloadBytes: bytes, ms: Math.round(ms),
    perSecond: Math.round((got / ms) * 1000), cpuMicrosPerMessage: +((cpu.user + cpu.system) / got).toFixed(2),
    dropped: a.stats.dropped, receiverOutages: b.stats.outages - outages,
  }));
}

const hub = new MemoryBusHub();
const [ma, mb] = [createBus({ nodeId: "a" }, { hub, logger }), createBus({ nodeId: "b" }, { hub, logger })];
await run("memory, string frame", ma, mb, frame);
await run("memory, JSON object", ma, mb, object);
await Promise.all([ma.close(), mb.close()]);

let redis: RedisHandle | undefined;
let url = process.env.REDIS_URL;
const binary = redisServerPath();
if (url === undefined && binary !== undefined) {
  redis = await startRedis(binary);
  url = redis.url;
}
if (url === undefined) {
  console.log(JSON.stringify({ case: "redis", skipped: "no REDIS_URL and redis-server not found: apt-get install -y redis-server" }));
} else {
  const [ra, rb] = [createBus({ redis: url, prefix: "bench:" }, { logger }), createBus({ redis: url, prefix: "bench:" }, { logger })];
  await run("redis, string frame", ra, rb, frame);
  await run("redis, JSON object", ra, rb, object);
  await Promise.all([ra.close(), rb.close()]);
}
await redis?.stop();
