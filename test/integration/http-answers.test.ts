import { test } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "../helpers/server.ts";
import { connect, refusedStatus } from "../helpers/ws-client.ts";

test("an upgrade to an unknown path gets 404 before any WebSocket exists", async (t) => {
  let opened = 0;
  const server = await startServer({}, (s) => s.endpoint("/echo", { open: () => void opened++ }));
  t.after(() => server.stop());
  assert.equal(await refusedStatus(server.url("/nope", "ws")), 404);
  assert.equal(await refusedStatus(server.url("/echo/extra", "ws")), 404);
  assert.equal(opened, 0);
});

test("plain HTTP: 426 on an endpoint path, 404 elsewhere, 405 for a POST to a page", async (t) => {
  const server = await startServer({}, (s) => {
    s.endpoint("/echo");
    s.get("/page", (_req, res) => void res.end("page"));
  });
  t.after(() => server.stop());
  const upgradeRequired = await fetch(server.url("/echo", "http"));
  assert.equal(upgradeRequired.status, 426);
  assert.equal(upgradeRequired.headers.get("upgrade"), "websocket");
  assert.equal((await fetch(server.url("/missing"))).status, 404);
  const page = await fetch(server.url("/page"));
  assert.equal(page.status, 200);
  assert.equal(await page.text(), "page");
  assert.equal((await fetch(server.url("/page"), { method: "POST" })).status, 405);
});

test("GET /healthz answers 200 JSON with uptime and connection counts", async (t) => {
  const server = await startServer({}, (s) => {
    s.endpoint("/a");
    s.endpoint("/b");
  });
  t.after(() => server.stop());
  const a1 = await connect(server.url("/a"));
  const a2 = await connect(server.url("/a"));
  const response = await fetch(server.url("/healthz"));
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /application\/json/);
  const body = (await response.json()) as { status: string; uptimeSeconds: number; connections: number; endpoints: Record<string, number> };
  assert.equal(body.status, "ok");
  assert.equal(typeof body.uptimeSeconds, "number");
  assert.equal(body.connections, 2);
  assert.deepEqual(body.endpoints, { "/a": 2, "/b": 0 });
  await Promise.all([a1.close(), a2.close()]);
});

test("maxConnections: the upgrade past the limit gets 503; a freed slot can be used again", async (t) => {
  const server = await startServer({}, (s) => s.endpoint("/limited", { maxConnections: 2 }));
  t.after(() => server.stop());
  const first = await connect(server.url("/limited"));
  const second = await connect(server.url("/limited"));
  assert.equal(await refusedStatus(server.url("/limited")), 503);
  await first.close();
  // The server saw the close once the client's close promise resolved: the slot is free.
  const third = await connect(server.url("/limited"));
  assert.equal(server.endpoints.get("/limited")!.stats().rejected, 1);
  await Promise.all([second.close(), third.close()]);
});

test("enabled flag: while disabled upgrades get 503 and open connections keep working", async (t) => {
  const server = await startServer({}, (s) => s.endpoint("/echo", { message: (conn, data) => void conn.send(data, false) }));
  t.after(() => server.stop());
  const endpoint = server.endpoints.get("/echo")!;
  const open = await connect(server.url("/echo"));
  endpoint.enabled = false;
  assert.equal(await refusedStatus(server.url("/echo")), 503);
  open.send("still here");
  assert.equal((await open.next()).text, "still here");
  endpoint.enabled = true;
  const again = await connect(server.url("/echo"));
  await Promise.all([open.close(), again.close()]);
});

test("an endpoint can start disabled", async (t) => {
  const server = await startServer({}, (s) => s.endpoint("/off", { enabled: false }));
  t.after(() => server.stop());
  assert.equal(await refusedStatus(server.url("/off")), 503);
});

test("a header block over maxHeaderBytes gets 431", async (t) => {
  const server = await startServer({ maxHeaderBytes: 2048 }, (s) => s.endpoint("/echo"));
  t.after(() => server.stop());
  const response = await fetch(server.url("/healthz"), { headers: { "x-big": "a".repeat(4096) } });
  assert.equal(response.status, 431);
});
