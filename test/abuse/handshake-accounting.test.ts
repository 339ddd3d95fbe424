// Issue 14, defect 3: a client that resets while its async handshake hook runs. The hook
// keeps counting as a pending handshake until it settles (the cap on pending handshakes bounds
// the user hooks running at once), while the client's maxConnections slot comes back as soon
// as its socket is gone, and only once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { startServer } from "../helpers/server.ts";
import { RawSocket } from "../helpers/raw-socket.ts";
import { connect, refusedStatus, TestClient, WAIT_MS } from "../helpers/ws-client.ts";
import { deferred, eventually, when, within } from "../helpers/until.ts";
import type { Server } from "../../src/index.ts";
import { upgradeRequest, watchServerSockets } from "./helpers/handshake.ts";

/** A /slow endpoint whose async hook waits for the test's `gate`; counts hooks entered and clients seen gone. */
async function slowServer(options: { maxPendingHandshakes: number; maxConnections: number }) {
  const gate = deferred();
  const events = new EventEmitter();
  const seen = { entered: 0, gone: 0 };
  const server = await startServer({ maxPendingHandshakes: options.maxPendingHandshakes }, (s) =>
    s.endpoint("/slow", {
      maxConnections: options.maxConnections,
      handshake: async (req) => {
        seen.entered++;
        req.onClientGone(() => void seen.gone++);
        events.emit("change");
        await gate.promise;
      },
      message: (conn, data, isBinary) => void conn.send(data, isBinary),
    }),
  );
  const until = (what: string, check: () => boolean) => when(check, (recheck) => events.on("change", recheck), WAIT_MS, what);
  return { server, gate, seen, until };
}

function slowStats(server: Server) {
  const stats = server.stats();
  return { pendingHandshakes: stats.pendingHandshakes, ...stats.endpoints.find((e) => e.path === "/slow")! };
}

/**
 * Raw clients that send a valid upgrade to /slow and are reset while their hook waits;
 * resolves once the server has seen every reset (its sockets emitted 'close').
 */
async function upgradeThenReset(server: Server, count: number, until: (what: string, check: () => boolean) => Promise<void>, seen: { entered: number }) {
  const watch = watchServerSockets();
  try {
    const before = seen.entered;
    const sockets = await Promise.all(Array.from({ length: count }, () => RawSocket.open(server.port)));
    for (const raw of sockets) raw.socket.write(upgradeRequest("/slow"));
    await until(`${count} hooks running`, () => seen.entered === before + count);
    const ports = sockets.map((raw) => raw.socket.localPort);
    for (const raw of sockets) raw.socket.resetAndDestroy();
    await within(Promise.all(ports.map((port) => watch.closed(port))), WAIT_MS, "the server to see the resets");
  } finally {
    watch.stop();
  }
}

test("reset during an async hook: the slot comes back at once, the hook stays pending until it settles", async (t) => {
  const { server, gate, seen, until } = await slowServer({ maxPendingHandshakes: 2, maxConnections: 100 });
  t.after(() => server.stop({ timeoutMs: 100 }));
  await upgradeThenReset(server, 2, until, seen);

  // The cap bounds the hooks running, reset or not: a third upgrade is refused, not a third hook.
  const third = new TestClient(server.url("/slow"));
  const answer = await within(Promise.race([third.opened.then(() => "opened", (err: Error) => err.message), until("a third hook", () => seen.entered > 2).then(() => "a third hook ran")]), WAIT_MS, "an answer");
  assert.equal(answer, "HTTP 503 Service Unavailable");
  assert.equal(slowStats(server).pendingHandshakes, 2, "both hooks still run: still pending");
  assert.equal(slowStats(server).reserved, 0, "the reset clients' slots are back");
  assert.equal(seen.gone, 2, "the hooks were told their clients left");

  gate.resolve();
  await eventually("the hooks settled", () => slowStats(server).pendingHandshakes === 0, WAIT_MS);
  assert.deepEqual(
    (({ pendingHandshakes, connections, reserved, accepted, abandoned }) => ({ pendingHandshakes, connections, reserved, accepted, abandoned }))(slowStats(server)),
    { pendingHandshakes: 0, connections: 0, reserved: 0, accepted: 0, abandoned: 2 },
  );
  // And the endpoint serves normally.
  const client = await connect(server.url("/slow"));
  client.send("echo");
  assert.equal((await client.next()).text, "echo");
  await client.close();
});

test("reset during an async hook frees the maxConnections slot once: a new client gets in, the late settle counts nothing twice", async (t) => {
  const { server, gate, seen, until } = await slowServer({ maxPendingHandshakes: 10, maxConnections: 1 });
  t.after(() => server.stop({ timeoutMs: 100 }));
  await upgradeThenReset(server, 1, until, seen);

  // The endpoint has 0 open: a new client reaches the hook (not a 503).
  const second = new TestClient(server.url("/slow"));
  const answer = await within(Promise.race([second.opened.then(() => "opened", (err: Error) => err.message), until("the new hook", () => seen.entered === 2).then(() => "hook")]), WAIT_MS, "an answer");
  assert.equal(answer, "hook", "the new client reached the hook");
  assert.equal(slowStats(server).reserved, 1, "only the new client holds a slot");
  gate.resolve(); // both hooks settle: the reset one (its slot already back) and the new one
  await within(second.opened, WAIT_MS, "the new client to open");
  await eventually("the hooks settled", () => slowStats(server).pendingHandshakes === 0, WAIT_MS);
  const stats = slowStats(server);
  assert.equal(stats.connections, 1);
  assert.equal(stats.reserved, 0, "the reset client's slot was not given back a second time");
  assert.equal(stats.abandoned, 1);
  // Full again (1 of 1 open): the defined answer is 503, which a double release would have skipped.
  assert.equal(await refusedStatus(server.url("/slow")), 503);

  second.send("still echoing");
  assert.equal((await second.next()).text, "still echoing");
  await second.close();
  await eventually("the connection gone", () => slowStats(server).connections === 0, WAIT_MS);
  const third = await connect(server.url("/slow"));
  await third.close();
});

test("a burst of resets during async hooks leaves every counter at 0 once the hooks settle", async (t) => {
  const { server, gate, seen, until } = await slowServer({ maxPendingHandshakes: 100, maxConnections: 100 });
  t.after(() => server.stop({ timeoutMs: 100 }));
  await upgradeThenReset(server, 100, until, seen);
  assert.equal(slowStats(server).pendingHandshakes, 100, "every hook still runs: still pending");
  assert.equal(slowStats(server).reserved, 0, "every slot given back");
  gate.resolve();
  await eventually("every hook settled", () => slowStats(server).pendingHandshakes === 0, WAIT_MS);
  const stats = slowStats(server);
  assert.deepEqual([stats.connections, stats.reserved, stats.abandoned], [0, 0, 100]);
  const client = await connect(server.url("/slow"));
  await client.close();
});
