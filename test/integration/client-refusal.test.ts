/**
 * Refusals a browser can read (docs/protocol.md, "Refusals"): an app accepts the WebSocket and
 * closes it at once with a code of the 44xx block. Seen on the wire with a raw `ws` socket, and
 * through the client library: an `error` event with code/reason/permanent, no reconnect after a
 * permanent refusal, pending calls rejected at once with the reason; a transient refusal is
 * retried; `client.welcome` is the new connection's before `open` fires, every time.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { WebSocket } from "ws";
import { Client, CallError, ClientError, CloseCode } from "../../client/index.ts";
import { reject, signSessionToken, tokenSession, type App, type Session } from "../../src/index.ts";
import { startServer } from "../helpers/server.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { refusedClose } from "./client-refusal-helpers.ts";
import { captureLogs } from "../helpers/logs.ts";
import { within, deferred } from "../helpers/until.ts";

const SECRET = "a-test-secret-of-at-least-32-bytes!!";
const FAST = { initialDelayMs: 1, maxDelayMs: 5, jitter: 0 } as const;

/** A session that counts its calls: one per upgrade that reached the app (a retry is one more). */
function counted(session: Session): { session: Session; calls: () => number } {
  let calls = 0;
  return { session: (req) => (calls++, session(req)), calls: () => calls };
}

/** A client with a recorder of its error and close events; `ended` resolves at its final close. */
function recorded(url: string, options: ConstructorParameters<typeof Client>[1] = {}) {
  const client = new Client(url, { WebSocket, room: null, reconnect: { ...FAST, maxAttempts: 3 }, ...options });
  const errors: ClientError[] = [];
  const closes: Array<[number, string, boolean]> = [];
  const ended = deferred();
  client.on("error", (err) => void errors.push(err));
  client.on("close", (code, reason, again) => {
    closes.push([code, reason, again]);
    if (!again) ended.resolve();
  });
  return { client, errors, closes, ended: ended.promise };
}

test("on the wire: refusals are accepted, then closed at once with their 44xx code and reason (no frame first)", async (t) => {
  const logs = captureLogs("error");
  let probes = 0;
  let roomsApp!: App;
  const server = await startServer({ logger: logs.logger }, (s) => {
    s.app("/token", { session: tokenSession({ secret: SECRET }) }).task("probe", () => void probes++);
    roomsApp = s.app("/rooms", { rooms: (_user, room) => room !== "secret" });
    s.app("/busy", { session: () => reject(503, "database away") });
    s.app("/slow-down", { session: () => reject(429, "too many attempts") });
    s.app("/buggy", {
      session: () => {
        throw new Error("session bug");
      },
    });
  });
  t.after(() => server.stop());

  const noToken = await refusedClose(server.url("/token"));
  assert.deepEqual(noToken, { code: 4401, reason: "session token required", protocol: "switchboard.v1", frames: 0 });
  assert.equal((await refusedClose(`${server.url("/token")}?session=not.a.jwt`)).code, CloseCode.Unauthorized);
  assert.deepEqual(await refusedClose(`${server.url("/rooms")}?room=secret`), { code: 4403, reason: "may not join room secret", protocol: "switchboard.v1", frames: 0 });
  assert.equal((await refusedClose(`${server.url("/rooms")}?room=${"x".repeat(300)}`)).code, CloseCode.BadRequest);
  // Another protocol version: the refusal selects the client's offer, or the client could not read the code.
  const v9 = await refusedClose(server.url("/rooms"), ["switchboard.v9"]);
  assert.deepEqual(v9, { code: 4406, reason: "subprotocol not supported; this server speaks switchboard.v1", protocol: "switchboard.v9", frames: 0 });
  assert.deepEqual((({ code, reason }) => ({ code, reason }))(await refusedClose(server.url("/busy"))), { code: 1013, reason: "database away" });
  assert.equal((await refusedClose(server.url("/slow-down"))).code, CloseCode.TooManyRequests);
  assert.deepEqual((({ code, reason }) => ({ code, reason }))(await refusedClose(server.url("/buggy"))), { code: 1011, reason: "internal error" });
  assert.ok(logs.lines.some((line) => line.err?.message === "session bug"), "the session's bug is logged");

  // What a refused connection sends is not run: a call written the moment the upgrade is accepted.
  const eager = new TestClient(server.url("/token"), ["switchboard.v1"]);
  await eager.opened;
  eager.send(JSON.stringify({ task: "probe", data: null, id: 1 }));
  assert.equal((await eager.waitClosed()).code, 4401);
  assert.equal(eager.pending, 0, "no reply, no frame");
  assert.equal(probes, 0, "the task did not run");

  // A refused connection never was an app connection; a good one is welcomed as before.
  const rooms = server.endpoints.get("/rooms")!;
  assert.equal(rooms.stats().connections, 0);
  assert.equal(roomsApp.stats().refused, 3, "?room=secret, a too-long name, switchboard.v9");
  assert.equal(roomsApp.stats().connections, 0);
  const ok = new TestClient(`${server.url("/rooms")}?room=open`, ["switchboard.v1"]);
  assert.match((await ok.next()).text, /switchboard\.welcome/);
  await ok.close();
});

test("a refused connection holds its maxConnections slot only until its socket is gone", async (t) => {
  const token = await signSessionToken(SECRET, { id: "ada" });
  const server = await startServer({}, (s) => s.app("/app", { session: tokenSession({ secret: SECRET }), endpoint: { maxConnections: 1 } }));
  t.after(() => server.stop());
  for (let i = 0; i < 3; i++) assert.equal((await refusedClose(server.url("/app"))).code, 4401);
  const good = new Client(server.url("/app"), { WebSocket, room: null, session: token });
  t.after(() => good.close());
  const opened = deferred();
  good.on("open", opened.resolve);
  await within(opened.promise, 5000, "the one slot is free again");
  assert.equal(good.welcome?.user.id, "ada");
});

test("the client: a bad token is a permanent refusal — error event, no reconnect, pending calls rejected at once", async (t) => {
  const { session, calls } = counted(tokenSession({ secret: SECRET }));
  const server = await startServer({}, (s) => s.app("/app", { session }));
  t.after(() => server.stop());
  const { client, errors, closes, ended } = recorded(server.url("/app"), { session: "forged.token.value" });
  t.after(() => client.close());
  let opened = false;
  client.on("open", () => (opened = true));
  // Queued before the socket opened, with a timeout far away: it must not wait for it.
  const pending = client.call("anything", null, { timeoutMs: 600_000 }).then(() => assert.fail("resolved"), (e: CallError) => e);
  await within(ended, 5000, "the final close");

  assert.equal(errors.length, 1);
  const [refusal] = errors;
  assert.equal(refusal!.kind, "refused");
  assert.equal(refusal!.code, 4401);
  assert.equal(refusal!.permanent, true);
  assert.match(refusal!.reason!, /^bad session token: ERR_JWS_INVALID|^bad session token/);
  assert.deepEqual(closes, [[4401, refusal!.reason, false]]);
  assert.equal(opened, false, "a refused connection never fires open");
  assert.equal(client.state, "failed");
  assert.equal(client.failure, refusal);
  assert.equal(client.welcome, undefined);

  const err = await within(pending, 5000, "the pending call");
  assert.equal(err.code, "refused");
  assert.match(err.message, /4401/);
  assert.equal((await client.call("later", null).then(() => assert.fail("resolved"), (e: CallError) => e)).code, "refused");

  // No retry: a retry would be due 1 ms after the close; a whole connect of another client later, still one upgrade.
  const witness = new Client(server.url("/app"), { WebSocket, room: null, session: await signSessionToken(SECRET, { id: "w" }) });
  t.after(() => witness.close());
  const witnessOpen = deferred();
  witness.on("open", witnessOpen.resolve);
  await within(witnessOpen.promise, 5000, "witness open");
  assert.equal(calls(), 2, "one upgrade of the refused client, one of the witness");
  assert.equal(client.state, "failed");
});

test("the client: a transient refusal (429 → 4429) is retried with backoff; the queued call goes out once accepted", async (t) => {
  let refuseNext = true;
  const { session, calls } = counted(() => {
    if (refuseNext) {
      refuseNext = false;
      return reject(429, "slow down");
    }
    return { id: "bo", name: "bo" };
  });
  const server = await startServer({}, (s) => s.app("/app", { session }).task("echo", ({ data }) => data));
  t.after(() => server.stop());
  const { client, errors, closes } = recorded(server.url("/app"));
  t.after(() => client.close());
  const reply = client.call("echo", "made while refused", { timeoutMs: 10_000 });
  const opened = deferred<number>();
  client.on("open", () => opened.resolve(calls()));
  assert.equal(await within(opened.promise, 5000, "open after the retry"), 2);
  assert.equal(await within(reply, 5000, "the queued call"), "made while refused");
  assert.deepEqual(closes, [[4429, "slow down", true]]);
  assert.equal(errors.length, 1);
  assert.deepEqual([errors[0]!.kind, errors[0]!.code, errors[0]!.permanent], ["refused", 4429, false]);
  assert.equal(client.state, "open");
});

test("client.welcome is the new connection's welcome before open fires: at connect and after every reconnect", async (t) => {
  const serverIds: string[] = [];
  const server = await startServer({}, (s) => s.app("/app", { open: (conn) => void serverIds.push(conn.id) }));
  t.after(() => server.stop());
  const client = new Client(server.url("/app"), { WebSocket, room: "lobby", reconnect: FAST });
  t.after(() => client.close());
  const seenAtOpen: Array<string | undefined> = [];
  const twoOpens = deferred();
  const firstOpen = deferred();
  client.on("open", () => {
    seenAtOpen.push(client.welcome?.connection);
    assert.equal(client.connected, true);
    if (seenAtOpen.length === 1) firstOpen.resolve();
    if (seenAtOpen.length === 2) twoOpens.resolve();
  });
  await within(firstOpen.promise, 5000, "first open");
  // A retryable close from the server (1012 restart): the client reconnects to a new connection.
  const app = server.endpoints.get("/app")!;
  for (const conn of app.connections.values()) conn.close(CloseCode.ServiceRestart, "restart");
  await within(twoOpens.promise, 5000, "open after the reconnect");
  assert.equal(seenAtOpen.length, 2);
  assert.equal(serverIds.length, 2);
  assert.deepEqual(seenAtOpen, serverIds, "each open saw its own connection's welcome");
  assert.notEqual(seenAtOpen[0], seenAtOpen[1]);
  assert.deepEqual(client.welcome?.rooms, ["lobby"]);
});

test("in Node the client reads the HTTP status of a refused upgrade: an unknown path is a permanent 4404 refusal", async (t) => {
  const server = await startServer({}, (s) => s.app("/app"));
  t.after(() => server.stop());
  const { client, errors, closes, ended } = recorded(server.url("/app").replace("/app", "/nowhere"));
  t.after(() => client.close());
  const pending = client.call("x", null, { timeoutMs: 600_000 }).then(() => assert.fail("resolved"), (e: CallError) => e);
  await within(ended, 5000, "the final close");
  assert.equal(errors.length, 1, JSON.stringify(errors.map((e) => e.message)));
  assert.deepEqual([errors[0]!.kind, errors[0]!.status, errors[0]!.code, errors[0]!.permanent], ["refused", 404, 4404, true]);
  assert.deepEqual(closes.map(([code, , again]) => [code, again]), [[1006, false]]);
  assert.equal((await within(pending, 5000, "pending call")).code, "refused");
  assert.equal(client.state, "failed");
});

test("the registry: 4000 + HTTP status for 4xx refusals, 503 → 1013, other 5xx → 1011, anything else 1002; only 4429 of the block is retried", async () => {
  const { refusalCloseCode, isRefusalCloseCode, describeCloseCode } = await import("../../client/index.ts");
  assert.deepEqual([400, 401, 403, 404, 406, 429, 418, 500, 502, 503, 200, 301].map(refusalCloseCode), [4400, 4401, 4403, 4404, 4406, 4429, 4418, 1011, 1011, 1013, 1002, 1002]);
  assert.deepEqual([4399, 4400, 4499, 4500, 4002].map(isRefusalCloseCode), [false, true, true, false, false]);
  assert.deepEqual([4400, 4401, 4403, 4404, 4406, 4418].map((code) => describeCloseCode(code).retryable), [false, false, false, false, false, false]);
  assert.equal(describeCloseCode(4429).retryable, true);
  assert.deepEqual([describeCloseCode(4418).name, describeCloseCode(4418).meaning], ["Refused", "refused by the app (HTTP 418)"]);
  assert.equal(describeCloseCode(4401).name, "Unauthorized");
});
