// Issue 14, defect 13: the fast send path reads private fields of `ws`. The first tests FAIL
// LOUDLY when the installed ws no longer has them as we read them (do not "fix" this test:
// re-check src/transport/websocket.ts against the new ws, then update both). The last ones
// play a ws release that renamed them: every socket falls back to ws's public API, with one
// warning, and still delivers every message in order.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { Writable } from "node:stream";
import WebSocket, { WebSocketServer } from "ws";
import { readWsPrivates, wsPrivatesSeam } from "../../src/transport/websocket.ts";
import { startServer } from "../helpers/server.ts";
import { connect, withTimeout, WAIT_MS, type TestClient } from "../helpers/ws-client.ts";
import { deferred } from "../helpers/until.ts";

const wsVersion = (createRequire(import.meta.url)("ws/package.json") as { version: string }).version;
const because = `ws ${wsVersion} changed a private field that src/transport/websocket.ts reads`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Privates = any;

/** A plain ws server and client pair: the server side's WebSocket, and the client. */
async function wsPair(t: { after(fn: () => unknown): void }, perMessageDeflate = false): Promise<{ server: WebSocket; client: WebSocket }> {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: perMessageDeflate ? { threshold: 0 } : false });
  t.after(() => new Promise<void>((resolve) => {
    for (const ws of wss.clients) ws.terminate(); // ws's close() waits for its connections
    wss.close(() => resolve());
  }));
  await new Promise<void>((resolve) => wss.once("listening", resolve));
  const serverSide = new Promise<WebSocket>((resolve) => wss.once("connection", resolve));
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`, { perMessageDeflate });
  await withTimeout(new Promise((resolve, reject) => client.once("open", resolve).once("error", reject)), WAIT_MS, "no ws connection");
  return { server: await serverSide, client };
}

test("ws has the private fields the fast path reads, with the types it expects", async (t) => {
  const { server } = await wsPair(t);
  const ws = server as Privates;
  assert.equal(typeof ws._sender, "object", because);
  assert.equal(ws._sender._state, 0, `${because}: an idle sender's _state is 0`);
  assert.ok(Array.isArray(ws._sender._queue), `${because}: _sender._queue is an array`);
  assert.equal(ws._sender._bufferedBytes, 0, `${because}: _sender._bufferedBytes is a number`);
  assert.ok(ws._receiver instanceof Writable, `${because}: _receiver is a Writable`);
  assert.equal(ws._receiver._bufferedBytes, 0, `${because}: _receiver._bufferedBytes is a number`);
  assert.notEqual(readWsPrivates(server), undefined, "the transport's own check accepts this ws");
});

test("ws's sender shows a compression in progress the way the fast path checks it", async (t) => {
  const { server } = await wsPair(t, true);
  const sender = (server as Privates)._sender;
  server.send("x".repeat(10_000));
  assert.notEqual(sender._state, 0, `${because}: a sender that is compressing has _state != 0`);
  server.send("y".repeat(10_000));
  assert.equal(sender._queue.length, 1, `${because}: a send behind a compression waits in _queue`);
  assert.ok(sender._bufferedBytes >= 10_000, `${because}: queued bytes are counted in _bufferedBytes`);
});

test("ws's parser shows unparsed input during a message the way the fast path checks it", async (t) => {
  const { server, client } = await wsPair(t);
  const seen: number[] = [];
  const both = deferred();
  server.on("message", () => {
    seen.push((server as Privates)._receiver._bufferedBytes);
    if (seen.length === 2) both.resolve();
  });
  // Two frames in one TCP write: the first message is handled while the second is unparsed.
  const raw = (client as Privates)._socket;
  raw.cork();
  client.send("one");
  client.send("two");
  raw.uncork();
  await withTimeout(both.promise, WAIT_MS, "two messages");
  assert.ok(seen[0]! > 0, `${because}: _receiver._bufferedBytes counts the rest of the read during a message`);
  assert.equal(seen[1], 0, `${because}: and is 0 for the last message of the read`);
});

test("our server uses the fast path on this ws: no fallback warning", async (t) => {
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => void warnings.push(warning);
  process.on("warning", onWarning);
  t.after(() => process.off("warning", onWarning));
  const server = await startServer({}, (s) => s.endpoint("/echo", { message: (conn, data) => void conn.send(data) }));
  t.after(() => server.stop());
  const client = await connect(server.url("/echo"));
  client.send("fast");
  assert.equal((await client.next()).text, "fast");
  await client.close();
  await new Promise((resolve) => setImmediate(resolve)); // process warnings are emitted on nextTick
  assert.deepEqual(warnings.filter((w) => (w as { code?: string }).code === "SWITCHBOARD_WS_PRIVATES"), []);
});

/** Send m0 … m(count-1) in one corked write (the server reads many frames at once). */
function sendBurst(client: TestClient, count: number): void {
  const raw = (client.ws as Privates)._socket;
  raw.cork();
  for (let i = 0; i < count; i++) client.send(`m${i}`);
  raw.uncork();
}

/** The next `n` messages, in arrival order. */
async function collect(client: TestClient, n: number): Promise<string[]> {
  const got: string[] = [];
  for (let i = 0; i < n; i++) got.push((await client.next()).text);
  return got;
}

const numbered = (count: number) => Array.from({ length: count }, (_, i) => `m${i}`);

test("without ws's private fields (a ws release renamed them): one warning, and every send still arrives in order", async (t) => {
  const original = wsPrivatesSeam.source;
  wsPrivatesSeam.source = () => ({}); // ws itself keeps working; only our reads find nothing
  t.after(() => void (wsPrivatesSeam.source = original));
  const warned = deferred<Error>();
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => {
    if ((warning as { code?: string }).code !== "SWITCHBOARD_WS_PRIVATES") return;
    warnings.push(warning);
    warned.resolve(warning);
  };
  process.on("warning", onWarning);
  t.after(() => process.off("warning", onWarning));

  const buffered: number[] = [];
  const server = await startServer({}, (s) => {
    s.endpoint("/echo", {
      message: (conn, data) => {
        buffered.push(conn.bufferedAmount);
        conn.send(data.toString()); // one send...
        conn.send(`again:${data.toString()}`); // ...and a second in the same tick (the corked path)
      },
    });
    s.endpoint("/zip", { perMessageDeflate: { threshold: 0 }, message: (conn, data) => void conn.send(data.toString()) });
    const fan = s.endpoint("/fan", { message: (_conn, data) => void fan.broadcast(data.toString()) });
  });
  t.after(() => server.stop());

  const echo = await connect(server.url("/echo"));
  sendBurst(echo, 300);
  assert.deepEqual(await collect(echo, 600), numbered(300).flatMap((m) => [m, `again:${m}`]));
  assert.ok(buffered.every((n) => Number.isFinite(n)), "bufferedAmount comes from ws.bufferedAmount");

  const zip = await connect(server.url("/zip"), undefined, { perMessageDeflate: true });
  assert.match(zip.ws.extensions, /permessage-deflate/);
  sendBurst(zip, 200);
  assert.deepEqual(await collect(zip, 200), numbered(200));

  // Broadcast (frame once, write many) falls back to ws.send for every socket.
  const [a, b] = await Promise.all([connect(server.url("/fan")), connect(server.url("/fan"))]);
  sendBurst(a!, 100);
  const [atA, atB] = await Promise.all([collect(a!, 100), collect(b!, 100)]);
  assert.deepEqual(atA, numbered(100));
  assert.deepEqual(atB, numbered(100));

  await withTimeout(warned.promise, WAIT_MS, "the fallback warning");
  assert.equal(warnings.length, 1, "warned once per process, not once per socket");
  assert.match(warnings[0]!.message, /ws\.send and ws\.bufferedAmount/);
  await Promise.all([echo.close(), zip.close(), a!.close(), b!.close()]);
});
