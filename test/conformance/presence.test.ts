/**
 * One suite, every PresenceStore: in memory (nodes sharing a MemoryBusHub) and in Redis (nodes
 * sharing a private redis-server). Expiry after a crash needs a process to kill: see
 * test/integration/cluster-presence.test.ts.
 */
import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createLogger } from "../../src/log.ts";
import { OptionError, StateError } from "../../src/errors.ts";
import { createBus, createPresence, MemoryBusHub, type ClusterBus, type PresenceStore } from "../../src/cluster/index.ts";
import { REDIS_MISSING, redisServerPath, startRedis, type RedisHandle } from "../helpers/redis.ts";

const logger = createLogger({ level: "silent" });
const redisBin = redisServerPath();
let redis: RedisHandle | undefined;
let cluster = 0;

interface Node {
  bus: ClusterBus;
  presence: PresenceStore;
}

const impls = [
  {
    name: "memory presence",
    skip: false as string | false,
    start: async () => {},
    stop: async () => {},
    makeBuses(n: number): ClusterBus[] {
      const hub = new MemoryBusHub();
      return Array.from({ length: n }, (_, i) => createBus({ nodeId: `node-${i}` }, { hub, logger }));
    },
  },
  {
    name: "redis presence",
    skip: redisBin ? false : REDIS_MISSING,
    start: async () => {
      redis = await startRedis(redisBin!);
    },
    stop: async () => {
      await redis?.stop();
    },
    makeBuses(n: number): ClusterBus[] {
      const prefix = `pres${++cluster}:`;
      return Array.from({ length: n }, (_, i) => createBus({ redis: redis!.url, prefix, nodeId: `node-${i}` }, { logger }));
    },
  },
];

const view = (list: { node: string; connId: string }[]): string[] => list.map((m) => `${m.node}/${m.connId}`).sort();

for (const impl of impls) {
  describe(`PresenceStore conformance: ${impl.name}`, { skip: impl.skip }, () => {
    let open: Node[] = [];
    const make = async (n: number): Promise<Node[]> => {
      const buses = impl.makeBuses(n);
      await Promise.all(buses.map((bus) => bus.ready({ signal: AbortSignal.timeout(5_000) })));
      const nodes = buses.map((bus) => ({ bus, presence: createPresence(bus, {}, { heartbeatMs: 100, ttlMs: 5_000 }) }));
      open.push(...nodes);
      return nodes;
    };
    before(() => impl.start());
    after(() => impl.stop());
    afterEach(async () => {
      for (const node of open) {
        await node.presence.close();
        await node.bus.close();
      }
      open = [];
    });

    test("members of a room across nodes, with the node of each", async () => {
      const [a, b] = await make(2) as [Node, Node];
      await a.presence.join("lobby", { connId: "a1", user: "ann", extra: { n: 1 } });
      await b.presence.join("lobby", { connId: "b1" });
      await b.presence.join("lobby", { connId: "b1" }); // joining twice is one membership
      for (const node of [a, b]) assert.deepEqual(view(await node.presence.members("lobby")), ["node-0/a1", "node-1/b1"]);
      const ann = (await b.presence.members("lobby")).find((m) => m.connId === "a1");
      assert.deepEqual(ann, { connId: "a1", user: "ann", extra: { n: 1 }, node: "node-0" });
      assert.deepEqual(await a.presence.members("nobody-here"), []);
    });

    test("leave, leaveAll, and leaving what you are not in", async () => {
      const [a, b] = await make(2) as [Node, Node];
      await a.presence.join("r1", { connId: "a1" });
      await a.presence.join("r2", { connId: "a1" });
      await a.presence.join("r2", { connId: "a2" });
      await a.presence.leave("r2", "a2");
      await a.presence.leave("r2", "not-a-member");
      await a.presence.leave("never-joined", "a1");
      assert.deepEqual(view(await b.presence.members("r2")), ["node-0/a1"]);
      await a.presence.leaveAll("a1");
      assert.deepEqual(await b.presence.members("r1"), []);
      assert.deepEqual(await b.presence.members("r2"), []);
    });

    test("nodes(): every node, this one with its current connection count", async () => {
      const [a, b] = await make(2) as [Node, Node];
      await a.presence.join("r", { connId: "a1" });
      await a.presence.join("s", { connId: "a1" });
      await a.presence.join("s", { connId: "a2" });
      const nodes = await a.presence.nodes();
      assert.deepEqual(nodes.map((n) => n.nodeId).sort(), ["node-0", "node-1"]);
      assert.equal(nodes.find((n) => n.nodeId === "node-0")?.connections, 2);
      assert.ok((await b.presence.nodes()).every((n) => typeof n.lastSeen === "number"));
    });

    test("bad input rejects with OptionError", async () => {
      const [a] = await make(1) as [Node];
      const circular: Record<string, unknown> = { connId: "x" };
      circular.self = circular;
      const bad = [null, "a1", [], {}, { connId: "" }, { connId: 5 }, { connId: "x", user: 5 }, circular];
      for (const [i, member] of bad.entries()) {
        await assert.rejects(a.presence.join("lobby", member as never), OptionError, `bad member #${i}`);
      }
      for (const room of ["", 7, "x".repeat(300)]) {
        await assert.rejects(a.presence.join(room as never, { connId: "x" }), OptionError);
        await assert.rejects(a.presence.members(room as never), OptionError);
      }
      assert.deepEqual(await a.presence.members("lobby"), []);
    });

    test("close removes this node's members and node entry; calls after close reject", async () => {
      const [a, b] = await make(2) as [Node, Node];
      await b.presence.join("lobby", { connId: "b1" });
      await b.presence.close();
      await b.presence.close();
      assert.deepEqual(await a.presence.members("lobby"), []);
      assert.deepEqual((await a.presence.nodes()).map((n) => n.nodeId), ["node-0"]);
      await assert.rejects(b.presence.join("lobby", { connId: "b2" }), StateError);
    });
  });
}
