/**
 * GET /metrics (observe/metrics.ts): after real traffic on real sockets, the Prometheus text
 * carries the counts of what happened — connections, an echo, refused handshakes (404, 403), a
 * close with a code, task calls ok and failing, a room push — and the server's own state.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { reject, type App, type Server } from "../../src/index.ts";
import { startServer } from "../helpers/server.ts";
import { connect, refusedStatus } from "../helpers/ws-client.ts";
import { ProtoClient } from "../helpers/app-client.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { deferred, within } from "../helpers/until.ts";

/** Prometheus text → `name{labels}` → value (labels exactly as prom-client writes them). */
function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

async function scrape(server: Server, headers: Record<string, string> = {}, port = server.port): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers });
  return { status: res.status, type: res.headers.get("content-type"), text: await res.text() };
}

test("/metrics after real traffic: connections, echo, refusals, close codes, tasks, rooms, cluster, services", async (t) => {
  const closedOnServer = deferred<number>();
  let app!: App;
  const server = await startServer({ metrics: { enabled: true } }, (s) => {
    s.endpoint("/echo", {
      handshake: (req) => (req.query.get("deny") === "1" ? reject(403, "denied by test") : undefined),
      message: (conn, data, isBinary) => void conn.send(data, isBinary),
      close: (_conn, code) => closedOnServer.resolve(code),
    });
    app = s.app("/app");
    app.task("work.ok", ({ data }) => ({ echoed: data }));
    app.task("work.boom", () => {
      throw new Error("boom from test");
    });
    // Never settles by itself: its 50 ms timeout answers it (an event: the timer, not a sleep).
    app.task("work.stuck", { timeoutMs: 50, handler: ({ signal }) => new Promise((resolve) => signal.addEventListener("abort", resolve)) });
  });
  t.after(() => server.stop());

  // An echo, then a close with code 4001 from the client.
  const echo = await connect(server.url("/echo"));
  echo.send("hello");
  assert.equal((await echo.next()).text, "hello");
  echo.ws.close(4001, "bye");
  assert.equal(await within(closedOnServer.promise, 5_000, "the server's close hook"), 4001);

  // Refused upgrades: an unknown path (404, before routing) and the hook's 403.
  assert.equal(await refusedStatus(server.url("/nowhere", "ws")), 404);
  assert.equal(await refusedStatus(`${server.url("/echo")}?deny=1`), 403);

  // Tasks: one ok, one that throws (internal); a room push to a member.
  const client = await ProtoClient.open(server.url("/app"), { query: { room: "lobby" } });
  t.after(() => client.close());
  assert.deepEqual((await client.call("work.ok", { n: 1 })).data, { echoed: { n: 1 } });
  assert.equal((await client.call("work.boom", {})).error.code, "internal");
  assert.equal((await client.call("work.stuck", {})).error.code, "timeout");
  const pushed = client.next((f) => f.task === "news");
  // Through the app's rooms: the push goes to the room's stream, then to its members.
  await app.rooms.publish("lobby", "news", { headline: "metrics" });
  assert.deepEqual((await pushed).data, { headline: "metrics" });

  const { status, type, text } = await scrape(server);
  assert.equal(status, 200);
  assert.match(type ?? "", /^text\/plain; version=0\.0\.4/);
  const m = parseMetrics(text);
  const expect = (key: string, value: number) => assert.equal(m.get(key), value, `${key} in:\n${text}`);
  expect('switchboard_connections{endpoint="/echo"}', 0);
  expect('switchboard_connections{endpoint="/app"}', 1);
  expect('switchboard_connections_accepted_total{endpoint="/echo"}', 1);
  expect('switchboard_handshakes_refused_total{endpoint="",status="404"}', 1);
  expect('switchboard_handshakes_refused_total{endpoint="/echo",status="403"}', 1);
  expect('switchboard_closes_total{endpoint="/echo",code="4001"}', 1);
  expect('switchboard_messages_received_total{endpoint="/echo"}', 1);
  expect('switchboard_messages_sent_total{endpoint="/echo"}', 1);
  expect('switchboard_message_bytes_received_total{endpoint="/echo"}', 5);
  expect('switchboard_message_bytes_sent_total{endpoint="/echo"}', 5);
  // The app endpoint received the three calls; it sent a welcome, three replies and the push.
  expect('switchboard_messages_received_total{endpoint="/app"}', 3);
  expect('switchboard_messages_sent_total{endpoint="/app"}', 5);
  expect('switchboard_tasks_total{app="/app",task="work.ok",outcome="ok"}', 1);
  expect('switchboard_tasks_total{app="/app",task="work.boom",outcome="internal"}', 1);
  expect('switchboard_tasks_total{app="/app",task="work.stuck",outcome="timeout"}', 1);
  expect('switchboard_task_duration_seconds_count{app="/app",task="work.ok"}', 1);
  expect('switchboard_task_duration_seconds_bucket{le="+Inf",app="/app",task="work.boom"}', 1);
  expect('switchboard_rooms{app="/app"}', 1);
  expect('switchboard_room_members{app="/app"}', 1);
  assert.ok((m.get('switchboard_app_pushes_total{app="/app",outcome="sent"}') ?? 0) >= 1, "the room push is counted as sent");
  expect('switchboard_slow_consumer_total{endpoint="/echo",action="close"}', 0);
  expect("switchboard_cluster_up", 1);
  expect('switchboard_cluster_messages_total{event="dropped"}', 0);
  expect("switchboard_cluster_outages_total", 0);
  expect('switchboard_service_state{service="http",state="running"}', 1);
  expect('switchboard_service_state{service="cluster",state="running"}', 1);
  expect('switchboard_service_restarts_total{service="http"}', 0);
  assert.ok(m.has('switchboard_event_loop_lag_seconds{stat="p99"}'), "event-loop lag is reported");
  // The text is valid exposition format: every sample's family has HELP and TYPE lines.
  for (const key of m.keys()) {
    const family = key.replace(/\{.*$/, "").replace(/_(bucket|sum|count)$/, "");
    assert.match(text, new RegExp(`# TYPE ${family} (counter|gauge|histogram)`), `TYPE line for ${family}`);
  }
});

test("metrics are off by default: /metrics is 404, and an explicit enabled: false is off too", async (t) => {
  const plain = await startServer();
  t.after(() => plain.stop());
  assert.equal((await rawRequest(plain.port, "/metrics")).status, 404);
  const off = await startServer({ metrics: { enabled: false, token: "0123456789abcdef0123" } });
  t.after(() => off.stop());
  assert.equal((await rawRequest(off.port, "/metrics")).status, 404);
});

test("metrics.token: 401 without or with a wrong bearer token, 200 with it (any case of the scheme)", async (t) => {
  const token = "s3cret-metrics-token-0123456789";
  const server = await startServer({ metrics: { enabled: true, token } });
  t.after(() => server.stop());
  const none = await scrape(server);
  assert.equal(none.status, 401);
  assert.doesNotMatch(none.text, /switchboard_/);
  assert.equal((await scrape(server, { Authorization: "Bearer wrong-token" })).status, 401);
  assert.equal((await scrape(server, { Authorization: `Bearer ${token}x` })).status, 401);
  assert.equal((await scrape(server, { Authorization: `Basic ${token}` })).status, 401);
  const ok = await scrape(server, { Authorization: `Bearer ${token}` });
  assert.equal(ok.status, 200);
  assert.match(ok.text, /^switchboard_pending_handshakes 0$/m);
  // The scheme is case-insensitive (RFC 7235), as for the server API's keys: one check for both.
  assert.equal((await scrape(server, { Authorization: `bearer ${token}` })).status, 200);
});

test("metrics.port: served on their own listener (and its /readyz), not on the main port; two servers do not clash", async (t) => {
  const a = await startServer({ metrics: { enabled: true, port: 0, path: "/internal/metrics" } }, (s) => s.endpoint("/echo"));
  t.after(() => a.stop());
  const b = await startServer({ metrics: { enabled: true } }, (s) => s.endpoint("/other"));
  t.after(() => b.stop());
  const port = a.metricsPort;
  assert.ok(port !== undefined && port !== a.port, "a listener of its own");
  assert.equal((await rawRequest(a.port, "/internal/metrics")).status, 404, "not on the main port");
  assert.equal((await rawRequest(port, "/metrics")).status, 404, "only its path");
  assert.equal((await rawRequest(port, "/internal/metrics", "POST")).status, 405);
  const own = await rawRequest(port, "/internal/metrics");
  assert.equal(own.status, 200);
  assert.match(own.body, /switchboard_connections\{endpoint="\/echo"\} 0/);
  assert.doesNotMatch(own.body, /endpoint="\/other"/, "each server has its own registry");
  const ready = await rawRequest(port, "/readyz");
  assert.equal(ready.status, 200);
  assert.equal(JSON.parse(ready.body).ready, true);
  const other = await scrape(b);
  assert.match(other.text, /switchboard_connections\{endpoint="\/other"\} 0/);
  assert.doesNotMatch(other.text, /endpoint="\/echo"/);
  assert.equal(b.metricsPort, undefined);
});
