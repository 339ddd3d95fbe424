/**
 * The server API (docs/api.md) over raw HTTP: every route, its refusals (401, 400, 404, 405,
 * 413, 415) and real effects on real app clients (a push arrives, a kick closes with the
 * given code).
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { connect as netConnect } from "node:net";
import { createServer, OptionError, type App, type Server } from "../../src/index.ts";
import { startServer } from "../helpers/server.ts";
import { ProtoClient } from "../helpers/app-client.ts";
import { connect, refusedStatus } from "../helpers/ws-client.ts";
import { within } from "../helpers/until.ts";
import { ADMIN_TOKEN, KEY, apiRequest } from "./api-helpers.ts";

const SECOND_KEY = "second-api-key-abcdefghijklmnop";

describe("api options", () => {
  test("the API is never on without a key, and a key is checked", () => {
    assert.throws(() => createServer({ api: {} }), (err: unknown) => err instanceof OptionError && err.option === "api.key");
    assert.throws(() => createServer({ api: { key: "short" } }), (err: unknown) => err instanceof OptionError && err.option === "api.key");
    assert.throws(() => createServer({ api: { key: 42 as unknown as string } }), (err: unknown) => err instanceof OptionError && err.option === "api.key");
    assert.throws(() => createServer({ api: { keys: [KEY, ""] } }), (err: unknown) => err instanceof OptionError && err.option === "api.keys[1]");
    assert.throws(() => createServer({ api: { key: KEY, nope: 1 } as never }), (err: unknown) => err instanceof OptionError && err.option === "nope");
    assert.throws(() => createServer({ apiMaxPageSize: 0 }), (err: unknown) => err instanceof OptionError && err.option === "apiMaxPageSize");
    assert.throws(() => createServer({ maxRequestBodyBytes: -1 }), (err: unknown) => err instanceof OptionError && err.option === "maxRequestBodyBytes");
  });

  test("the admin page is never on without a token", () => {
    assert.throws(() => createServer({ admin: {} as never }), (err: unknown) => err instanceof OptionError && err.option === "admin.token");
    assert.throws(() => createServer({ admin: { token: "" } }), (err: unknown) => err instanceof OptionError && err.option === "admin.token");
  });

  test("off by default: no /api routes, no /admin page", async (t) => {
    const server = await startServer({}, (s) => s.app("/app"));
    t.after(() => server.stop());
    assert.equal((await apiRequest(server.port, "/api/stats")).status, 404);
    assert.equal((await apiRequest(server.port, "/api/publish", { body: { room: "r", task: "t" } })).status, 404);
    assert.equal((await apiRequest(server.port, "/admin")).status, 404);
  });
});

describe("server API", () => {
  let server: Server;
  let app: App;
  const clients: ProtoClient[] = [];
  const open = async (query: Record<string, string | string[]>): Promise<ProtoClient & { welcome: any }> => {
    const client = await ProtoClient.open(server.url("/app"), { query });
    clients.push(client);
    return client;
  };

  before(async () => {
    server = await startServer({ api: { keys: [KEY, SECOND_KEY] }, admin: { token: ADMIN_TOKEN }, maxRequestBodyBytes: 4096, apiMaxPageSize: 20 }, (s) => {
      app = s.app("/app", {
        presence: true,
        // The user is whoever ?user= says (a test session; a real app checks a token).
        session: (req) => {
          const id = req.query.get("user") ?? "nobody";
          return { id, name: id.toUpperCase() };
        },
      });
      s.app("/other");
      s.endpoint("/echo", { message: (conn, data) => void conn.send(data) });
      s.service("ticker", { restartLimit: 3, start: () => undefined });
    });
  });
  after(async () => {
    for (const client of clients) client.ws.terminate();
    await server.stop();
  });

  test("401 without a key, with a wrong one, or another scheme; every key given is accepted, and the admin token", async () => {
    for (const key of [null, "wrong-key-wrong-key-wrong", `${KEY}x`]) {
      const res = await apiRequest(server.port, "/api/stats", { key });
      assert.equal(res.status, 401);
      assert.equal(res.json.error.code, "unauthorized");
      assert.match(res.headers["www-authenticate"] ?? "", /^Bearer/);
    }
    const basic = await apiRequest(server.port, "/api/stats", { key: null, headers: { Authorization: `Basic ${Buffer.from(`x:${KEY}`).toString("base64")}` } });
    assert.equal(basic.status, 401);
    for (const key of [KEY, SECOND_KEY, ADMIN_TOKEN]) assert.equal((await apiRequest(server.port, "/api/stats", { key })).status, 200, key);
  });

  test("401 is answered before the body is read: no 413 for a stranger", async () => {
    const res = await apiRequest(server.port, "/api/publish", { key: null, body: { room: "r", task: "t", data: "x".repeat(10_000) } });
    assert.equal(res.status, 401);
    // An unknown /api path: 401 first, then a JSON 404.
    assert.equal((await apiRequest(server.port, "/api/nope", { key: null })).status, 401);
    const missing = await apiRequest(server.port, "/api/nope");
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.code, "not_found");
  });

  test("405 for the wrong method, with Allow", async () => {
    const get = await apiRequest(server.port, "/api/publish");
    assert.equal(get.status, 405);
    assert.equal(get.headers.allow, "POST");
    assert.equal(get.json.error.code, "method_not_allowed");
    const post = await apiRequest(server.port, "/api/stats", { body: {} });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, "GET, HEAD");
    assert.equal((await apiRequest(server.port, "/api/publish", { method: "PUT", body: {} })).status, 405);
  });

  test("415 unless the body is JSON, 400 for bad JSON, 413 over maxRequestBodyBytes", async () => {
    const text = await apiRequest(server.port, "/api/publish", { body: "room=r", headers: { "Content-Type": "text/plain" } });
    assert.equal(text.status, 415);
    assert.equal(text.json.error.code, "unsupported_media_type");
    const none = await apiRequest(server.port, "/api/publish", { body: "{}" });
    assert.equal(none.status, 415);
    const bad = await apiRequest(server.port, "/api/publish", { body: "{nope", headers: { "Content-Type": "application/json; charset=utf-8" } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.code, "bad_json");
    const big = await apiRequest(server.port, "/api/publish", { body: { room: "r", task: "t", data: "x".repeat(5000) } });
    assert.equal(big.status, 413);
    assert.equal(big.json.error.code, "payload_too_large");
    // Chunked, no Content-Length: counted while it is read.
    const chunk = "x".repeat(3000);
    const chunked = await apiRequest(server.port, "/api/publish", {
      body: `${(3000).toString(16)}\r\n${chunk}\r\n${(3000).toString(16)}\r\n${chunk}\r\n0\r\n\r\n`,
      headers: { "Content-Type": "application/json", "Transfer-Encoding": "chunked", "Content-Length": "" },
    });
    assert.equal(chunked.status, 413);
  });

  test("400 names the bad field", async () => {
    const res = await apiRequest(server.port, "/api/publish", { body: { app: "/app", task: "t" } });
    assert.equal(res.status, 400);
    assert.equal(res.json.error.code, "bad_request");
    assert.match(res.json.error.message, /^room:/);
    const extra = await apiRequest(server.port, "/api/disconnect", { body: { connection: "x", cod: 4000 } });
    assert.equal(extra.status, 400);
    const code = await apiRequest(server.port, "/api/disconnect", { body: { connection: "x", code: 1006 } });
    assert.equal(code.status, 400);
    assert.match(code.json.error.message, /^code:/);
    const noApp = await apiRequest(server.port, "/api/publish", { body: { room: "r", task: "t" } });
    assert.equal(noApp.status, 400, "two apps: the app must be named");
    assert.match(noApp.json.error.message, /^app:/);
  });

  test("publish: the push reaches the room's members, not the others", async () => {
    const member = await open({ room: "news", user: "ann" });
    const outsider = await open({ room: "sport", user: "bob" });
    const res = await apiRequest(server.port, "/api/publish", { body: { app: "/app", room: "news", task: "news.flash", data: { text: "hello" } } });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.json.room, "news");
    assert.equal(res.json.members, 1);
    assert.ok(res.json.offset >= 1);
    const push = await member.next((f) => f.task === "news.flash");
    assert.deepEqual(push.data, { text: "hello" });
    await outsider.call("room.members", { room: "sport" }); // a round trip: anything sent before it has arrived
    assert.equal(outsider.frames.some((f) => f.task === "news.flash"), false);
    const unknownApp = await apiRequest(server.port, "/api/publish", { body: { app: "/nope", room: "news", task: "t" } });
    assert.equal(unknownApp.status, 404);
    assert.equal(unknownApp.json.error.code, "unknown_app");
  });

  test("broadcast: a push on an app endpoint, a text message on a plain one", async () => {
    const client = await open({ user: "cat" });
    const res = await apiRequest(server.port, "/api/broadcast", { body: { endpoint: "/app", task: "all.hello", data: 1 } });
    assert.equal(res.status, 200, res.body);
    assert.ok(res.json.recipients >= 1);
    assert.equal((await client.next((f) => f.task === "all.hello")).data, 1);
    const echo = await connect(server.url("/echo"));
    const sent = await apiRequest(server.port, "/api/broadcast", { body: { endpoint: "/echo", text: "plain hello" } });
    assert.equal(sent.json.recipients, 1);
    assert.equal((await echo.next()).text, "plain hello");
    await echo.close();
    assert.equal((await apiRequest(server.port, "/api/broadcast", { body: { endpoint: "/echo", task: "x" } })).status, 400);
    const missing = await apiRequest(server.port, "/api/broadcast", { body: { endpoint: "/none", text: "x" } });
    assert.equal(missing.json.error.code, "unknown_endpoint");
  });

  test("disconnect: the connection closes with the given code and reason", async () => {
    const client = await open({ user: "dan" });
    const res = await apiRequest(server.port, "/api/disconnect", { body: { connection: client.welcome.data.connection, code: 4321, reason: "bye now" } });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(await client.waitClosed(), { code: 4321, reason: "bye now" });
    const again = await apiRequest(server.port, "/api/disconnect", { body: { connection: client.welcome.data.connection } });
    assert.equal(again.status, 404);
    assert.equal(again.json.error.code, "unknown_connection");
  });

  test("disconnect-user: every connection of the user, on every app", async () => {
    const a = await open({ user: "eve" });
    const b = await ProtoClient.open(server.url("/other"), { query: {} });
    clients.push(b);
    const c = await open({ user: "eve" });
    const res = await apiRequest(server.port, "/api/disconnect-user", { body: { user: "eve", code: 4000 } });
    assert.equal(res.status, 200, res.body);
    assert.equal(res.json.closed.length, 2);
    assert.equal((await a.waitClosed()).code, 4000);
    assert.equal((await c.waitClosed()).code, 4000);
    assert.equal(b.ws.readyState, b.ws.OPEN);
    const none = await apiRequest(server.port, "/api/disconnect-user", { body: { user: "eve" } });
    assert.equal(none.json.error.code, "unknown_user");
  });

  test("presence: the members of a room; unknown_room for an empty one", async () => {
    const a = await open({ room: "lobby", user: "fay" });
    await open({ room: "lobby", user: "gus" });
    const res = await apiRequest(server.port, "/api/presence", { body: { app: "/app", room: "lobby" } });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(res.json.members.map((m: any) => m.user.id).sort(), ["fay", "gus"]);
    assert.ok(res.json.members.some((m: any) => m.connection === a.welcome.data.connection));
    const empty = await apiRequest(server.port, "/api/presence", { body: { app: "/app", room: "nobody-here" } });
    assert.equal(empty.status, 404);
    assert.equal(empty.json.error.code, "unknown_room");
  });

  test("connections: paged, searchable by id, endpoint, room and user", async () => {
    const h = await open({ room: "search-room", user: "hal" });
    await open({ room: "search-room", user: "ivy" });
    const id = h.welcome.data.connection as string;
    const all = await apiRequest(server.port, "/api/connections?limit=2");
    assert.equal(all.status, 200, all.body);
    assert.equal(all.json.items.length, 2);
    assert.ok(all.json.total >= 4);
    const next = await apiRequest(server.port, "/api/connections?limit=2&offset=2");
    assert.notEqual(next.json.items[0].id, all.json.items[0].id);
    const byRoom = await apiRequest(server.port, "/api/connections?room=search-room");
    assert.deepEqual(byRoom.json.items.map((i: any) => i.user.id).sort(), ["hal", "ivy"]);
    assert.equal(byRoom.json.total, 2);
    const byUser = await apiRequest(server.port, "/api/connections?user=hal");
    assert.deepEqual(byUser.json.items.map((i: any) => i.id), [id]);
    assert.deepEqual(byUser.json.items[0].rooms, ["search-room"]);
    const byId = await apiRequest(server.port, `/api/connections?id=${encodeURIComponent(id)}`);
    assert.ok(byId.json.items.some((i: any) => i.id === id));
    const byEndpoint = await apiRequest(server.port, "/api/connections?endpoint=%2Fother");
    assert.ok(byEndpoint.json.items.every((i: any) => i.endpoint === "/other"));
    const tooMany = await apiRequest(server.port, "/api/connections?limit=21");
    assert.equal(tooMany.status, 400);
    assert.match(tooMany.json.error.message, /apiMaxPageSize/);
    assert.equal((await apiRequest(server.port, "/api/connections?offset=-1")).status, 400);
    assert.equal((await apiRequest(server.port, "/api/connections?endpoint=%2Fnope")).json.error.code, "unknown_endpoint");
  });

  test("rooms: paged, with member counts, filtered by name", async () => {
    await open({ room: ["rooms-a", "rooms-b"], user: "jon" });
    await open({ room: "rooms-a", user: "kim" });
    const res = await apiRequest(server.port, "/api/rooms?app=%2Fapp&q=rooms-");
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(res.json.items.map((r: any) => [r.room, r.members]).sort(), [["rooms-a", 2], ["rooms-b", 1]]);
    const page = await apiRequest(server.port, "/api/rooms?q=rooms-&limit=1");
    assert.equal(page.json.items.length, 1);
    assert.equal(page.json.total, 2);
  });

  test("stats: live figures, endpoints, services, cluster, log level", async () => {
    const res = await apiRequest(server.port, "/api/stats");
    assert.equal(res.status, 200);
    assert.ok(res.json.connections >= 1);
    assert.deepEqual(res.json.endpoints.map((e: any) => e.path), ["/app", "/other", "/echo"]);
    assert.ok(res.json.endpoints[0].app.rooms >= 1);
    assert.ok(res.json.totals.pushes >= 1);
    assert.ok(res.json.services.some((s: any) => s.name === "ticker"));
    assert.equal(res.json.cluster.kind, "memory");
    assert.equal(res.json.logLevel, "silent");
    const head = await apiRequest(server.port, "/api/stats", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.body, "");
  });

  test("endpoint: disable refuses new connections (503), enable takes them again", async () => {
    const off = await apiRequest(server.port, "/api/endpoint", { body: { endpoint: "/echo", enabled: false } });
    assert.deepEqual(off.json, { endpoint: "/echo", enabled: false });
    assert.equal(await refusedStatus(server.url("/echo")), 503);
    await apiRequest(server.port, "/api/endpoint", { body: { endpoint: "/echo", enabled: true } });
    const client = await connect(server.url("/echo"));
    await client.close();
  });

  test("service restart, and the ones that cannot be restarted", async () => {
    const before = (await apiRequest(server.port, "/api/services")).json.services.find((s: any) => s.name === "ticker");
    const res = await apiRequest(server.port, "/api/service/restart", { body: { name: "ticker" } });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(res.json, { name: "ticker", state: "running" });
    const after = (await apiRequest(server.port, "/api/services")).json.services.find((s: any) => s.name === "ticker");
    assert.ok(after.since >= before.since);
    const listener = await apiRequest(server.port, "/api/service/restart", { body: { name: "http" } });
    assert.equal(listener.status, 403);
    const missing = await apiRequest(server.port, "/api/service/restart", { body: { name: "nope" } });
    assert.equal(missing.json.error.code, "unknown_service");
  });

  test("log level: set through the API, in force on the server", async () => {
    const res = await apiRequest(server.port, "/api/log-level", { body: { level: "warn" } });
    assert.deepEqual(res.json, { level: "warn" });
    assert.equal(server.logLevel, "warn");
    assert.equal((await apiRequest(server.port, "/api/stats")).json.logLevel, "warn");
    const bad = await apiRequest(server.port, "/api/log-level", { body: { level: "loud" } });
    assert.equal(bad.status, 400);
    server.setLogLevel("silent");
  });

  test("command: a registered control command runs; stop is refused; unknown ones are 404", async () => {
    const res = await apiRequest(server.port, "/api/command", { body: { command: "connections", args: ["/other"] } });
    assert.equal(res.status, 200, res.body);
    assert.ok(Array.isArray(res.json.result));
    assert.ok(res.json.result.every((c: any) => c.path === "/other"));
    const stop = await apiRequest(server.port, "/api/command", { body: { command: "stop" } });
    assert.equal(stop.status, 403);
    assert.equal(server.state, "running");
    const unknown = await apiRequest(server.port, "/api/command", { body: { command: "nope" } });
    assert.equal(unknown.json.error.code, "unknown_command");
    const badArgs = await apiRequest(server.port, "/api/command", { body: { command: "kick" } });
    assert.equal(badArgs.status, 400);
  });
});

describe("api request bodies that do not arrive", () => {
  test("408 when the body is not in within handshakeTimeoutMs; a client gone mid-body leaves the server serving", async (t) => {
    const server = await startServer({ api: { key: KEY }, handshakeTimeoutMs: 300 }, (s) => s.app("/app"));
    t.after(() => server.stop());
    const head = `POST /api/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"room":`;

    const slow = netConnect(server.port, "127.0.0.1");
    let answer = "";
    slow.setEncoding("utf8").on("data", (chunk: string) => (answer += chunk));
    slow.on("error", () => undefined);
    slow.write(head);
    await within(new Promise((resolve) => slow.once("close", resolve)), 5_000, "the server to answer the slow body and close");
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(answer, /"code":"body_timeout"/);

    const gone = netConnect(server.port, "127.0.0.1");
    gone.on("error", () => undefined);
    await within(new Promise((resolve) => gone.once("connect", resolve)), 5_000, "a connection");
    gone.write(head);
    gone.destroy();
    const after = await apiRequest(server.port, "/api/stats");
    assert.equal(after.status, 200);
  });

  test("with api only, there is no admin page", async (t) => {
    const server = await startServer({ api: { key: KEY } }, (s) => s.app("/app"));
    t.after(() => server.stop());
    assert.equal((await apiRequest(server.port, "/admin")).status, 404);
    assert.equal((await apiRequest(server.port, "/admin/assets/uPlot.iife.min.js")).status, 404);
    assert.equal((await apiRequest(server.port, "/api/stats", { key: ADMIN_TOKEN })).status, 401);
  });
});
