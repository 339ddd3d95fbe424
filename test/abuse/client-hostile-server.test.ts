/**
 * The client against servers that misbehave: an HTTP status instead of an upgrade, garbage
 * instead of HTTP, an accept followed by an immediate close, unreadable frames, a server that
 * vanishes in the middle of a call. Each case has a defined outcome (error and close events
 * with codes, rejected calls with a named code), retries stay bounded, nothing reaches the
 * process, and close() leaves no timer behind. Backoff is fast and bounded (maxAttempts).
 */
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { Client, type ClientOptions } from "../../client/index.ts";
import { within, deferred } from "../helpers/until.ts";
import {
  activeTimers, echoServer, failure, refusedUrl, settled, statusServer, tcpServer, trapProcessErrors, wsServer,
  type Hostile,
} from "./client-helpers.ts";

type Reported = Error & { kind?: string; cause?: unknown };

const FAST = { initialDelayMs: 5, maxDelayMs: 20, jitter: 0 } as const;

/** A client that records its error and close events; `final` resolves on the close that ends it. */
function watched(url: string, options: ClientOptions = {}) {
  const client = new Client(url, { WebSocket, room: null, reconnect: { ...FAST, maxAttempts: 2 }, ...options });
  const errors: Reported[] = [];
  const closes: Array<[number, boolean]> = [];
  const final = deferred();
  client.on("error", (err: Reported) => void errors.push(err));
  client.on("close", (code, _reason, again) => {
    closes.push([code, again]);
    if (!again) final.resolve();
  });
  return { client, errors, closes, final: final.promise };
}

/** The end of every case: close() resolves, no timer is left, nothing reached the process, and a fresh client still works. */
async function closesCleanly(t: TestContext, client: Client, timersBefore: number, trap: { assertNone(): void }): Promise<void> {
  await within(client.close(), 5000, "client.close()");
  assert.equal(client.connected, false);
  await settled();
  assert.ok(activeTimers() <= timersBefore, `no timer left behind (${activeTimers()} > ${timersBefore})`);
  const healthy = await echoServer();
  t.after(() => healthy.close());
  const fresh = new Client(healthy.url, { WebSocket, room: null });
  assert.equal(await within(fresh.call("echo", "still fine"), 5000, "a fresh client's call"), "still fine");
  await within(fresh.close(), 5000, "fresh close");
  trap.assertNone();
}

// Node's client reads the status (a browser sees only 1006): a 4xx refusal is permanent (its
// 44xx equivalent), a 5xx one transient (1013 for 503, 1011 otherwise). docs/protocol.md, "Refusals".
for (const [status, code, permanent] of [[404, 4404, true], [403, 4403, true], [503, 1013, false], [500, 1011, false]] as const) {
  test(`HTTP ${status} instead of an upgrade: a ${permanent ? "permanent" : "transient"} refusal (${code}) that names it, ${permanent ? "no retry" : "bounded retries"}, queued calls refused`, async (t) => {
    const trap = trapProcessErrors(t);
    const server = await statusServer(status);
    t.after(() => server.close());
    const timers = activeTimers();
    const { client, errors, closes, final } = watched(server.url);
    const call = failure(client.call("x", null));
    await within(final, 5000, "the final close");
    const attempts = permanent ? 1 : 3; // one attempt, and maxAttempts (2) retries of a transient one
    assert.deepEqual(closes, permanent ? [[1006, false]] : [[1006, true], [1006, true], [1006, false]]);
    assert.equal(server.attempts(), attempts);
    assert.equal(errors.length, attempts, JSON.stringify(errors.map((e) => e.message)));
    for (const err of errors as Array<Reported & { code?: number; status?: number; permanent?: boolean }>) {
      assert.deepEqual([err.kind, err.status, err.code, err.permanent], ["refused", status, code, permanent]);
      assert.match(err.message, new RegExp(String(status)));
    }
    const rejected = await within(call, 5000, "queued call");
    assert.equal(rejected.code, "refused");
    assert.match(rejected.message, new RegExp(String(status)));
    await closesCleanly(t, client, timers, trap);
  });
}

for (const [name, behave] of [
  ["garbage instead of HTTP", (s: import("node:net").Socket) => s.end("SSH-2.0-OpenSSH_9.6\r\n\r\n")],
  ["a reset at once", (s: import("node:net").Socket) => s.resetAndDestroy()],
  ["a close at once", (s: import("node:net").Socket) => s.end()],
] as const) {
  test(`a TCP server that answers the upgrade with ${name}: connect errors and bounded 1006 retries`, async (t) => {
    const trap = trapProcessErrors(t);
    const server = await tcpServer(behave);
    t.after(() => server.close());
    const timers = activeTimers();
    const { client, errors, closes, final } = watched(server.url);
    await within(final, 5000, "the final close");
    assert.deepEqual(closes, [[1006, true], [1006, true], [1006, false]]);
    assert.equal(server.attempts(), 3);
    assert.equal(errors.length, 3);
    assert.ok(errors.every((e) => e.kind === "connect"), JSON.stringify(errors.map((e) => e.message)));
    await closesCleanly(t, client, timers, trap);
  });
}

test("a refused connection: bounded retries, then calls reject with disconnected", async (t) => {
  const trap = trapProcessErrors(t);
  const timers = activeTimers();
  const { client, errors, closes, final } = watched(await refusedUrl());
  const call = failure(client.call("x", null));
  await within(final, 5000, "the final close");
  assert.deepEqual(closes, [[1006, true], [1006, true], [1006, false]]);
  assert.ok(errors.length === 3 && errors.every((e) => e.kind === "connect" && /ECONNREFUSED/.test(e.message)), JSON.stringify(errors.map((e) => e.message)));
  assert.equal((await call).code, "disconnected");
  await closesCleanly(t, client, timers, trap);
});

for (const code of [1008, 4001, 4999]) {
  test(`accept, then close at once with ${code}: a final close, no retry, pending calls disconnected`, async (t) => {
    const trap = trapProcessErrors(t);
    const server = await wsServer({ onConnection: (ws) => ws.close(code, "go away") });
    t.after(() => server.close());
    const timers = activeTimers();
    const { client, closes, final } = watched(server.url);
    const call = failure(client.call("x", null));
    await within(final, 5000, "the final close");
    assert.deepEqual(closes, [[code, false]]);
    assert.equal(server.attempts(), 1);
    assert.equal((await within(call, 5000, "call")).code, "disconnected");
    await closesCleanly(t, client, timers, trap);
  });
}

for (const code of [4002, 4401, 4403, 4404, 4406]) {
  test(`accept, then close at once with ${code} (a permanent refusal): an error event with its code, no retry, pending calls refused`, async (t) => {
    const trap = trapProcessErrors(t);
    const server = await wsServer({ onConnection: (ws) => ws.close(code, "not you") });
    t.after(() => server.close());
    const timers = activeTimers();
    const { client, errors, closes, final } = watched(server.url);
    const call = failure(client.call("x", null));
    await within(final, 5000, "the final close");
    assert.deepEqual(closes, [[code, false]]);
    assert.equal(server.attempts(), 1);
    assert.deepEqual(errors.map((e) => [e.kind, (e as { code?: number }).code, (e as { permanent?: boolean }).permanent]), [["refused", code, true]]);
    const rejected = await within(call, 5000, "call");
    assert.equal(rejected.code, "refused");
    assert.match(rejected.message, /not you/);
    await closesCleanly(t, client, timers, trap);
  });
}

for (const code of [1011, 4000, 4429]) {
  test(`accept, then close at once with ${code} (retryable): it retries, and close() stops the loop`, async (t) => {
    const trap = trapProcessErrors(t);
    const server = await wsServer({ onConnection: (ws) => ws.close(code, "try again") });
    t.after(() => server.close());
    const timers = activeTimers();
    const { client, closes } = watched(server.url);
    const twice = deferred();
    client.on("close", () => closes.length === 2 && twice.resolve());
    await within(twice.promise, 5000, "two closes");
    assert.deepEqual(closes, [[code, true], [code, true]]);
    await closesCleanly(t, client, timers, trap);
    const attempts = server.attempts();
    assert.ok(attempts >= 2 && attempts <= 3, `the loop stopped at close() (${attempts} attempts)`);
  });
}

test("unreadable frames (not JSON, wrong shape, binary, an error with id null) are error events; the connection stays", async (t) => {
  const trap = trapProcessErrors(t);
  const frames: Array<string | Buffer> = [
    "not json", "[1,2]", "42", '{"id":"seven","data":1}', '{"task":"x y","data":1}', '{"id":1,"error":"nope"}',
    '{"id":1,"data":1,"extra":true}', Buffer.from([1, 2, 3]), '{"id":null,"error":{"code":"bad_request","message":"what"}}',
  ];
  const server = await wsServer({
    onMessage: (ws, msg) => {
      for (const frame of frames) ws.send(frame);
      ws.send(JSON.stringify({ id: msg.id, data: "the real reply" }));
    },
  });
  t.after(() => server.close());
  const timers = activeTimers();
  const { client, errors, closes } = watched(server.url);
  assert.equal(await within(client.call("x", null), 5000, "the reply after the garbage"), "the real reply");
  assert.equal(errors.length, frames.length);
  assert.ok(errors.every((e) => e.name === "ClientError" && e.kind === "protocol"), JSON.stringify(errors.map((e) => [e.name, e.kind, e.message])));
  assert.deepEqual(closes, [], "the connection stayed open");
  await closesCleanly(t, client, timers, trap);
});

test("the server vanishes mid-call: the call rejects with disconnected, retries are bounded", async (t) => {
  const trap = trapProcessErrors(t);
  let server: Hostile | undefined;
  const gone = deferred();
  server = await wsServer({
    onMessage: (ws) => {
      ws.terminate(); // no close frame: 1006 on the client
      void server!.close().then(gone.resolve);
    },
  });
  t.after(() => server?.close()); // closing twice is harmless, in case the test failed before the call
  const timers = activeTimers();
  const { client, closes, final } = watched(server.url);
  const err = await within(failure(client.call("x", null, { timeoutMs: 0 })), 5000, "the call in flight");
  assert.equal(err.code, "disconnected");
  assert.match(err.message, /1006/);
  await within(gone.promise, 5000, "server closed");
  await within(final, 5000, "the final close");
  assert.deepEqual(closes, [[1006, true], [1006, true], [1006, false]]);
  await closesCleanly(t, client, timers, trap);
});

test("a server that accepts TCP and never answers: close() while connecting resolves, without an error event", async (t) => {
  const trap = trapProcessErrors(t);
  const arrived = deferred();
  const server = await tcpServer(() => arrived.resolve()); // reads the upgrade, never answers
  t.after(() => server.close());
  const timers = activeTimers();
  const { client, errors } = watched(server.url);
  await within(arrived.promise, 5000, "the connection reached the server");
  const call = failure(client.call("x", null, { timeoutMs: 0 }));
  await within(client.close(), 5000, "close() while connecting");
  assert.equal((await call).code, "closed");
  assert.deepEqual(errors, [], "closing on purpose is not an error");
  await closesCleanly(t, client, timers, trap);
});

test("a server that accepts and never welcomes: each attempt is dropped at connectTimeoutMs, reported, retried with backoff; queued calls wait, bounded", async (t) => {
  const trap = trapProcessErrors(t);
  const server = await wsServer({ welcome: false });
  t.after(() => server.close());
  const timers = activeTimers();
  const { client, errors, closes, final } = watched(server.url, { connectTimeoutMs: 100 });
  const call = failure(client.call("x", null, { timeoutMs: 60_000 }));
  await within(final, 10_000, "the final close after the attempts are used up");
  assert.equal(server.attempts(), 3, "the first attempt and two retries (maxAttempts 2)");
  const timeouts = errors.filter((e) => e.kind === "connect" && /sent no welcome within 100 ms \(connectTimeoutMs\)/.test(e.message));
  assert.equal(timeouts.length, 3, errors.map((e) => e.message).join("\n"));
  assert.deepEqual(closes, [[1006, true], [1006, true], [1006, false]]);
  assert.equal(client.state, "failed");
  // Queued, never sent: it fails with the client, not after its own 60 s.
  assert.equal((await within(call, 5_000, "the queued call")).code, "disconnected");
  await closesCleanly(t, client, timers, trap);
});
