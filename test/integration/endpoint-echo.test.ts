import { test } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "../helpers/server.ts";
import { connect } from "../helpers/ws-client.ts";

test("echoes text and binary messages", async (t) => {
  const server = await startServer({}, (s) => s.endpoint("/echo", { message: (conn, data, isBinary) => void conn.send(data, isBinary) }));
  t.after(() => server.stop());
  const client = await connect(server.url("/echo"));
  client.send("héllo");
  const text = await client.next();
  assert.equal(text.isBinary, false);
  assert.equal(text.text, "héllo");
  client.send(Buffer.from([0, 1, 2, 255]));
  const binary = await client.next();
  assert.equal(binary.isBinary, true);
  assert.deepEqual([...binary.data], [0, 1, 2, 255]);
  await client.close();
});

test("several endpoints share one port, each with its own handler", async (t) => {
  const server = await startServer({}, (s) => {
    s.endpoint("/a", { message: (conn, data) => void conn.send(`a:${data}`) });
    s.endpoint("/b", { message: (conn, data) => void conn.send(`b:${data}`) });
  });
  t.after(() => server.stop());
  const [a, b] = await Promise.all([connect(server.url("/a")), connect(server.url("/b"))]);
  a.send("1");
  b.send("2");
  assert.equal((await a.next()).text, "a:1");
  assert.equal((await b.next()).text, "b:2");
  assert.equal(new URL(server.url("/a")).port, new URL(server.url("/b")).port);
  await Promise.all([a.close(), b.close()]);
});

test("connection ids carry the prefix and are unique across the server's endpoints", async (t) => {
  const seen: string[] = [];
  const server = await startServer({}, (s) => {
    s.endpoint("/x", { idPrefix: "echo", open: (conn) => void seen.push(conn.id), message: (conn) => void conn.send(conn.id) });
    s.endpoint("/y", { idPrefix: "echo", open: (conn) => void seen.push(conn.id), message: (conn) => void conn.send(conn.id) });
    s.endpoint("/games/tetris", { open: (conn) => void seen.push(conn.id), message: (conn) => void conn.send(conn.id) });
  });
  t.after(() => server.stop());
  const clients = [];
  for (const path of ["/x", "/y", "/x", "/y", "/games/tetris"]) clients.push(await connect(server.url(path)));
  const ids = [];
  for (const client of clients) {
    client.send("id?");
    ids.push((await client.next()).text);
  }
  assert.deepEqual(ids, ["echo-1", "echo-2", "echo-3", "echo-4", "games-tetris-1"]);
  assert.equal(new Set(seen).size, seen.length);
  await Promise.all(clients.map((c) => c.close()));
});

test("defaultData gives each connection fresh data", async (t) => {
  const server = await startServer({}, (s) =>
    s.endpoint<{ count: number }>("/count", {
      defaultData: () => ({ count: 0 }),
      message: (conn) => void conn.send(String(++conn.data.count)),
    }),
  );
  t.after(() => server.stop());
  const a = await connect(server.url("/count"));
  const b = await connect(server.url("/count"));
  a.send("+");
  a.send("+");
  b.send("+");
  assert.equal((await a.next()).text, "1");
  assert.equal((await a.next()).text, "2");
  assert.equal((await b.next()).text, "1");
  await Promise.all([a.close(), b.close()]);
});

test("the close hook gets the client's code and reason; the connection leaves the registry", async (t) => {
  let resolveClosed!: (value: [string, number, string]) => void;
  const closed = new Promise<[string, number, string]>((r) => (resolveClosed = r));
  const server = await startServer({}, (s) => s.endpoint("/c", { close: (conn, code, reason) => resolveClosed([conn.id, code, reason]) }));
  t.after(() => server.stop());
  const client = await connect(server.url("/c"));
  assert.equal(server.endpoints.get("/c")!.connections.size, 1);
  client.ws.close(4321, "bye now");
  const [id, code, reason] = await closed;
  assert.equal(id, "c-1");
  assert.equal(code, 4321);
  assert.equal(reason, "bye now");
  assert.equal(server.endpoints.get("/c")!.connections.size, 0);
});

test("a message of many small fragments is reassembled", async (t) => {
  const server = await startServer({}, (s) => s.endpoint("/echo", { message: (conn, data, isBinary) => void conn.send(data, isBinary) }));
  t.after(() => server.stop());
  const client = await connect(server.url("/echo"));
  for (let i = 0; i < 10; i++) client.ws.send(String(i), { fin: i === 9 });
  assert.equal((await client.next()).text, "0123456789");
  await client.close();
});
