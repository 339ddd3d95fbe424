import { test } from "node:test";
import assert from "node:assert/strict";
import { startEchoServer } from "../../examples/tcp-echo/server.ts";
import { StateError } from "../../src/errors.ts";
import { TcpTestClient, within } from "../helpers/net-clients.ts";

test("examples/tcp-echo through server.tcp: echo, stats in server.stats(), goodbye on server.stop()", async () => {
  const { server, tcp } = await startEchoServer({ port: 0, logLevel: "silent" });
  const client = await TcpTestClient.open(tcp.port);
  client.write("hello\nwor");
  client.write("ld\n");
  await client.until((r) => r.toString() === "welcome tcp-1\nhello\nworld\n", "welcome and two echoes");
  const stats = server.stats().listeners;
  assert.equal(stats.length, 1);
  assert.equal(stats[0]!.kind, "tcp");
  assert.equal((stats[0] as { connections: number }).connections, 1);
  assert.throws(() => server.tcp({ port: 0, protocol: () => ({}) }), StateError);
  await within(server.stop(), "server stop");
  await within(client.closed, "client closed");
  assert.ok(client.text.endsWith("bye: server shutting down after 2 lines\n"));
});
