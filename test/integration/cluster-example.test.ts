/**
 * examples/cluster/chat-node.ts: two node processes on one private redis-server (nginx left
 * out: clients connect to each node directly). The demo chat app, unchanged, across nodes: a
 * line said on node A reaches a member on node B, and the presence list shows both.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { REDIS_MISSING, redisServerPath, startRedis, type RedisHandle } from "../helpers/redis.ts";
import { startTsProcess, type ChildHandle } from "../helpers/process.ts";
import { ProtoClient, type Frame } from "../helpers/app-client.ts";

const redisBin = redisServerPath();
let redis: RedisHandle | undefined;

before(async () => {
  if (redisBin) redis = await startRedis(redisBin);
});
after(async () => {
  await redis?.stop();
});

test("the two-node chat example: what is said on one node, the other node's members hear", { skip: redisBin ? false : REDIS_MISSING }, async () => {
  const nodes: ChildHandle[] = [];
  const clients: ProtoClient[] = [];
  try {
    const urls: string[] = [];
    for (let i = 0; i < 2; i++) {
      const node = startTsProcess("examples/cluster/chat-node.ts", [], { REDIS_URL: redis!.url, PORT: "0", LOG_LEVEL: "warn" });
      nodes.push(node);
      const [line] = await node.waitForLine(/^\{"ev":"listening".*\}$/, 30_000);
      urls.push((JSON.parse(line) as { url: string }).url);
    }
    const ann = await ProtoClient.open(urls[0]!, { query: { room: "lobby", name: "ann" } });
    clients.push(ann);
    // Joined at connect: a room.members reply comes once the node's subscriptions are confirmed.
    await ann.call("room.members", { room: "lobby" });
    const bob = await ProtoClient.open(urls[1]!, { query: { room: "lobby", name: "bob" } });
    clients.push(bob);
    const joined = await ann.next((f: Frame) => f.task === "room.joined" && f.data.member.user.name === "bob");
    assert.match(joined.data.member.connection, /^chat-1@/, "connection ids carry the node id");

    const members = await bob.call("room.members", { room: "lobby" }); // bob's fence, as ann's above
    assert.deepEqual(members.data.members.map((m: Frame) => m.user.name).sort(), ["ann", "bob"]);

    assert.deepEqual((await ann.call("chat.say", { text: "hello from A" })).data, { ok: true });
    for (const client of [ann, bob]) await client.next((f: Frame) => f.task === "chat.message" && f.data.text === "hello from A");
    await bob.call("chat.say", { text: "and back" });
    for (const client of [ann, bob]) await client.next((f: Frame) => f.task === "chat.message" && f.data.text === "and back");
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await Promise.all(nodes.map((node) => node.stop("SIGTERM")));
  }
});
