/**
 * Redis killed (SIGKILL) and restarted mid-run, twice, under three node processes:
 * - every node reports "down", local includeSelf delivery goes on, publishes are dropped and
 *   counted, presence answers with the local members, nothing crashes;
 * - after the restart every node reports "up" (reconnected with backoff and resubscribed),
 *   cluster delivery resumes, presence is rewritten into the empty Redis;
 * - each node logs each outage exactly once; no unhandled rejection; clean exits.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { redisForFile } from "../helpers/redis.ts";
import { received, startNodes, stopNodes } from "../helpers/cluster-nodes.ts";
import type { NodeProcess } from "../helpers/node-process.ts";
import type { BusStats, PresenceEntry } from "../../src/cluster/index.ts";

const shared = redisForFile();
const skip = shared.skip;

function statusEvents(node: NodeProcess, status: string): number {
  return node.all("status", (e) => e.status === status).length;
}

function logLines(node: NodeProcess, text: string): number {
  return node.stderr.split("\n").filter((line) => line.includes(text)).length;
}

async function lobby(node: NodeProcess): Promise<string[]> {
  return ((await node.request("members", { room: "lobby" })) as PresenceEntry[]).map((m) => m.connId).sort();
}

/** Each node says "round-N" on "chat"; every node must hear the two others (fence: the message itself). */
async function roundTrip(nodes: NodeProcess[], round: string): Promise<void> {
  for (const [i, node] of nodes.entries()) await node.request("publish", { channel: "chat", payload: `${round}:${i}` });
  for (const [i, node] of nodes.entries()) {
    for (const j of [0, 1, 2].filter((j) => j !== i)) {
      await node.waitFor((e) => e.ev === "msg" && e.tag === "chat" && e.payload === `${round}:${j}`, `${round}:${j} at node-${i}`);
    }
  }
}

test("redis killed and restarted mid-run: local delivery goes on, cluster resumes, nothing crashes", { skip }, async () => {
  const nodes = await startNodes(shared.redis.url, 3, { prefix: "outage:", heartbeatMs: 100, ttlMs: 1_000, reconnectMaxMs: 200 });
  try {
    for (const [i, node] of nodes.entries()) {
      await node.request("subscribe", { channel: "chat", tag: "chat" });
      await node.request("subscribe", { channel: "local", tag: "local", includeSelf: true });
      await node.request("join", { room: "lobby", member: { connId: `c${i}` } });
    }
    await Promise.all(nodes.map((n) => n.request("ready")));
    await roundTrip(nodes, "before");

    for (const cycle of [1, 2]) {
      const mark = nodes.map((n) => n.events.length);
      await shared.redis.kill();
      await Promise.all(nodes.map((n, i) => n.waitFor((e) => e.ev === "status" && e.status === "down", `down at node-${i}`, mark[i])));

      // During the outage: local includeSelf delivery works, publishes to the cluster are dropped.
      const [a] = nodes as [NodeProcess];
      const dropped = ((await a.request("stats")) as BusStats).dropped;
      await a.request("publish", { channel: "local", payload: `local-${cycle}` });
      await a.waitFor((e) => e.ev === "msg" && e.tag === "local" && e.payload === `local-${cycle}`, "local delivery during outage");
      await a.request("publish", { channel: "chat", payload: `lost-${cycle}` });
      assert.ok(((await a.request("stats")) as BusStats).dropped > dropped, "a publish during the outage is counted as dropped");
      assert.equal(await a.request("status"), "down");
      const localOnly = ["c0", ...Array.from({ length: cycle - 1 }, (_, k) => `late-${k + 1}`)];
      assert.deepEqual(await lobby(a), localOnly, "presence during the outage: this node's members");
      await a.request("join", { room: "lobby", member: { connId: `late-${cycle}` } });

      const upMark = nodes.map((n) => n.events.length);
      await shared.redis.restart();
      await Promise.all(nodes.map((n, i) => n.waitFor((e) => e.ev === "status" && e.status === "up", `up at node-${i}`, upMark[i], 20_000)));
      await roundTrip(nodes, `after-${cycle}`);
      // Presence: the restarted Redis is empty; every node rewrites its members on reconnect.
      const expected = ["c0", "c1", "c2", ...Array.from({ length: cycle }, (_, k) => `late-${k + 1}`)].sort();
      const deadline = Date.now() + 10_000;
      while (JSON.stringify(await lobby(nodes[2]!)) !== JSON.stringify(expected)) {
        if (Date.now() > deadline) assert.deepEqual(await lobby(nodes[2]!), expected);
        await new Promise((resolve) => setTimeout(resolve, 50)); // poll interval
      }
    }

    for (const [i, node] of nodes.entries()) {
      assert.equal(node.all("fatal").length, 0, `node-${i}: no unhandled rejection or exception`);
      assert.equal(statusEvents(node, "down"), 2, `node-${i}: two outages seen`);
      assert.equal(logLines(node, "redis unreachable"), 2, `node-${i}: each outage logged once:\n${node.stderr}`);
      assert.equal(logLines(node, "redis reachable again"), 2, `node-${i}: each recovery logged once`);
      assert.ok(!received(node, "chat").some((p) => String(p).startsWith("lost-")), "dropped messages are not replayed");
    }
  } finally {
    await stopNodes(nodes);
  }
  for (const node of nodes) assert.equal((await node.exited).code, 0);
});

test("a node started while redis is down serves locally and joins the cluster when redis comes", { skip }, async () => {
  await shared.redis.kill();
  const nodes = await startNodes(shared.redis.url, 2, { prefix: "late:", reconnectMaxMs: 200 });
  try {
    const [a, b] = nodes as [NodeProcess, NodeProcess];
    for (const node of nodes) await node.request("subscribe", { channel: "chat", tag: "chat", includeSelf: true });
    assert.equal(await a.request("status"), "down");
    await a.request("publish", { channel: "chat", payload: "alone" });
    await a.waitFor((e) => e.ev === "msg" && e.payload === "alone", "local delivery with no redis at all");
    await shared.redis.restart();
    await Promise.all(nodes.map((n) => n.request("ready", {}, 20_000)));
    await b.request("publish", { channel: "chat", payload: "together" });
    await a.waitFor((e) => e.ev === "msg" && e.payload === "together", "cluster delivery once redis is there");
    for (const node of nodes) {
      assert.equal(logLines(node, "redis unreachable"), 1, "the start-up outage is logged once");
      assert.equal(node.all("fatal").length, 0);
    }
  } finally {
    await stopNodes(nodes);
  }
  for (const node of nodes) assert.equal((await node.exited).code, 0);
});
