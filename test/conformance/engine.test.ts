/**
 * One suite, every room engine: the memory engine (nodes sharing a MemoryEngineHub), the IPC
 * engine (workers' engines talking to one IpcEngineHub over ports that copy every message as
 * Node's IPC would) and the Redis engine (nodes sharing a private redis-server, a fresh prefix
 * per test). Same assertions.
 *
 * "Nothing arrives" is proven with a fence, never a sleep: after the push that must not arrive
 * at a node, the same publisher publishes to a room the node does have a member in; the store
 * hands one subscriber its messages in publish order, so when the fence arrives the other push
 * would have too.
 */
import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Redis } from "ioredis";
import { createLogger } from "../../src/log.ts";
import { StateError, OptionError } from "../../src/errors.ts";
import type { Engine, EngineMember, Push, StreamPosition } from "../../src/engine/engine.ts";
import { MemoryEngine, MemoryEngineHub } from "../../src/engine/memory-engine.ts";
import { RedisEngine } from "../../src/engine/redis-engine.ts";
import { IpcEngine } from "../../src/engine/ipc-engine.ts";
import { IpcEngineHub } from "../../src/engine/ipc-hub.ts";
import { closePortPair, portPair, type IpcPort } from "../../src/cluster/ipc-port.ts";
import type { EngineOptions } from "../../src/engine/options.ts";
import { REDIS_MISSING, redisServerPath, startRedis, type RedisHandle } from "../helpers/redis.ts";
import { eventually, when } from "../helpers/until.ts";

const logger = createLogger({ level: "silent" });
const redisBin = redisServerPath();

interface Cluster {
  readonly nodes: Engine[];
  /** How many nodes the store has subscribed to the room's channel. */
  subscribers(room: string): Promise<number>;
  /** Lose the store's data (memory: a new process, so new engines; Redis: FLUSHALL). */
  loseData(): Promise<Engine[]>;
}

interface Impl {
  name: string;
  skip: string | false;
  start(): Promise<void>;
  stop(): Promise<void>;
  cluster(n: number, options?: EngineOptions & { sharded?: boolean }): Cluster;
}

let redis: RedisHandle | undefined;
let admin: Redis | undefined;
let prefixes = 0;
const open: Engine[] = [];

function memoryNodes(n: number, options: EngineOptions, hub: MemoryEngineHub): Engine[] {
  return Array.from({ length: n }, (_, i) => new MemoryEngine({ ...options, nodeId: `node-${i}`, hub, logger }));
}

/** IPC nodes: each engine's port is paired with a port the hub serves (one "worker" each). */
function ipcNodes(n: number, options: EngineOptions, hub: IpcEngineHub): Engine[] {
  return Array.from({ length: n }, (_, i) => {
    const [worker, primary]: [IpcPort, IpcPort] = portPair();
    hub.add(primary);
    const engine = new IpcEngine({ ...options, nodeId: `node-${i}`, port: worker, logger });
    // close() of a worker's engine is followed by its exit in real life: cut the pair too.
    const close = engine.close.bind(engine);
    engine.close = async () => {
      await close();
      closePortPair(worker);
    };
    return engine;
  });
}

function ipcHub(): IpcEngineHub {
  return new IpcEngineHub({ logger, maxRoomLength: 4096, maxPayloadBytes: 1 << 20 });
}

const impls: Impl[] = [
  {
    name: "memory engine",
    skip: false,
    async start() {},
    async stop() {},
    cluster(n, options = {}) {
      let hub = new MemoryEngineHub();
      const nodes = memoryNodes(n, options, hub);
      open.push(...nodes);
      return {
        nodes,
        subscribers: async (room) => hub.subscriberCount(room),
        async loseData() {
          await Promise.all(nodes.map((node) => node.close()));
          hub = new MemoryEngineHub(); // a restarted process
          const again = memoryNodes(n, options, hub);
          open.push(...again);
          return again;
        },
      };
    },
  },
  {
    name: "ipc engine",
    skip: false,
    async start() {},
    async stop() {},
    cluster(n, options = {}) {
      let hub = ipcHub();
      const nodes = ipcNodes(n, options, hub);
      open.push(...nodes);
      return {
        nodes,
        subscribers: async (room) => hub.hub.subscriberCount(room),
        async loseData() {
          await Promise.all(nodes.map((node) => node.close()));
          hub = ipcHub(); // a restarted primary
          const again = ipcNodes(n, options, hub);
          open.push(...again);
          return again;
        },
      };
    },
  },
  {
    name: "redis engine",
    skip: redisBin ? false : REDIS_MISSING,
    async start() {
      redis = await startRedis(redisBin!);
      const { Redis: RedisClass } = await import("ioredis");
      admin = new RedisClass(redis.url, { maxRetriesPerRequest: 0 });
    },
    async stop() {
      await admin?.quit();
      await redis?.stop();
    },
    cluster(n, options = {}) {
      const prefix = `eng${++prefixes}:`;
      const nodes = Array.from({ length: n }, (_, i) => new RedisEngine({ ...options, url: redis!.url, prefix, nodeId: `node-${i}`, logger }));
      open.push(...nodes);
      const keys = (nodes[0] as RedisEngine).keys;
      return {
        nodes,
        async subscribers(room) {
          const reply = options.sharded
            ? await admin!.call("PUBSUB", "SHARDNUMSUB", keys.channel(room)) as [string, number]
            : await admin!.call("PUBSUB", "NUMSUB", keys.channel(room)) as [string, number];
          return Number(reply[1]);
        },
        async loseData() {
          await admin!.flushall();
          return nodes;
        },
      };
    },
  },
];

/** Every delivery at one node, per member id. */
class Deliveries {
  readonly byMember = new Map<string, Push[]>();
  /** Every delivery in order (room and recipients). */
  readonly all: { push: Push; to: string[] }[] = [];
  readonly #listeners = new Set<() => void>();
  constructor(node: Engine) {
    node.onPush((push, recipients) => {
      for (const member of recipients) {
        let list = this.byMember.get(member.id);
        if (list === undefined) this.byMember.set(member.id, (list = []));
        list.push(push);
      }
      this.all.push({ push, to: recipients.map((m) => m.id) });
      for (const wake of [...this.#listeners]) wake();
    });
  }

  of(memberId: string): Push[] {
    return this.byMember.get(memberId) ?? [];
  }

  /** Resolves once `memberId` has received a push of `room` with at least this offset. */
  until(memberId: string, room: string, offset: number, ms = 10_000): Promise<void> {
    const done = (): boolean => this.of(memberId).some((p) => p.room === room && p.offset >= offset);
    return when(done, (recheck) => this.#listeners.add(recheck), ms, `${memberId} to get ${room}#${offset}`);
  }
}

const member = (id: string, data?: unknown): EngineMember => (data === undefined ? { id } : { id, data });
const offsets = (pushes: readonly Push[]): number[] => pushes.map((p) => p.offset);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

for (const impl of impls) {
  describe(`Engine conformance: ${impl.name}`, { skip: impl.skip }, () => {
    before(() => impl.start());
    after(() => impl.stop());
    afterEach(async () => {
      await Promise.all(open.splice(0).map((node) => node.close()));
    });

    test("offsets from two nodes publishing at once are distinct, gapless and strictly increasing per publisher", async () => {
      const [a, b, c] = impl.cluster(3).nodes as [Engine, Engine, Engine];
      const atC = new Deliveries(c);
      await c.join("race", member("watcher"));
      const each = 200;
      const [fromA, fromB] = await Promise.all([a, b].map((node, n) =>
        Promise.all(Array.from({ length: each }, (_, i) => node.publish("race", `${n}:${i}`)))));
      const all = [...fromA!, ...fromB!].map((r) => r.offset).sort((x, y) => x - y);
      assert.deepEqual(all, range(1, 2 * each), "every offset assigned once, none skipped");
      for (const results of [fromA!, fromB!]) {
        for (let i = 1; i < results.length; i++) assert.ok(results[i]!.offset > results[i - 1]!.offset, "a node's publishes keep their order");
      }
      assert.equal(new Set([...fromA!, ...fromB!].map((r) => r.epoch)).size, 1, "one epoch");
      await atC.until("watcher", "race", 2 * each);
      assert.deepEqual(offsets(atC.of("watcher")), range(1, 2 * each), "delivered once each, in offset order");
    });

    test("history is bounded by count (and a per-room override); recovered says whether it covers a position", async () => {
      const [a] = impl.cluster(1, {
        history: { maxCount: 5, forRoom: (room) => (room === "tiny" ? { maxCount: 2 } : undefined) },
      }).nodes as [Engine];
      for (let i = 1; i <= 12; i++) await a.publish("room", `m${i}`);
      const latest = await a.history("room", { limit: 100 });
      assert.deepEqual(offsets(latest.pushes), [8, 9, 10, 11, 12]);
      assert.deepEqual(latest.pushes.map((p) => p.payload), ["m8", "m9", "m10", "m11", "m12"]);
      assert.equal(latest.offset, 12);
      assert.equal(latest.recovered, true);
      const epoch = latest.epoch;
      assert.deepEqual(offsets((await a.history("room", { limit: 2 })).pushes), [11, 12], "without since: the newest `limit`");
      const covered = await a.history("room", { since: { offset: 7, epoch }, limit: 100 });
      assert.equal(covered.recovered, true);
      assert.deepEqual(offsets(covered.pushes), [8, 9, 10, 11, 12]);
      assert.deepEqual(offsets((await a.history("room", { since: { offset: 7, epoch }, limit: 2 })).pushes), [8, 9]);
      const trimmed = await a.history("room", { since: { offset: 6, epoch }, limit: 100 });
      assert.equal(trimmed.recovered, false, "push 7 was trimmed: the gap cannot be filled");
      assert.deepEqual(trimmed.pushes, []);
      const upToDate = await a.history("room", { since: { offset: 12, epoch }, limit: 100 });
      assert.equal(upToDate.recovered, true);
      assert.deepEqual(upToDate.pushes, []);
      assert.equal((await a.history("room", { since: { offset: 13, epoch }, limit: 10 })).recovered, false, "a position from the future");
      for (let i = 1; i <= 4; i++) await a.publish("tiny", `t${i}`);
      assert.deepEqual(offsets((await a.history("tiny", { limit: 100 })).pushes), [3, 4], "the per-room override");
    });

    test("history is bounded by age: old pushes leave it, the offset stays", async () => {
      const [a] = impl.cluster(1, { history: { maxAgeMs: 150 } }).nodes as [Engine];
      for (let i = 1; i <= 3; i++) await a.publish("aging", `m${i}`);
      const fresh = await a.history("aging", { limit: 10 });
      assert.deepEqual(offsets(fresh.pushes), [1, 2, 3]);
      await eventually("the pushes to age out of the history", async () => (await a.history("aging", { limit: 10 })).pushes.length === 0, 10_000);
      const aged = await a.history("aging", { since: { offset: 1, epoch: fresh.epoch }, limit: 10 });
      assert.equal(aged.recovered, false, "pushes 2 and 3 expired");
      assert.equal(aged.epoch, fresh.epoch);
      assert.equal((await a.history("aging", { since: { offset: 3, epoch: fresh.epoch }, limit: 10 })).recovered, true, "nothing missed");
      assert.equal((await a.publish("aging", "m4")).offset, 4, "offsets go on after expiry");
    });

    test("the epoch changes when the store loses its data (memory: restart; Redis: FLUSHALL) → recovered false", async () => {
      const cluster = impl.cluster(1);
      const [a] = cluster.nodes as [Engine];
      await a.publish("room", "before");
      const seen: StreamPosition = await a.publish("room", "before 2");
      const [again] = await cluster.loseData() as [Engine];
      const plain = await again.history("room", { limit: 10 });
      assert.notEqual(plain.epoch, seen.epoch, "a new epoch");
      assert.deepEqual(plain.pushes, []);
      const after1 = await again.publish("room", "after");
      assert.equal(after1.offset, 1, "offsets start again in the new epoch");
      assert.equal(after1.epoch, plain.epoch);
      const recovery = await again.history("room", { since: seen, limit: 10 });
      assert.equal(recovery.recovered, false);
      const joined = await again.join("room", member("m"), { since: seen });
      assert.equal(joined.recovered, false);
      assert.equal(joined.resume(), true);
    });

    test("join with since: the missed pushes, then live ones, no gap and no duplicate while another node publishes", async () => {
      const [pub, b, c] = impl.cluster(3, { history: { maxCount: 1_000 } }).nodes as [Engine, Engine, Engine];
      const atB = new Deliveries(b);
      const atC = new Deliveries(c);
      await b.join("live", member("steady"));
      const total = 300;
      let published = 0;
      const publishing = (async () => {
        for (let i = 1; i <= total; i++) {
          await pub.publish("live", `p${i}`);
          published = i;
          // Let I/O and timers run between publishes (the memory engine would otherwise finish
          // all of them in one burst of microtasks, before any member comes back).
          if (i % 5 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
      })();
      // Five members come back at different points of the stream, each having seen up to `k`.
      const joiners = [20, 60, 100, 150, 200].map(async (k, n) => {
        await eventually(`publisher to pass ${k}`, () => published >= k, 20_000, 1);
        const node = n % 2 === 0 ? c : b;
        const seen = node === c ? atC : atB;
        const { epoch } = await pub.history("live", { limit: 0 });
        const id = `back-${n}`;
        const joined = await node.join("live", member(id), { since: { offset: k, epoch } });
        assert.equal(joined.recovered, true);
        const got = [...offsets(joined.pushes)];
        assert.equal(joined.resume(), true, "the handover lost nothing");
        await publishing;
        if (got.at(-1) !== total) await seen.until(id, "live", total, 20_000);
        got.push(...offsets(seen.of(id)));
        assert.deepEqual(got, range(k + 1, total), `${id}: every push after ${k} once, in order`);
      });
      await Promise.all([publishing, ...joiners]);
      await atB.until("steady", "live", total);
      assert.deepEqual(offsets(atB.of("steady")), range(1, total), "an existing member is not disturbed by the joins");
    });

    test("join with history N gives a late joiner the latest N pushes", async () => {
      const [a, b] = impl.cluster(2).nodes as [Engine, Engine];
      for (let i = 1; i <= 6; i++) await a.publish("chat", `line ${i}`);
      const joined = await b.join("chat", member("late"), { history: 3 });
      assert.deepEqual(joined.pushes.map((p) => p.payload), ["line 4", "line 5", "line 6"]);
      assert.equal(joined.offset, 6);
      assert.equal(joined.resume(), true);
      const plain = await b.join("chat", member("plain"));
      assert.deepEqual(plain.pushes, []);
      assert.equal(plain.offset, 6, "a plain join still tells the position (a client that sees no push can recover)");
    });

    test("idempotent publish: a repeat key returns the first position and publishes nothing", async () => {
      const [a, b] = impl.cluster(2).nodes as [Engine, Engine];
      const atB = new Deliveries(b);
      await b.join("idem", member("m"));
      const first = await a.publish("idem", "hello", { idempotencyKey: "msg-1" });
      const [again, fromB] = await Promise.all([
        a.publish("idem", "hello", { idempotencyKey: "msg-1" }),
        b.publish("idem", "hello", { idempotencyKey: "msg-1" }),
      ]);
      assert.equal(first.duplicate, false);
      for (const repeat of [again!, fromB!]) {
        assert.deepEqual({ offset: repeat.offset, epoch: repeat.epoch, duplicate: repeat.duplicate }, { offset: first.offset, epoch: first.epoch, duplicate: true });
      }
      const next = await a.publish("idem", "fence", { idempotencyKey: "msg-2" });
      assert.equal(next.offset, first.offset + 1);
      await atB.until("m", "idem", next.offset);
      assert.deepEqual(atB.of("m").map((p) => p.payload), ["hello", "fence"], "delivered once");
      assert.deepEqual((await a.history("idem", { limit: 10 })).pushes.map((p) => p.payload), ["hello", "fence"]);
    });

    test("except skips one member; members() lists every node's members; localMembers() this node's", async () => {
      const [a, b, c] = impl.cluster(3).nodes as [Engine, Engine, Engine];
      const atA = new Deliveries(a);
      await a.join("room", member("alice", { name: "Alice" }));
      await a.join("room", member("amy"));
      await b.join("room", member("bob", { name: "Bob" }));
      const listed = (await c.members("room")).map((m) => ({ ...m })).sort((x, y) => x.id.localeCompare(y.id));
      assert.deepEqual(listed, [
        { id: "alice", node: "node-0", data: { name: "Alice" } },
        { id: "amy", node: "node-0" },
        { id: "bob", node: "node-1", data: { name: "Bob" } },
      ]);
      assert.deepEqual(a.localMembers("room").map((m) => m.id).sort(), ["alice", "amy"]);
      assert.deepEqual(c.localMembers("room"), []);
      const skipped = await b.publish("room", "not for alice", { except: "alice" });
      const fence = await b.publish("room", "for all");
      await atA.until("alice", "room", fence.offset);
      assert.deepEqual(atA.of("alice").map((p) => p.payload), ["for all"]);
      assert.deepEqual(offsets(atA.of("amy")), [skipped.offset, fence.offset]);
      await a.leave("room", "alice");
      assert.deepEqual((await c.members("room")).map((m) => m.id).sort(), ["amy", "bob"]);
    });

    test("only nodes with members of a room are subscribed and receive its pushes", async () => {
      const cluster = impl.cluster(3);
      const [a, b, c] = cluster.nodes as [Engine, Engine, Engine];
      const atC = new Deliveries(c);
      await b.join("news", member("reader"));
      await c.join("fence", member("c-fence"));
      assert.equal(await cluster.subscribers("news"), 1, "only node b is subscribed to news");
      await a.publish("news", "to b only");
      await a.publish("fence", "fence");
      await atC.until("c-fence", "fence", 1);
      assert.deepEqual(atC.all.map((d) => d.push.room), ["fence"], "node c got nothing of news");
    });

    test("the first local member subscribes the node once; the last one leaving unsubscribes it", async () => {
      const cluster = impl.cluster(2);
      const [a, b] = cluster.nodes as [Engine, Engine];
      const atB = new Deliveries(b);
      assert.equal(await cluster.subscribers("r"), 0);
      await Promise.all([b.join("r", member("x")), b.join("r", member("y"))]);
      assert.equal(await cluster.subscribers("r"), 1, "two members, one subscription");
      await b.leave("r", "x");
      assert.equal(await cluster.subscribers("r"), 1);
      await b.leave("r", "y");
      assert.equal(await cluster.subscribers("r"), 0, "the last leave unsubscribed");
      assert.deepEqual(b.localRooms(), []);
      await b.join("r", member("z"));
      assert.equal(await cluster.subscribers("r"), 1, "a new first member subscribes again");
      const pushed = await a.publish("r", "back");
      await atB.until("z", "r", pushed.offset);
    });

    test("checks arguments; after close() calls throw StateError", async () => {
      const [a] = impl.cluster(1).nodes as [Engine];
      await assert.rejects(async () => a.publish("", "x"), OptionError);
      await assert.rejects(async () => a.publish("r", { not: "text" } as unknown as string), OptionError);
      await a.close();
      await a.close();
      await assert.rejects(async () => a.publish("r", "x"), StateError);
      await assert.rejects(async () => a.join("r", member("m")), StateError);
    });
  });
}

describe("Redis engine: sharded pub/sub (SSUBSCRIBE / SPUBLISH)", { skip: redisBin ? false : REDIS_MISSING }, () => {
  const redisImpl = impls.find((impl) => impl.name === "redis engine")!;
  before(() => redisImpl.start());
  after(() => redisImpl.stop());
  afterEach(async () => {
    await Promise.all(open.splice(0).map((node) => node.close()));
  });

  test("pushes travel over sharded channels, subscribed only while the room has local members", async () => {
    const cluster = redisImpl.cluster(2, { sharded: true });
    const [a, b] = cluster.nodes as [Engine, Engine];
    const atB = new Deliveries(b);
    await b.join("s", member("m"));
    assert.equal(await cluster.subscribers("s"), 1);
    const first = await a.publish("s", "one");
    const second = await a.publish("s", "two");
    await atB.until("m", "s", second.offset);
    assert.deepEqual(offsets(atB.of("m")), [first.offset, second.offset]);
    await b.leave("s", "m");
    assert.equal(await cluster.subscribers("s"), 0);
  });
});
