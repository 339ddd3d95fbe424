import { test } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "../helpers/server.ts";
import { connect, type TestClient } from "../helpers/ws-client.ts";
import type { Connection } from "../../src/index.ts";

test("broadcast reaches every client exactly once and skips the excepted one", async (t) => {
  const server = await startServer({}, (s) =>
    s.endpoint("/room", {
      message(conn, data) {
        const result = s.endpoints.get("/room")!.broadcast(data.toString(), { except: conn as Connection<unknown> });
        conn.send(`sent to ${result.sent}`);
      },
    }),
  );
  t.after(() => server.stop());
  const clients: TestClient[] = [];
  for (let i = 0; i < 20; i++) clients.push(await connect(server.url("/room")));
  const [sender, ...others] = clients as [TestClient, ...TestClient[]];
  sender.send("hello all");
  assert.equal((await sender.next()).text, "sent to 19");
  for (const other of others) assert.equal((await other.next()).text, "hello all");
  // Exactly once: after a second, distinct broadcast each receiver's next message is that one.
  others[0]!.send("second");
  assert.equal((await others[0]!.next()).text, "sent to 19");
  assert.equal((await sender.next()).text, "second");
  for (const other of others.slice(1)) assert.equal((await other.next()).text, "second");
  for (const client of clients) assert.equal(client.pending, 0);
  await Promise.all(clients.map((c) => c.close()));
});

test("broadcast keeps binary binary, and the frame-once path keeps order with plain sends", async (t) => {
  const server = await startServer({}, (s) => s.endpoint("/b"));
  t.after(() => server.stop());
  const a = await connect(server.url("/b"));
  const b = await connect(server.url("/b"));
  const endpoint = server.endpoints.get("/b")!;
  for (const conn of endpoint.connections.values()) conn.send("first");
  endpoint.broadcast(Buffer.from([1, 2, 3]));
  for (const conn of endpoint.connections.values()) conn.send("third");
  for (const client of [a, b]) {
    assert.equal((await client.next()).text, "first");
    const second = await client.next();
    assert.equal(second.isBinary, true);
    assert.deepEqual([...second.data], [1, 2, 3]);
    assert.equal((await client.next()).text, "third");
  }
  await Promise.all([a.close(), b.close()]);
});

test("broadcast over permessage-deflate connections stays in order with compressed sends", async (t) => {
  const server = await startServer({ perMessageDeflate: { threshold: 0 } }, (s) => s.endpoint("/z"));
  t.after(() => server.stop());
  const client = await connect(server.url("/z"), undefined, { perMessageDeflate: true });
  const endpoint = server.endpoints.get("/z")!;
  const conn = [...endpoint.connections.values()][0]!;
  for (let i = 0; i < 50; i++) {
    if (i % 2 === 0) conn.send(`send ${i} ${"x".repeat(100)}`);
    else endpoint.broadcast(`broadcast ${i}`);
  }
  for (let i = 0; i < 50; i++) assert.match((await client.next()).text, new RegExp(`^(send|broadcast) ${i}\\b`));
  await client.close();
});

test("slow consumer, policy drop: sends past maxBufferedBytes are refused and counted", async (t) => {
  const server = await startServer({}, (s) => s.endpoint("/slow", { maxBufferedBytes: 64 * 1024, slowConsumer: "drop" }));
  t.after(() => server.stop());
  const client = await connect(server.url("/slow"));
  const endpoint = server.endpoints.get("/slow")!;
  const conn = [...endpoint.connections.values()][0]!;
  const chunk = Buffer.alloc(32 * 1024);
  // All in one tick. The first send goes to the kernel at once (what it cannot take stays
  // queued); from the second on the socket is corked, so each send adds 32 KiB to the queue
  // until a send finds more than 64 KiB queued: that one and every later one are refused.
  const results = Array.from({ length: 10 }, () => conn.send(chunk));
  const accepted = results.indexOf(false);
  assert.ok(accepted >= 2 && accepted <= 3, `refusals start at the 3rd or 4th send: ${results}`);
  assert.deepEqual(results.slice(accepted), Array(10 - accepted).fill(false));
  assert.equal(endpoint.stats().slowConsumerDrops, 10 - accepted);
  // The connection stays open and gets exactly what was accepted.
  for (let i = 0; i < accepted; i++) assert.equal((await client.next()).data.length, chunk.length);
  client.send("ping");
  conn.send("after");
  assert.equal((await client.next()).text, "after");
  await client.close();
});

test("slow consumer, policy close (default): the connection is closed with 4000", async (t) => {
  const server = await startServer({}, (s) => s.endpoint("/slow", { maxBufferedBytes: 64 * 1024 }));
  t.after(() => server.stop());
  const client = await connect(server.url("/slow"));
  const endpoint = server.endpoints.get("/slow")!;
  // One tick: the first 100 KiB goes to the kernel (what it cannot take stays queued), the
  // second is corked on top, so by the third at the latest more than 64 KiB is queued: that
  // send is skipped and the connection closed.
  const big = Buffer.alloc(100 * 1024);
  assert.equal(endpoint.broadcast(big).sent, 1);
  const skipped = [endpoint.broadcast(big).skipped, endpoint.broadcast(big).skipped];
  assert.ok(skipped.includes(1), `the 2nd or 3rd broadcast is skipped: ${skipped}`);
  assert.equal((await client.waitClosed()).code, 4000);
  assert.equal(endpoint.stats().slowConsumerCloses, 1);
});

test("a client that stops reading becomes a slow consumer and is closed; others are unaffected", async (t) => {
  const server = await startServer({}, (s) => s.endpoint("/feed", { maxBufferedBytes: 256 * 1024 }));
  t.after(() => server.stop());
  const reader = await connect(server.url("/feed"));
  const stalled = await connect(server.url("/feed"));
  (stalled.ws as unknown as { _socket: { pause(): void } })._socket.pause();
  const endpoint = server.endpoints.get("/feed")!;
  const payload = Buffer.alloc(16 * 1024);
  let received = 0;
  reader.ws.on("message", () => received++);
  // Bounded: at most 4,000 messages (64 MiB), one per turn of the event loop so the reader keeps up.
  let sent = 0;
  while (endpoint.connections.size === 2 && endpoint.stats().slowConsumerCloses === 0 && sent < 4_000) {
    endpoint.broadcast(payload);
    sent++;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  assert.equal(endpoint.stats().slowConsumerCloses, 1, `no slow-consumer close after ${sent} messages`);
  stalled.ws.terminate();
  reader.send("done");
  await reader.close();
  assert.equal(received, sent);
});
