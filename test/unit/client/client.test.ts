/**
 * The client against a scripted `ws` server (no app layer): replies, errors, pushes, timeouts,
 * the offline queue and the close codes that stop reconnecting.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { WebSocketServer, WebSocket } from "ws";
import { Client, CallError } from "../../../client/index.ts";
import { within, deferred } from "../../helpers/until.ts";

/** The CallError a call rejects with (a resolved call fails the test). */
function failure(p: Promise<unknown>): Promise<CallError> {
  return p.then(() => assert.fail("expected the call to fail"), (e: CallError) => e);
}

async function scripted(onMessage: (ws: WebSocket, msg: any) => void): Promise<{ wss: WebSocketServer; url: string; urls: string[] }> {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", handleProtocols: (p) => (p.has("switchboard.v1") ? "switchboard.v1" : false) });
  const urls: string[] = [];
  wss.on("connection", (ws, req) => {
    urls.push(req.url ?? "");
    ws.on("message", (data) => onMessage(ws, JSON.parse(String(data))));
    // The client sends nothing before the welcome (a refusal is a close before it).
    ws.send(JSON.stringify({ task: "switchboard.welcome", data: { protocol: 1, connection: `app-${urls.length}`, user: { id: "u", name: "u" }, rooms: [] } }));
  });
  await once(wss, "listening");
  return { wss, url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}/app`, urls };
}

test("call resolves with the reply; error replies reject with a typed CallError", async () => {
  const { wss, url } = await scripted((ws, msg) => {
    if (msg.task === "ok") ws.send(JSON.stringify({ id: msg.id, data: { got: msg.data } }));
    else ws.send(JSON.stringify({ id: msg.id, error: { code: "forbidden", message: "no" } }));
  });
  const client = new Client<{ ok: { data: number; reply: { got: number } }; no: { data: null; reply: never } }>(url, { WebSocket, room: null });
  try {
    assert.deepEqual(await within(client.call("ok", 5), 5000, "reply"), { got: 5 });
    const err = await within(failure(client.call("no", null)), 5000, "error");
    assert.ok(err instanceof CallError);
    assert.equal(err.code, "forbidden");
    assert.equal(err.task, "no");
  } finally {
    client.close();
    wss.close();
  }
});

test("subscribe / unsubscribe pushes; the room and session go in the URL", async () => {
  const { wss, url, urls } = await scripted((ws, msg) => {
    ws.send(JSON.stringify({ task: "news", data: msg.data }));
    ws.send(JSON.stringify({ id: msg.id, data: null }));
  });
  const client = new Client(url, { WebSocket, room: ["a b", "c"], session: "tok" });
  try {
    const got: unknown[] = [];
    const cb = (d: unknown) => got.push(d);
    client.subscribe("news", cb);
    await within(client.call("x", 1), 5000, "call 1");
    client.unsubscribe("news", cb);
    await within(client.call("x", 2), 5000, "call 2");
    assert.deepEqual(got, [1]);
    const query = new URL(urls[0]!, "ws://x").searchParams;
    assert.deepEqual(query.getAll("room"), ["a b", "c"]);
    assert.equal(query.get("session"), "tok");
  } finally {
    client.close();
    wss.close();
  }
});

test("a call with no reply rejects with timeout; a closed client rejects with closed", async () => {
  const { wss, url } = await scripted(() => undefined);
  const client = new Client(url, { WebSocket, room: null });
  try {
    const err = await within(failure(client.call("silent", null, { timeoutMs: 50 })), 5000, "timeout");
    assert.equal(err.code, "timeout");
    const pending = failure(client.call("silent", null, { timeoutMs: 0 }));
    client.close();
    assert.equal((await pending).code, "closed");
  } finally {
    client.close();
    wss.close();
  }
});

test("sends made before the socket opens are queued and delivered once, in order", async () => {
  const received: unknown[] = [];
  const all = deferred();
  const { wss, url } = await scripted((_ws, msg) => {
    received.push(msg.data);
    if (received.length === 3) all.resolve();
  });
  const client = new Client(url, { WebSocket, room: null });
  try {
    client.send("a", 1);
    client.send("a", 2);
    client.send("a", 3);
    await within(all.promise, 5000, "three sends");
    assert.deepEqual(received, [1, 2, 3]);
  } finally {
    client.close();
    wss.close();
  }
});

test("the offline queue is bounded: a full queue refuses sends and rejects calls with queue_full", async () => {
  const client = new Client("ws://127.0.0.1:1/nowhere", { WebSocket, room: null, maxOfflineQueue: 1, reconnect: false });
  const closed = new Promise<number>((resolve) => client.on("close", (code) => resolve(code)));
  assert.equal(client.send("a", 1), true);
  assert.equal(client.send("a", 2), false);
  const err = await within(failure(client.call("b", null)), 5000, "queue_full");
  assert.equal(err.code, "queue_full");
  assert.equal(await within(closed, 5000, "close"), 1006);
  client.close();
});

test("a close with a non-retryable code (1008) is final: no reconnect, pending calls disconnected", async () => {
  const { wss, url } = await scripted((ws) => ws.close(1008, "policy"));
  const client = new Client(url, { WebSocket, room: null, reconnect: { initialDelayMs: 1 } });
  try {
    const closes: Array<[number, boolean]> = [];
    client.on("close", (code, _r, again) => closes.push([code, again]));
    const err = await within(failure(client.call("x", null)), 5000, "disconnected");
    assert.equal(err.code, "disconnected");
    assert.deepEqual(closes, [[1008, false]]);
    assert.equal(client.send("x", 1), false);
  } finally {
    client.close();
    wss.close();
  }
});

test("after a final close from the server, new calls reject with disconnected, not closed", async () => {
  const { wss, url } = await scripted(() => undefined);
  wss.on("connection", (ws) => ws.close(1008, "go away"));
  const client = new Client(url, { WebSocket, room: null });
  try {
    await within(new Promise((resolve) => client.on("close", resolve)), 5000, "close");
    assert.equal((await failure(client.call("x", null))).code, "disconnected");
    client.close();
    assert.equal((await failure(client.call("x", null))).code, "closed");
  } finally {
    client.close();
    wss.close();
  }
});
