/**
 * Presence across node PROCESSES sharing one private redis-server, and its expiry: a node killed
 * with SIGKILL (no goodbye) loses its members and its nodes() entry within presenceTtlMs. The test
 * polls for that condition with a bounded deadline; it asserts no timing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { redisForFile } from "../helpers/redis.ts";
import { eventually } from "../helpers/until.ts";
import { startNodes, stopNodes } from "../helpers/cluster-nodes.ts";
import type { NodeProcess } from "../helpers/node-process.ts";
import type { NodeInfo, PresenceEntry } from "../../src/cluster/index.ts";

const shared = redisForFile();
const skip = shared.skip;

const TTL_MS = 800;

async function members(node: NodeProcess, room: string): Promise<string[]> {
  const list = (await node.request("members", { room })) as PresenceEntry[];
  return list.map((m) => `${m.node}/${m.connId}/${m.user ?? ""}`).sort();
}

async function nodeIds(node: NodeProcess): Promise<string[]> {
  return ((await node.request("nodes")) as NodeInfo[]).map((n) => n.nodeId).sort();
}

/** Polled conditions fail after several TTLs; 50 ms is a poll interval, not a wait for the result. */
const DEADLINE_MS = TTL_MS * 10;
const POLL_MS = 50;

test("presence across three nodes; leave; expiry after SIGKILL", { skip }, async () => {
  const nodes = await startNodes(shared.redis.url, 3, { prefix: "presence:", heartbeatMs: 100, ttlMs: TTL_MS });
  const [a, b, c] = nodes as [NodeProcess, NodeProcess, NodeProcess];
  try {
    await Promise.all(nodes.map((n) => n.request("ready")));
    await a.request("join", { room: "lobby", member: { connId: "a1", user: "ann" } });
    await b.request("join", { room: "lobby", member: { connId: "b1", user: "bob" } });
    await b.request("join", { room: "lobby", member: { connId: "b2", user: "bea" } });
    await c.request("join", { room: "lobby", member: { connId: "c1", user: "cy", color: "red" } });
    await c.request("join", { room: "kitchen", member: { connId: "c1", user: "cy" } });

    const everyone = ["node-0/a1/ann", "node-1/b1/bob", "node-1/b2/bea", "node-2/c1/cy"];
    for (const node of nodes) assert.deepEqual(await members(node, "lobby"), everyone);
    const full = ((await a.request("members", { room: "lobby" })) as PresenceEntry[]).find((m) => m.connId === "c1");
    assert.equal(full?.color, "red", "extra member fields travel");
    assert.deepEqual(await members(a, "kitchen"), ["node-2/c1/cy"]);
    assert.deepEqual(await members(a, "empty"), []);

    // nodes(): every node, with its connection count (distinct connections in its rooms) as of
    // its last heartbeat.
    let infos: NodeInfo[] = [];
    await eventually("nodes() shows every node's count", async () => {
      infos = (await a.request("nodes")) as NodeInfo[];
      return JSON.stringify(infos.map((n) => [n.nodeId, n.connections]).sort()) === JSON.stringify([["node-0", 1], ["node-1", 2], ["node-2", 1]]);
    }, DEADLINE_MS, POLL_MS);
    for (const info of infos) assert.equal(typeof info.lastSeen, "number");

    await b.request("leave", { room: "lobby", connId: "b2" });
    assert.deepEqual(await members(c, "lobby"), ["node-0/a1/ann", "node-1/b1/bob", "node-2/c1/cy"]);
    await c.request("leaveAll", { connId: "c1" });
    assert.deepEqual(await members(a, "kitchen"), []);
    await c.request("join", { room: "lobby", member: { connId: "c1", user: "cy" } });

    // SIGKILL node-2: no goodbye; its keys must expire.
    await c.kill("SIGKILL");
    await eventually("node-2's members gone from lobby", async () =>
      !(await members(a, "lobby")).some((m) => m.startsWith("node-2/")), DEADLINE_MS, POLL_MS);
    await eventually("node-2 gone from nodes()", async () => !(await nodeIds(b)).includes("node-2"), DEADLINE_MS, POLL_MS);
    assert.deepEqual(await members(b, "lobby"), ["node-0/a1/ann", "node-1/b1/bob"]);
    assert.deepEqual(await nodeIds(a), ["node-0", "node-1"]);

    // The survivors keep their entries beyond the TTL: their heartbeats refresh them.
    await eventually("several heartbeats have passed", async () => {
      const info = ((await a.request("nodes")) as NodeInfo[]).find((n) => n.nodeId === "node-1");
      return info !== undefined && Date.now() - (infos.find((n) => n.nodeId === "node-1")?.lastSeen ?? 0) > TTL_MS * 2;
    }, DEADLINE_MS, POLL_MS);
    assert.deepEqual(await members(a, "lobby"), ["node-0/a1/ann", "node-1/b1/bob"]);
  } finally {
    await stopNodes([a, b]);
  }
  assert.equal((await a.exited).code, 0);
  assert.equal((await b.exited).code, 0);
});

test("a node that exits cleanly removes its entries at once", { skip }, async () => {
  const nodes = await startNodes(shared.redis.url, 2, { prefix: "goodbye:", heartbeatMs: 100, ttlMs: 60_000 });
  const [a, b] = nodes as [NodeProcess, NodeProcess];
  try {
    await Promise.all(nodes.map((n) => n.request("ready")));
    await b.request("join", { room: "lobby", member: { connId: "b1" } });
    assert.deepEqual(await members(a, "lobby"), ["node-1/b1/"]);
    assert.equal(await b.exit(), 0);
    // TTL is a minute here: only the goodbye can explain an immediate disappearance.
    assert.deepEqual(await members(a, "lobby"), []);
    assert.deepEqual(await nodeIds(a), ["node-0"]);
  } finally {
    await stopNodes([a]);
  }
});
