/**
 * examples/cluster/chat-node.ts: two node processes on one private redis-server (nginx left
 * out: clients connect to each node directly). A line said on node A reaches a client of node B.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { REDIS_MISSING, redisServerPath, startRedis, type RedisHandle } from "../helpers/redis.ts";
import { startTsProcess, type ChildHandle } from "../helpers/process.ts";
import { TestClient } from "../helpers/ws-client.ts";

const redisBin = redisServerPath();
let redis: RedisHandle | undefined;

before(async () => {
  if (redisBin) redis = await startRedis(redisBin);
});
after(async () => {
  await redis?.stop();
});

test("the two-node chat example: what one node hears, the other's clients hear", { skip: redisBin ? false : REDIS_MISSING }, async () => {
  const nodes: ChildHandle[] = [];
  const clients: TestClient[] = [];
  try {
    const urls: string[] = [];
    for (let i = 0; i < 2; i++) {
      const node = startTsProcess("examples/cluster/chat-node.ts", [], { REDIS_URL: redis!.url, PORT: "0", LOG_LEVEL: "warn" });
      nodes.push(node);
      const [line] = await node.waitForLine(/^\{"ev":"listening".*\}$/, 30_000);
      urls.push((JSON.parse(line) as { url: string }).url);
    }
    for (const url of urls) {
      const client = new TestClient(url);
      clients.push(client);
      await client.opened;
      assert.match((await client.next()).text, /^welcome chat/);
    }
    const [onA, onB] = clients as [TestClient, TestClient];
    onA.ws.send("hello from A");
    assert.match((await onA.next()).text, /: hello from A$/, "the sender's node echoes it to its clients");
    assert.match((await onB.next()).text, /: hello from A$/, "the other node's client hears it through the bus");
    onB.ws.send("and back");
    assert.match((await onA.next()).text, /: and back$/);
    assert.match((await onB.next()).text, /: and back$/);
  } finally {
    for (const client of clients) client.ws.close();
    await Promise.all(nodes.map((node) => node.stop("SIGTERM")));
  }
});
