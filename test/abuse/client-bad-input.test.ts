/**
 * The client against bad input from the program that uses it: a URL the WebSocket
 * constructor would refuse, close codes browsers refuse, listeners and option callbacks that
 * throw, a WebSocket constructor that throws when reconnecting. None of it may reach the
 * process as an unhandled rejection or an uncaught exception; each has a defined answer.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { Client } from "../../client/index.ts";
import { within, deferred } from "../helpers/until.ts";
import { activeTimers, echoServer, failure, settled, trapProcessErrors, wsServer } from "./client-helpers.ts";

/** What the client reports on its `error` event (kind and cause are the client's additions). */
type Reported = Error & { kind?: string; cause?: unknown };

const FAST = { initialDelayMs: 5, maxDelayMs: 20, jitter: 0 } as const;

test("a URL that is not ws(s):// throws at construction, naming the URL and the expected form", async (t) => {
  const trap = trapProcessErrors(t);
  for (const bad of ["localhost:8080/app", "127.0.0.1:8080", "ftp://example.com/app", "ws://127.0.0.1:1/app#part", "", "not a url"]) {
    assert.throws(
      () => new Client(bad, { WebSocket, room: null, reconnect: false }),
      (err: Error) => {
        assert.equal(err.name, "SyntaxError", `for ${JSON.stringify(bad)}`);
        assert.ok(err.message.includes(JSON.stringify(bad)), `the message names the URL: ${err.message}`);
        assert.match(err.message, /ws:\/\/host:port\/path/);
        assert.match(err.message, /wss:\/\//);
        return true;
      },
    );
  }
  await settled();
  trap.assertNone();
});

test("http:// and https:// mean ws:// and wss://, as in browsers", async (t) => {
  const trap = trapProcessErrors(t);
  const server = await echoServer();
  t.after(() => server.close());
  const client = new Client(server.url.replace("ws://", "http://"), { WebSocket, room: null });
  assert.equal(client.url, server.url);
  assert.equal(await within(client.call("echo", 7), 5000, "echo over an http:// URL"), 7);
  await within(client.close(), 5000, "close");
  const secure = new Client("https://example.invalid/app", { WebSocket, room: null });
  assert.equal(secure.url, "wss://example.invalid/app");
  await within(secure.close(), 5000, "close before connecting");
  trap.assertNone();
});

test("bad options throw at construction with the option's name", () => {
  assert.throws(() => new Client("ws://127.0.0.1:1/app", { room: null, callTimeoutMs: -1 }), /callTimeoutMs/);
  assert.throws(() => new Client("ws://127.0.0.1:1/app", { room: null, callTimeoutMs: Number.NaN }), /callTimeoutMs/);
  assert.throws(() => new Client("ws://127.0.0.1:1/app", { room: null, maxOfflineQueue: -1 }), /maxOfflineQueue/);
  assert.throws(() => new Client("ws://127.0.0.1:1/app", { room: null, reconnect: { initialDelayMs: 0 } }), /initialDelayMs/);
});

test("close() with a code browsers refuse throws and changes nothing; close() then closes cleanly", async (t) => {
  const trap = trapProcessErrors(t);
  const server = await wsServer({}); // accepts, never answers a call
  t.after(() => server.close());
  const timers = activeTimers();
  const client = new Client(server.url, { WebSocket, room: null, callTimeoutMs: 0 });
  const opened = deferred();
  client.on("open", opened.resolve);
  await within(opened.promise, 5000, "open");
  const pending = failure(client.call("never", null));
  for (const code of [1001, 1005, 999, 5000]) {
    assert.throws(() => client.close(code), (err: Error) => err instanceof RangeError && /1000.*3000.*4999/.test(err.message), `close(${code})`);
  }
  assert.throws(() => client.close(1000, "x".repeat(124)), SyntaxError);
  assert.equal(client.connected, true, "a refused close() left the connection alone");
  await within(client.close(4000, "bye"), 5000, "close() resolves");
  assert.equal((await within(pending, 5000, "pending call")).code, "closed");
  await settled();
  assert.ok(activeTimers() <= timers, "no timer left behind");
  trap.assertNone();
});

test("a listener or subscriber that throws is reported as an error event; the client goes on", async (t) => {
  const trap = trapProcessErrors(t);
  const server = await wsServer({
    onConnection: (ws) => ws.send(JSON.stringify({ task: "news", data: 1 })),
    onMessage: (ws, msg) => ws.send(JSON.stringify({ id: msg.id, data: msg.data })),
  });
  t.after(() => server.close());
  const client = new Client(server.url, { WebSocket, room: null });
  const reported: Reported[] = [];
  const two = deferred();
  client.on("error", (err: Reported) => {
    reported.push(err);
    if (reported.length === 2) two.resolve();
  });
  client.on("open", () => {
    throw new Error("open listener bug");
  });
  client.subscribe("news", () => {
    throw new Error("subscriber bug");
  });
  await within(two.promise, 5000, "two reported listener errors");
  assert.deepEqual(reported.map((e) => [e.name, e.kind, (e.cause as Error).message]).sort(), [
    ["ClientError", "listener", "open listener bug"],
    ["ClientError", "listener", "subscriber bug"],
  ]);
  assert.equal(await within(client.call("still", "works"), 5000, "call after the bugs"), "works");
  await within(client.close(), 5000, "close");
  trap.assertNone();
});

test("an error listener that throws, or a bug with no error listener, goes to console.error (no loop)", async (t) => {
  const trap = trapProcessErrors(t);
  const logged: string[] = [];
  t.mock.method(console, "error", (...args: unknown[]) => {
    logged.push(args.map((a) => (a instanceof Error ? a.message : String(a))).join(" "));
  });
  // "garbage": an unreadable frame first (an error event), then the reply.
  const server = await wsServer({
    onMessage: (ws, msg) => {
      ws.send("not json");
      ws.send(JSON.stringify({ id: msg.id, data: msg.data }));
    },
  });
  t.after(() => server.close());
  const client = new Client(server.url, { WebSocket, room: null });
  const opened = deferred();
  client.on("open", () => {
    opened.resolve();
    throw new Error("open bug, nobody listens to error yet");
  });
  await within(opened.promise, 5000, "open");
  let errorListenerRuns = 0;
  client.on("error", () => {
    errorListenerRuns += 1;
    throw new Error("error listener bug");
  });
  assert.equal(await within(client.call("garbage", "reply"), 5000, "the reply after the garbage"), "reply");
  assert.equal(errorListenerRuns, 1, "the throwing error listener ran once (no loop)");
  await within(client.close(), 5000, "close");
  assert.ok(logged.some((line) => line.includes("open bug")), `console.error got the open bug: ${JSON.stringify(logged)}`);
  assert.ok(logged.some((line) => line.includes("error listener bug")), `console.error got the error listener bug: ${JSON.stringify(logged)}`);
  trap.assertNone();
});

test("a session function that throws fails the attempt like a refused connection (bounded retries)", async (t) => {
  const trap = trapProcessErrors(t);
  const server = await echoServer();
  t.after(() => server.close());
  const timers = activeTimers();
  const client = new Client(server.url, {
    WebSocket, room: null, reconnect: { ...FAST, maxAttempts: 1 },
    session: () => {
      throw new Error("no token in storage");
    },
  });
  const errors: Reported[] = [];
  client.on("error", (err: Reported) => void errors.push(err));
  const closes: Array<[number, boolean]> = [];
  const final = deferred();
  client.on("close", (code, _reason, again) => {
    closes.push([code, again]);
    if (!again) final.resolve();
  });
  const call = failure(client.call("x", null));
  await within(final.promise, 5000, "the final close");
  assert.deepEqual(closes, [[1006, true], [1006, false]]);
  assert.deepEqual(errors.map((e) => [e.kind, (e.cause as Error).message]), [["connect", "no token in storage"], ["connect", "no token in storage"]]);
  assert.equal((await within(call, 5000, "queued call")).code, "disconnected");
  assert.equal(server.attempts(), 0, "no socket was opened without the session");
  await within(client.close(), 5000, "close");
  await settled();
  assert.ok(activeTimers() <= timers, "no timer left behind");
  trap.assertNone();
});

test("a WebSocket constructor that throws at reconnect time (e.g. DNS) is a failed attempt, not a crash", async (t) => {
  const trap = trapProcessErrors(t);
  // The first connection is closed with 1012 (restart, retryable); every reconnect throws.
  const server = await wsServer({ onConnection: (ws, n) => n === 1 && ws.close(1012, "restart") });
  t.after(() => server.close());
  let made = 0;
  class FlakyWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      if (++made > 1) throw new Error("getaddrinfo EAI_AGAIN");
      super(url, protocols);
    }
  }
  const timers = activeTimers();
  const client = new Client(server.url, { WebSocket: FlakyWebSocket, room: null, reconnect: { ...FAST, maxAttempts: 2 } });
  const errors: Reported[] = [];
  client.on("error", (err: Reported) => void errors.push(err));
  const closes: Array<[number, boolean]> = [];
  const final = deferred();
  client.on("close", (code, _reason, again) => {
    closes.push([code, again]);
    if (!again) final.resolve();
  });
  await within(final.promise, 5000, "the final close");
  assert.deepEqual(closes, [[1012, true], [1006, true], [1006, false]]);
  assert.deepEqual(errors.map((e) => [e.kind, (e.cause as Error).message]), [["connect", "getaddrinfo EAI_AGAIN"], ["connect", "getaddrinfo EAI_AGAIN"]]);
  assert.equal((await failure(client.call("x", null))).code, "disconnected");
  await within(client.close(), 5000, "close");
  await settled();
  assert.ok(activeTimers() <= timers, "no timer left behind");
  trap.assertNone();
});

test("a backoff random() that throws ends reconnecting with a reported error, not an uncaught exception", async (t) => {
  const trap = trapProcessErrors(t);
  const server = await wsServer({ onConnection: (ws) => ws.close(1001, "stopping") });
  t.after(() => server.close());
  const client = new Client(server.url, {
    WebSocket, room: null,
    reconnect: {
      ...FAST, jitter: 0.5,
      random: () => {
        throw new Error("random bug");
      },
    },
  });
  const errors: Reported[] = [];
  client.on("error", (err: Reported) => void errors.push(err));
  const closed = deferred<[number, boolean]>();
  client.on("close", (code, _reason, again) => closed.resolve([code, again]));
  assert.deepEqual(await within(closed.promise, 5000, "close"), [1001, false]);
  assert.deepEqual(errors.map((e) => [e.kind, (e.cause as Error).message]), [["listener", "random bug"]]);
  assert.equal((await failure(client.call("x", null))).code, "disconnected");
  await within(client.close(), 5000, "close");
  await settled();
  trap.assertNone();
});

test("send and call on a closed client: false and a CallError, never a throw", async (t) => {
  const trap = trapProcessErrors(t);
  const server = await echoServer();
  t.after(() => server.close());
  const client = new Client(server.url, { WebSocket, room: null });
  assert.equal(await within(client.call("echo", 1), 5000, "echo"), 1);
  await within(client.close(), 5000, "close");
  assert.equal(client.send("x", 1), false);
  assert.equal((await failure(client.call("x", 1))).code, "closed");
  assert.equal((await failure(client.join("room"))).code, "closed");
  await within(client.close(), 5000, "a second close() resolves too");
  await settled();
  trap.assertNone();
});
