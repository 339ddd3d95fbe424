/**
 * One suite, every ClusterBus implementation: the in-memory bus (nodes sharing a MemoryBusHub),
 * the IPC bus (workers talking to one IpcBusHub over ports that copy each message as Node's IPC
 * would) and the Redis bus (nodes sharing a private redis-server). The same assertions for all.
 *
 * "Nothing arrives" is proven with a fence, never a sleep: after the message that must not
 * arrive at node A, node B (which did get it) publishes a fence on the same channel. Redis (and
 * the hub) hand a subscriber messages in the order they were published, so when A sees the fence
 * it would already have seen the other message.
 */
import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createLogger } from "../../src/log.ts";
import { OptionError, StateError } from "../../src/errors.ts";
import { createBus, MemoryBusHub, IpcBusHub, type ClusterBus, type BusMessageMeta } from "../../src/cluster/index.ts";
import { closePortPair, portPair } from "../../src/cluster/ipc-port.ts";
import { Inbox } from "../helpers/inbox.ts";
import { REDIS_MISSING, redisServerPath, startRedis, type RedisHandle } from "../helpers/redis.ts";

const logger = createLogger({ level: "silent" });

interface Impl {
  name: string;
  skip: string | false;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** n nodes of one fresh cluster. */
  nodes(n: number): ClusterBus[];
}

let redis: RedisHandle | undefined;
let cluster = 0;
const redisBin = redisServerPath();

const impls: Impl[] = [
  {
    name: "memory bus",
    skip: false,
    async start() {},
    async stop() {},
    nodes(n) {
      const hub = new MemoryBusHub();
      return Array.from({ length: n }, (_, i) => createBus({ nodeId: `node-${i}` }, { hub, logger }));
    },
  },
  {
    name: "ipc bus",
    skip: false,
    async start() {},
    async stop() {},
    nodes(n) {
      const hub = new IpcBusHub({ logger });
      return Array.from({ length: n }, (_, i) => {
        const [worker, primary] = portPair();
        hub.add(primary);
        const bus = createBus({ ipc: true, nodeId: `node-${i}` }, { logger, port: worker });
        // A worker's bus closes when the worker exits: cut its channel then.
        const close = bus.close.bind(bus);
        bus.close = async () => {
          await close();
          closePortPair(worker);
        };
        return bus;
      });
    },
  },
  {
    name: "redis bus",
    skip: redisBin ? false : REDIS_MISSING,
    async start() {
      redis = await startRedis(redisBin!);
    },
    async stop() {
      await redis?.stop();
    },
    nodes(n) {
      const prefix = `conf${++cluster}:`; // a fresh cluster per test on the shared server
      return Array.from({ length: n }, (_, i) => createBus({ redis: redis!.url, prefix, nodeId: `node-${i}` }, { logger }));
    },
  },
];

interface Got {
  payload: unknown;
  meta: BusMessageMeta;
}

function inbox(): Inbox<Got> & { handler: (payload: unknown, meta: BusMessageMeta) => void } {
  const box = new Inbox<Got>() as Inbox<Got> & { handler: (payload: unknown, meta: BusMessageMeta) => void };
  box.handler = (payload, meta) => box.push({ payload, meta });
  return box;
}

async function settled(nodes: ClusterBus[]): Promise<void> {
  await Promise.all(nodes.map((node) => node.ready({ signal: AbortSignal.timeout(5_000) })));
}

for (const impl of impls) {
  describe(`ClusterBus conformance: ${impl.name}`, { skip: impl.skip }, () => {
    let open: ClusterBus[] = [];
    const make = (n: number): ClusterBus[] => {
      const nodes = impl.nodes(n);
      open.push(...nodes);
      return nodes;
    };
    before(() => impl.start());
    after(() => impl.stop());
    afterEach(async () => {
      await Promise.all(open.map((node) => node.close()));
      open = [];
    });

    test("publish reaches every other node once, with the publisher's nodeId", async () => {
      const [a, b, c] = make(3) as [ClusterBus, ClusterBus, ClusterBus];
      const atB = inbox();
      const atC = inbox();
      b.subscribe("news", atB.handler);
      c.subscribe("news", atC.handler);
      await settled([a, b, c]);
      a.publish("news", { n: 1 });
      assert.deepEqual(await atB.next(), { payload: { n: 1 }, meta: { channel: "news", from: "node-0" } });
      assert.deepEqual(await atC.next(), { payload: { n: 1 }, meta: { channel: "news", from: "node-0" } });
      // Exactly once: a fence from A arrives next, not a second copy.
      a.say("news", "fence");
      assert.equal((await atB.next()).payload, "fence");
      assert.equal((await atC.next()).payload, "fence");
    });

    test("a node does not receive its own messages unless it asks (includeSelf)", async () => {
      const [a, b] = make(2) as [ClusterBus, ClusterBus];
      const own = inbox();
      const self = inbox();
      const atB = inbox();
      a.subscribe("ch", own.handler);
      a.subscribe("ch", self.handler, { includeSelf: true });
      b.subscribe("ch", atB.handler);
      await settled([a, b]);
      a.publish("ch", "mine");
      assert.equal((await atB.next()).payload, "mine");
      b.publish("ch", "fence");
      assert.equal((await own.next()).payload, "fence", "A's plain subscriber must not get A's own message");
      assert.deepEqual(await self.take(2), [
        { payload: "mine", meta: { channel: "ch", from: "node-0" } },
        { payload: "fence", meta: { channel: "ch", from: "node-1" } },
      ]);
      assert.equal(self.unread.length, 0, "includeSelf delivers our own message once, not twice");
    });

    test("unsubscribe stops delivery to that handler only; it is idempotent", async () => {
      const [a, b] = make(2) as [ClusterBus, ClusterBus];
      const gone = inbox();
      const kept = inbox();
      const off = b.subscribe("ch", gone.handler);
      b.subscribe("ch", kept.handler);
      await settled([a, b]);
      off();
      off();
      a.publish("ch", 1);
      a.publish("ch", 2);
      assert.deepEqual((await kept.take(2)).map((g) => g.payload), [1, 2]);
      assert.equal(gone.items.length, 0);
    });

    test("the last unsubscribe of a channel stops it on that node; subscribing again resumes", async () => {
      const [a, b] = make(2) as [ClusterBus, ClusterBus];
      const first = inbox();
      const fence = inbox();
      b.subscribe("fence", fence.handler);
      const off = b.subscribe("ch", first.handler);
      await settled([a, b]);
      off();
      await settled([a, b]);
      a.publish("ch", "lost");
      a.publish("fence", 1);
      await fence.next();
      assert.equal(first.items.length, 0);
      const again = inbox();
      b.subscribe("ch", again.handler);
      await settled([a, b]);
      a.publish("ch", "back");
      assert.equal((await again.next()).payload, "back");
    });

    test("messages from one publisher keep their order", async () => {
      const [a, b] = make(2) as [ClusterBus, ClusterBus];
      const atB = inbox();
      b.subscribe("seq", atB.handler);
      await settled([a, b]);
      const count = 500;
      for (let i = 0; i < count; i++) a.publish("seq", i);
      const got = await atB.take(count);
      assert.deepEqual(got.map((g) => g.payload), Array.from({ length: count }, (_, i) => i));
    });

    test("several subscribers on several nodes all get every message", async () => {
      const [a, b, c] = make(3) as [ClusterBus, ClusterBus, ClusterBus];
      const boxes = [inbox(), inbox(), inbox()];
      b.subscribe("ch", boxes[0]!.handler);
      b.subscribe("ch", boxes[1]!.handler);
      c.subscribe("ch", boxes[2]!.handler);
      await settled([a, b, c]);
      a.publish("ch", "x");
      a.publish("ch", "y");
      for (const box of boxes) assert.deepEqual((await box.take(2)).map((g) => g.payload), ["x", "y"]);
    });

    test("channels are separate", async () => {
      const [a, b] = make(2) as [ClusterBus, ClusterBus];
      const one = inbox();
      const two = inbox();
      b.subscribe("one", one.handler);
      b.subscribe("two", two.handler);
      await settled([a, b]);
      a.publish("one", 1);
      a.publish("two", 2);
      assert.equal((await two.next()).payload, 2);
      assert.deepEqual(one.items.map((g) => g.payload), [1]);
      assert.equal(two.items.length, 1);
    });

    test("payloads: JSON values, raw strings (not JSON-quoted) and bytes arrive equal", async () => {
      const [a, b] = make(2) as [ClusterBus, ClusterBus];
      const atB = inbox();
      b.subscribe("p", atB.handler);
      await settled([a, b]);
      const bytes = Buffer.from([0, 10, 13, 255, 0x7b, 10]);
      const sent: unknown[] = [
        { nested: { list: [1, "two", null, true] } }, [1, 2], 42, 0, null, false,
        "plain", "", '{"looks":"like json"}', "ünïcødé ✓ \n 🎉", bytes, Buffer.alloc(0),
      ];
      for (const payload of sent) a.publish("p", payload);
      const got = (await atB.take(sent.length)).map((g) => g.payload);
      assert.deepEqual(got, sent);
      assert.ok(Buffer.isBuffer(got[10]), "a Buffer arrives as a Buffer");
      assert.equal(typeof got[8], "string", "a string that looks like JSON stays a string");
    });

    test("receivers on other nodes get a copy, not the publisher's object", async () => {
      const [a, b] = make(2) as [ClusterBus, ClusterBus];
      const atB = inbox();
      b.subscribe("p", atB.handler);
      await settled([a, b]);
      const sent = { n: 1 };
      a.publish("p", sent);
      sent.n = 2;
      assert.deepEqual((await atB.next()).payload, { n: 1 });
    });

    test("bad input gets a defined answer: OptionError / TypeError, nothing sent", async () => {
      const [a, b] = make(2) as [ClusterBus, ClusterBus];
      const atB = inbox();
      b.subscribe("ch", atB.handler);
      await settled([a, b]);
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      for (const payload of [undefined, () => 1, Symbol("s"), 10n, circular]) {
        assert.throws(() => a.publish("ch", payload), OptionError, `payload ${String(typeof payload)}`);
      }
      for (const channel of ["", 42, undefined, null, "x".repeat(257)]) {
        assert.throws(() => a.publish(channel as string, 1), OptionError);
        assert.throws(() => a.subscribe(channel as string, () => {}), OptionError);
      }
      assert.throws(() => a.subscribe("ch", "not a function" as never), TypeError);
      assert.equal(a.stats.published, 0);
      a.publish("ch", "fence");
      assert.equal((await atB.next()).payload, "fence");
      assert.equal(atB.items.length, 1);
    });

    test("a payload over busMaxPayloadBytes is refused", async () => {
      const hub = new MemoryBusHub();
      const small = impl.name === "memory bus"
        ? createBus({ nodeId: "small", busMaxPayloadBytes: 16 }, { hub, logger })
        : impl.name === "ipc bus"
          ? createBus({ ipc: true, nodeId: "small", busMaxPayloadBytes: 16 }, { logger, port: portPair()[0] })
          : createBus({ redis: redis!.url, prefix: "small:", busMaxPayloadBytes: 16 }, { logger });
      open.push(small);
      assert.throws(() => small.publish("ch", "x".repeat(17)), /busMaxPayloadBytes/);
      assert.throws(() => small.publish("ch", "é".repeat(9)), /busMaxPayloadBytes/, "bytes, not characters");
      assert.throws(() => small.publish("ch", Buffer.alloc(17)), /busMaxPayloadBytes/);
      small.publish("ch", "x".repeat(16));
    });

    test("a handler that throws or rejects does not stop the others or the bus", async () => {
      const [a, b] = make(2) as [ClusterBus, ClusterBus];
      const atB = inbox();
      b.subscribe("ch", () => {
        throw new Error("sync boom");
      });
      b.subscribe("ch", async () => {
        throw new Error("async boom");
      });
      b.subscribe("ch", atB.handler);
      await settled([a, b]);
      a.publish("ch", 1);
      a.publish("ch", 2);
      assert.deepEqual((await atB.take(2)).map((g) => g.payload), [1, 2]);
    });

    test("delivery is asynchronous: never inside publish()", async () => {
      const [a] = make(1) as [ClusterBus];
      const self = inbox();
      a.subscribe("ch", self.handler, { includeSelf: true });
      await settled([a]);
      a.publish("ch", 1);
      assert.equal(self.items.length, 0);
      assert.equal((await self.next()).payload, 1);
    });

    test("close: publish/subscribe throw StateError, handlers are not called, close twice is fine", async () => {
      const [a, b, c] = make(3) as [ClusterBus, ClusterBus, ClusterBus];
      const atB = inbox();
      const atC = inbox();
      b.subscribe("ch", atB.handler);
      c.subscribe("ch", atC.handler);
      await settled([a, b, c]);
      await b.close();
      await b.close();
      assert.throws(() => b.publish("ch", 1), StateError);
      assert.throws(() => b.subscribe("ch", () => {}), StateError);
      await assert.rejects(b.ready(), StateError);
      a.publish("ch", "after");
      assert.equal((await atC.next()).payload, "after");
      assert.equal(atB.items.length, 0);
    });

    test("stats count published and delivered messages", async () => {
      const [a, b] = make(2) as [ClusterBus, ClusterBus];
      const atB = inbox();
      b.subscribe("ch", atB.handler);
      b.subscribe("ch", () => {});
      await settled([a, b]);
      a.publish("ch", 1);
      await atB.next();
      assert.equal(a.stats.published, 1);
      assert.equal(b.stats.delivered, 2);
      assert.equal(a.stats.dropped, 0);
      assert.equal(a.status, "up");
    });
  });
}
