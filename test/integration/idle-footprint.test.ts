// Issue 18 (app-layer idle memory per connection): what an idle connection must NOT carry.
// Each of these was a per-connection cost found in heap snapshots of 10k idle connections
// (bench/README.md, "Idle memory"): a `once('close')` closure and an 'error' handler of ours
// left on every upgraded TCP socket, four listener closures on every WebSocket, and Sets and a
// bad-message budget made for every app connection, and a second table of app connections
// beside the endpoint's. The tests look at the server's own socket and app connection, so a
// change that brings one back fails here, not only in the bench.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { startApp, ProtoClient } from "../helpers/app-client.ts";
import { RawSocket } from "../helpers/raw-socket.ts";
import { deferred, within } from "../helpers/until.ts";
import { reject } from "../../src/index.ts";

/** The server side of the one WebSocket on `port` (its TCP socket's local port is the server's). */
function serverSocket(port: number): Socket {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const handles = (process as any)._getActiveHandles() as unknown[];
  const found = handles.filter((h): h is Socket => typeof h === "object" && h !== null && (h as Socket).localPort === port && (h as Socket).remotePort !== undefined);
  assert.equal(found.length, 1, "exactly one server-side socket on the port");
  return found[0]!;
}

function webSocketOf(socket: Socket): NodeJS.EventEmitter {
  const key = Object.getOwnPropertySymbols(socket).find((s) => s.description === "websocket");
  assert.ok(key, "ws marks the socket it has taken");
  const ws = (socket as unknown as Record<symbol, NodeJS.EventEmitter | undefined>)[key];
  assert.ok(ws, "the socket's WebSocket");
  return ws;
}

test("an upgraded socket keeps no listener of ours; its WebSocket has none at all; events still arrive", async (t) => {
  const { server, url } = await startApp({}, (app) => app.task("echo", ({ data }) => data));
  t.after(() => server.stop());
  const client = await ProtoClient.open(url);
  t.after(() => client.close());
  const socket = serverSocket(server.port);
  // ws's own handlers only (socketOnClose, socketOnError): the HTTP layer's came off at the upgrade.
  assert.equal(socket.listenerCount("close"), 1, "one 'close' listener (ws's)");
  assert.equal(socket.listenerCount("error"), 1, "one 'error' listener (ws's)");
  const ws = webSocketOf(socket);
  for (const event of ["message", "close", "pong", "error"]) {
    assert.equal(ws.listenerCount(event), 0, `no '${event}' listener: the WebSocket's emit routes it`);
  }
  // Routed all the same: a message gets its reply.
  const reply = await client.call("echo", "still routed");
  assert.equal(reply.data, "still routed");
});

test("idle app connections share one empty, read-only rooms set; a join gives the connection its own", async (t) => {
  const { server, app, url } = await startApp();
  t.after(() => server.stop());
  const a = await ProtoClient.open(url);
  const b = await ProtoClient.open(url);
  t.after(() => { a.close(); b.close(); });
  const connA = app.connections.get(a.welcome.data.connection)!;
  const connB = app.connections.get(b.welcome.data.connection)!;
  assert.equal(connA.rooms.size, 0);
  assert.equal(connA.rooms, connB.rooms, "no Set made per idle connection");
  assert.throws(() => (connA.rooms as Set<string>).add("x"), TypeError, "the shared set cannot be changed");
  assert.equal(connB.rooms.size, 0, "and nothing leaked into another connection");

  const joined = await a.call("room.join", { room: "lobby" });
  assert.equal(joined.data.room, "lobby");
  assert.deepEqual([...connA.rooms], ["lobby"]);
  assert.notEqual(connA.rooms, connB.rooms);
  assert.equal(connB.rooms.size, 0);
  const left = await a.call("room.leave", { room: "lobby" });
  assert.equal(left.data.room, "lobby");
  assert.equal(connA.rooms.size, 0);
});

test("an app connection is its endpoint connection's data: app.connections reads the endpoint's table; a refused one is not counted while its socket lingers", async (t) => {
  const appClosed = deferred<string>();
  const { server, app, url } = await startApp({
    session: (req) => (req.query.get("user") === "mallory" ? reject(401, "not you") : { id: "ok", name: "ok" }),
    close: (conn) => appClosed.resolve(conn.id),
  });
  t.after(() => server.stop());
  const endpoint = server.endpoints.get("/app")!;
  const a = await ProtoClient.open(url);
  const b = await ProtoClient.open(url);
  t.after(() => { a.close(); b.close(); });
  const ids: string[] = [a.welcome.data.connection, b.welcome.data.connection];
  for (const id of ids) assert.equal(endpoint.connections.get(id)!.data, app.connections.get(id), "no second object or table per connection");
  assert.equal(app.connections.size, 2);
  assert.deepEqual([...app.connections.keys()].sort(), [...ids].sort());
  assert.deepEqual([...app.connections].map(([id, conn]) => [id, conn.id]).sort(), ids.map((id) => [id, id]).sort());
  assert.equal(app.connections.has("app-999999"), false);
  assert.equal(app.stats().connections, 2);

  // A refused client that never answers the close frame: its socket stays in the endpoint's
  // table until closeTimeoutMs, but it never was an app connection.
  const raw = await RawSocket.open(server.port);
  t.after(() => raw.socket.destroy());
  await raw.upgrade("/app?user=mallory");
  assert.equal(await raw.readCloseCode(), 4401);
  assert.equal(endpoint.connections.size, 3, "the refused socket is still the endpoint's");
  assert.equal(app.connections.size, 2);
  assert.equal([...app.connections.values()].length, 2);
  assert.equal(app.stats().refused, 1);

  // A closed connection leaves the view by the time the app's close hook runs.
  a.close();
  assert.equal(await within(appClosed.promise, 5_000, "the app's close hook"), ids[0]);
  assert.equal(app.connections.size, 1);
  assert.equal(app.connections.get(ids[0]!), undefined);
  assert.deepEqual([...app.connections.keys()], [ids[1]]);
});
