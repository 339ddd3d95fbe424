/**
 * say/subscribe/unsubscribe across node PROCESSES sharing one private redis-server.
 * "Exactly once" and "not delivered" are proven with fences (messages published later by the
 * same node on the same connection arrive later), never with sleeps.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { redisForFile } from "../helpers/redis.ts";
import { received, startNodes, stopNodes } from "../helpers/cluster-nodes.ts";

const shared = redisForFile();
const skip = shared.skip;

test("two nodes: say reaches the other, not the sayer; unsubscribe stops it; includeSelf", { skip }, async () => {
  const [a, b] = await startNodes(shared.redis.url, 2, { prefix: "two:" });
  try {
    await a!.request("subscribe", { channel: "chat", tag: "chat" });
    await a!.request("subscribe", { channel: "chat", tag: "self", includeSelf: true });
    await b!.request("subscribe", { channel: "chat", tag: "chat" });
    await b!.request("subscribe", { channel: "fence", tag: "fence" });
    await Promise.all([a!.request("ready"), b!.request("ready")]);

    await a!.request("publish", { channel: "chat", payload: { text: "hi" } });
    await b!.waitFor((e) => e.ev === "msg" && e.tag === "chat", "chat at b");
    await b!.request("publish", { channel: "chat", payload: "fence" });
    await a!.waitFor((e) => e.ev === "msg" && e.tag === "chat", "fence at a");
    await a!.waitFor((e) => e.ev === "msg" && e.tag === "self" && e.payload === "fence", "fence at a (includeSelf)");
    assert.deepEqual(received(a!, "chat"), ["fence"], "a does not hear itself");
    assert.deepEqual(received(a!, "self"), [{ text: "hi" }, "fence"], "includeSelf hears both, once each");
    assert.deepEqual(b!.all("msg", (e) => e.tag === "chat").map((e) => e.from), ["node-0"]);

    await b!.request("unsubscribe", { tag: "chat" });
    await b!.request("ready");
    await a!.request("publish", { channel: "chat", payload: "after unsubscribe" });
    await a!.request("publish", { channel: "fence", payload: 1 });
    await b!.waitFor((e) => e.ev === "msg" && e.tag === "fence", "fence at b");
    assert.deepEqual(received(b!, "chat"), [{ text: "hi" }], "nothing after unsubscribe");
  } finally {
    await stopNodes([a!, b!]);
  }
  assert.equal((await a!.exited).code, 0);
  assert.equal((await b!.exited).code, 0);
});

test("three nodes: every say reaches every other node exactly once, in order", { skip }, async () => {
  const nodes = await startNodes(shared.redis.url, 3, { prefix: "three:" });
  try {
    for (const node of nodes) await node.request("subscribe", { channel: "chat", tag: "chat" });
    await Promise.all(nodes.map((node) => node.request("ready")));
    const perNode = 20;
    for (const [i, node] of nodes.entries()) {
      for (let n = 0; n < perNode; n++) await node.request("publish", { channel: "chat", payload: { from: i, n } });
      await node.request("publish", { channel: "chat", payload: { from: i, fence: true } });
    }
    for (const [i, node] of nodes.entries()) {
      for (const j of [0, 1, 2].filter((j) => j !== i)) {
        await node.waitFor((e) => e.ev === "msg" && (e.payload as { from: number; fence?: boolean }).from === j
          && (e.payload as { fence?: boolean }).fence === true, `fence of node-${j} at node-${i}`);
      }
      const got = received(node, "chat") as { from: number; n?: number; fence?: boolean }[];
      assert.equal(got.filter((m) => m.from === i).length, 0, `node-${i} hears none of its own`);
      for (const j of [0, 1, 2].filter((j) => j !== i)) {
        const fromJ = got.filter((m) => m.from === j && m.fence === undefined).map((m) => m.n);
        assert.deepEqual(fromJ, Array.from({ length: perNode }, (_, n) => n), `node-${i} from node-${j}: once each, in order`);
      }
    }
  } finally {
    await stopNodes(nodes);
  }
  for (const node of nodes) {
    assert.equal((await node.exited).code, 0);
    assert.equal(node.all("fatal").length, 0);
  }
});
