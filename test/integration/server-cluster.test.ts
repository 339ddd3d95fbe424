/**
 * The `cluster` option of createServer and `server.cluster`, in one process:
 * - validated (unknown keys and bad values → OptionError naming the key);
 * - no option: the in-memory bus; say/subscribe work (includeSelf), unsubscribe stops delivery;
 *   stats() and /healthz show the node; stop() closes the bus;
 * - a Redis nobody answers at: start() gives up after clusterReadyTimeoutMs, local clients are
 *   served (room pushes reach local members), stop() is clean. Needs no redis-server.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer as createNetServer } from "node:net";
import { createServer, OptionError, StateError } from "../../src/index.ts";
import { startServer } from "../helpers/server.ts";
import { ProtoClient } from "../helpers/app-client.ts";
import { deferred, within } from "../helpers/until.ts";

test("the cluster option is validated, naming the key", () => {
  const bad: [unknown, RegExp][] = [
    ["redis://x", /cluster/],
    [{ redis: 6379 }, /cluster\.redis/],
    [{ prefix: 1 }, /cluster\.prefix/],
    [{ reddis: "redis://127.0.0.1:6379" }, /cluster\.reddis.*unknown/],
    [{ presenceTtlMs: 10, presenceHeartbeatMs: 20 }, /presenceTtlMs/],
    [{ clusterReadyTimeoutMs: 0 }, /clusterReadyTimeoutMs/],
  ];
  for (const [cluster, message] of bad) {
    assert.throws(() => createServer({ port: 0, logger: { level: "silent" }, cluster: cluster as never }), (err: unknown) => err instanceof OptionError && message.test(err.message), JSON.stringify(cluster));
  }
});

test("no cluster option: the in-memory bus; say/subscribe/unsubscribe; stats; closed on stop", async () => {
  const server = await startServer();
  const heard = deferred<unknown>();
  const off = server.cluster.subscribe("greeting", (payload) => heard.resolve(payload), { includeSelf: true });
  server.cluster.say("greeting", { hello: "world" });
  assert.deepEqual(await within(heard.promise, 2_000, "own say"), { hello: "world" });
  off();
  const { cluster } = server.stats();
  assert.equal(cluster.kind, "memory");
  assert.equal(cluster.status, "up");
  assert.deepEqual(cluster.nodes.map((n) => n.nodeId), [server.cluster.nodeId]);
  const health = (await (await fetch(server.url("/healthz", "http"))).json()) as { cluster: { nodeId: string } };
  assert.equal(health.cluster.nodeId, server.cluster.nodeId);
  await server.stop();
  assert.throws(() => server.cluster.say("greeting", 1), StateError);
});

test("redis unreachable at start: start() gives up in time, local clients are served, stop() is clean", async () => {
  const probe = createNetServer().listen(0, "127.0.0.1");
  await once(probe, "listening");
  const port = (probe.address() as { port: number }).port;
  probe.close(); // nothing listens there now
  await once(probe, "close");
  const server = await startServer({ cluster: { redis: `redis://127.0.0.1:${port}`, clusterReadyTimeoutMs: 100, redisReconnectMaxMs: 50 } }, (s) => {
    s.app("/app", { presence: true }).task("say", ({ data, rooms }) => rooms.push("r", "said", data));
  });
  try {
    assert.equal(server.stats().cluster.status, "down");
    const [a, b] = [await ProtoClient.open(server.url("/app")), await ProtoClient.open(server.url("/app"))];
    for (const client of [a, b]) assert.equal((await client.call("room.join", { room: "r" })).error, undefined);
    const members = await a.call("room.members", { room: "r" });
    assert.equal(members.data.members.length, 2, "this node's members while the cluster is away");
    await a.call("say", "local");
    for (const client of [a, b]) await client.next((f) => f.task === "said" && f.data === "local");
    await Promise.all([a.close(), b.close()]);
  } finally {
    await server.stop();
  }
});
