/**
 * The app layer across server PROCESSES (test/fixtures/app-node.ts) over one private Redis:
 * - a room push and app.broadcast reach every member on every node exactly once;
 * - presence (room.members, room.joined / room.left) spans the nodes; a SIGKILLed node's
 *   members and its node entry disappear within presenceTtlMs; stats() / /healthz show the nodes;
 * - Redis SIGKILLed and restarted: local delivery goes on, cross-node delivery resumes, each
 *   node logs the outage once, nothing crashes, no unhandled rejection, clean exits.
 * "Exactly once" is checked after fences: a later push from every node, which on every
 * subscriber connection arrives after any duplicate of the earlier ones could have.
 */
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { redisForFile } from "../helpers/redis.ts";
import { APP_NODE_SCRIPT, startNodes, stopNodes } from "../helpers/cluster-nodes.ts";
import type { NodeProcess } from "../helpers/node-process.ts";
import { ProtoClient, type Frame } from "../helpers/app-client.ts";
import { eventually } from "../helpers/until.ts";
import type { ServerStats } from "../../src/index.ts";

const shared = redisForFile();
const skip = shared.skip;
const clients: ProtoClient[] = [];

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

function start(count: number, prefix: string): Promise<NodeProcess[]> {
  return startNodes(shared.redis.url, count, { prefix, script: APP_NODE_SCRIPT, heartbeatMs: 100, ttlMs: 1_000, reconnectMaxMs: 200 });
}

function portOf(node: NodeProcess): number {
  return node.all("started")[0]!.port as number;
}

async function connect(node: NodeProcess): Promise<ProtoClient & { welcome: Frame }> {
  const client = await ProtoClient.open(`ws://127.0.0.1:${portOf(node)}/app`);
  clients.push(client);
  return client;
}

function connId(client: ProtoClient & { welcome: Frame }): string {
  return client.welcome.data.connection as string;
}

async function ok(client: ProtoClient, task: string, data: unknown): Promise<Frame> {
  const reply = await client.call(task, data);
  assert.equal(reply.error, undefined, `${task}: ${JSON.stringify(reply.error)}`);
  return reply;
}

const is = (task: string, text: string) => (f: Frame) => f.task === task && f.data?.text === text;

/** Every client receives every text once (as `task`); afterwards none has a second copy. */
async function receivedOnce(members: ProtoClient[], task: string, texts: string[]): Promise<void> {
  for (const client of members) for (const text of texts) await client.next(is(task, text));
  for (const client of members) {
    const extra = client.frames.filter((f) => f.task === task);
    assert.deepEqual(extra, [], "a push arrived twice");
  }
}

async function stats(node: NodeProcess): Promise<ServerStats> {
  return (await node.request("stats")) as ServerStats;
}

function noFatal(nodes: NodeProcess[]): void {
  for (const node of nodes) assert.deepEqual(node.all("fatal"), [], node.stderr);
}

test("three nodes: a room push and app.broadcast reach every member on every node exactly once", { skip }, async () => {
  const nodes = await start(3, "once:");
  try {
    const [a0, b0, c1, d2, e2] = [await connect(nodes[0]!), await connect(nodes[0]!), await connect(nodes[1]!), await connect(nodes[2]!), await connect(nodes[2]!)];
    const members = [a0, b0, c1, d2];
    for (const client of members) await ok(client, "room.join", { room: "lobby" });

    await ok(c1, "say", { room: "lobby", text: "from-1" });
    await ok(a0, "say", { room: "lobby", text: "from-0" }); // a node with two local members
    for (const [i, client] of [a0, c1, d2].entries()) await ok(client, "say", { room: "lobby", text: `fence-${i}` });
    await receivedOnce(members, "said", ["from-1", "from-0", "fence-0", "fence-1", "fence-2"]);
    assert.deepEqual(e2.frames.filter((f) => f.task === "said"), [], "a push reached a connection outside the room");

    const everyone = [...members, e2];
    await ok(d2, "shout", { text: "all-2" });
    for (const [i, client] of [a0, c1, d2].entries()) await ok(client, "shout", { text: `fence-${i}` });
    await receivedOnce(everyone, "shouted", ["all-2", "fence-0", "fence-1", "fence-2"]);

    const bus = (await stats(nodes[1]!)).cluster.bus;
    assert.equal(bus.dropped, 0);
    // node-1 pushed: room.joined (c1), from-1, fence-1 (said), fence-1 (shouted): one publish each.
    assert.equal(bus.published, 4, "one publish per push, whatever the number of members");
    noFatal(nodes);
  } finally {
    await stopNodes(nodes);
  }
});

test("presence spans the nodes; a SIGKILLed node's members and entry expire", { skip }, async () => {
  const nodes = await start(3, "presence:");
  try {
    const [p0, p1, p2] = [await connect(nodes[0]!), await connect(nodes[1]!), await connect(nodes[2]!)];
    // Each node counts its own connections: the node id keeps the ids apart in one presence list.
    assert.deepEqual([p0, p1, p2].map(connId), ["app-1@node-0", "app-1@node-1", "app-1@node-2"]);
    await ok(p0, "room.join", { room: "hall" });
    await ok(p1, "room.join", { room: "hall" });
    const joined = await p0.next((f) => f.task === "room.joined" && f.data.member.connection === connId(p1));
    assert.equal(joined.data.member.user.id, p1.welcome.data.user.id);
    const reply = await ok(p2, "room.join", { room: "hall" });
    const ids = (r: Frame) => (r.data.members as Array<{ connection: string }>).map((m) => m.connection).sort();
    assert.deepEqual(ids(reply), [connId(p0), connId(p1), connId(p2)].sort(), "the join reply lists every node's members");
    assert.deepEqual(ids(await ok(p0, "room.members", { room: "hall" })), [connId(p0), connId(p1), connId(p2)].sort());

    // Node list with connection counts, in stats() and /healthz (refreshed on the presence beat).
    await eventually("node-0 sees three nodes with one connection each", async () => {
      const { cluster } = await stats(nodes[0]!);
      return cluster.nodes.length === 3 && cluster.nodes.every((n) => n.connections === 1);
    });
    const health = (await (await fetch(`http://127.0.0.1:${portOf(nodes[0]!)}/healthz`)).json()) as { cluster: ServerStats["cluster"] };
    assert.equal(health.cluster.nodeId, "node-0");
    assert.equal(health.cluster.status, "up");
    assert.deepEqual(health.cluster.nodes.map((n) => n.nodeId).sort(), ["node-0", "node-1", "node-2"]);

    await nodes[2]!.kill("SIGKILL");
    await eventually("node-2's member expires from room.members", async () => {
      const r = await ok(p0, "room.members", { room: "hall" });
      return ids(r).join() === [connId(p0), connId(p1)].sort().join();
    });
    await eventually("node-2 leaves the node list", async () => (await stats(nodes[0]!)).cluster.nodes.length === 2);

    await ok(p1, "room.leave", { room: "hall" });
    await p0.next((f) => f.task === "room.left" && f.data.member.connection === connId(p1));
    noFatal(nodes);
  } finally {
    await stopNodes(nodes);
  }
});

test("redis SIGKILLed and restarted: local delivery goes on, cross-node resumes, nothing crashes", { skip }, async () => {
  const nodes = await start(2, "outage:");
  try {
    const [a0, b0, c1] = [await connect(nodes[0]!), await connect(nodes[0]!), await connect(nodes[1]!)];
    for (const client of [a0, b0, c1]) await ok(client, "room.join", { room: "r" });
    await ok(c1, "say", { room: "r", text: "before" });
    for (const client of [a0, b0, c1]) await client.next(is("said", "before"));

    await shared.redis.kill();
    for (const node of nodes) await node.waitFor((e) => e.ev === "status" && e.status === "down", "status down");
    await ok(a0, "say", { room: "r", text: "during-0" });
    for (const client of [a0, b0]) await client.next(is("said", "during-0"));
    await ok(c1, "say", { room: "r", text: "during-1" });
    await c1.next(is("said", "during-1"));
    const local = await ok(a0, "room.members", { room: "r" });
    assert.deepEqual(local.data.members.map((m: { connection: string }) => m.connection).sort(), [connId(a0), connId(b0)].sort(), "local members while redis is away");
    await ok(a0, "shout", { text: "shout-during" });
    for (const client of [a0, b0]) await client.next(is("shouted", "shout-during"));

    const since = nodes.map((node) => node.events.length);
    await shared.redis.restart();
    for (const [i, node] of nodes.entries()) await node.waitFor((e) => e.ev === "status" && e.status === "up", "status up", since[i]);
    await ok(c1, "say", { room: "r", text: "after-1" });
    await ok(a0, "say", { room: "r", text: "after-0" });
    for (const client of [a0, b0, c1]) {
      await client.next(is("said", "after-1"));
      await client.next(is("said", "after-0"));
    }
    await eventually("presence rewritten into the new redis", async () => {
      const r = await ok(a0, "room.members", { room: "r" });
      return r.data.members.length === 3;
    });

    for (const node of nodes) {
      const lines = node.stderr.split("\n").filter((line) => line.includes("redis unreachable"));
      assert.equal(lines.length, 1, `one outage line per node:\n${lines.join("\n")}`);
      assert.ok((await stats(node)).cluster.bus.outages === 1);
    }
    noFatal(nodes);
    const codes = await Promise.all(nodes.map((node) => node.exit()));
    assert.deepEqual(codes, [0, 0]);
  } finally {
    await stopNodes(nodes);
  }
});
