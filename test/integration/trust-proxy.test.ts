/**
 * trustProxy end to end: raw HTTP upgrade requests carrying Forwarded / X-Forwarded-For from
 * 127.0.0.1, and the address the handshake hook saw (req.remoteAddress, req.peerAddress).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect as netConnect } from "node:net";
import { randomBytes } from "node:crypto";
import { startServer } from "../helpers/server.ts";
import { within } from "../helpers/until.ts";
import type { Server, ServerOptions } from "../../src/index.ts";

interface Seen { remoteAddress: string | undefined; peerAddress: string | undefined }

async function serverSeeing(t: { after(fn: () => unknown): void }, options: ServerOptions): Promise<{ server: Server; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = await startServer(options, (s) => s.endpoint("/ws", {
    handshake(req) {
      seen.push({ remoteAddress: req.remoteAddress, peerAddress: req.peerAddress });
    },
  }));
  t.after(() => server.stop({ timeoutMs: 1_000 }));
  return { server, seen };
}

/** An upgrade written by hand with `headers`; resolves with the status line's code, then hangs up. */
function upgradeWith(port: number, headers: string[]): Promise<number> {
  const socket = netConnect(port, "127.0.0.1");
  let text = "";
  const answered = new Promise<number>((resolve, reject) => {
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      text += chunk;
      if (text.includes("\r\n\r\n")) {
        resolve(Number(text.split(" ")[1]));
        socket.destroy();
      }
    });
    socket.on("error", reject);
  });
  socket.write(
    `GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n${headers.map((h) => `${h}\r\n`).join("")}\r\n`,
  );
  return within(answered, 5_000, "an answer to the upgrade");
}

async function addressSeen(port: number, seen: Seen[], headers: string[]): Promise<Seen> {
  const before = seen.length;
  assert.equal(await upgradeWith(port, headers), 101);
  assert.equal(seen.length, before + 1, "the handshake hook ran once");
  return seen[before]!;
}

test("trustProxy off (default): the headers are ignored", async (t) => {
  const { server, seen } = await serverSeeing(t, {});
  const got = await addressSeen(server.port, seen, ["X-Forwarded-For: 203.0.113.7", 'Forwarded: for="[2001:db8::7]"']);
  assert.equal(got.remoteAddress, "127.0.0.1");
  assert.equal(got.peerAddress, "127.0.0.1");
});

test("trustProxy: true — the client's address from X-Forwarded-For or Forwarded; malformed headers leave the peer", async (t) => {
  const { server, seen } = await serverSeeing(t, { trustProxy: true });
  const port = server.port;
  assert.deepEqual(await addressSeen(port, seen, ["X-Forwarded-For: 203.0.113.7"]), { remoteAddress: "203.0.113.7", peerAddress: "127.0.0.1" });
  assert.equal((await addressSeen(port, seen, ['Forwarded: for="[2001:db8:cafe::17]:4711";proto=https'])).remoteAddress, "2001:db8:cafe::17");
  // Forwarded wins over X-Forwarded-For.
  assert.equal((await addressSeen(port, seen, ["Forwarded: for=198.51.100.2", "X-Forwarded-For: 203.0.113.7"])).remoteAddress, "198.51.100.2");
  // Two header lines are one list.
  assert.equal((await addressSeen(port, seen, ["X-Forwarded-For: 198.51.100.9", "X-Forwarded-For: 10.0.0.1"])).remoteAddress, "198.51.100.9");
  for (const garbage of ["X-Forwarded-For: 203.0.113.7, <script>", "X-Forwarded-For: ", "Forwarded: for=2001:db8::1", 'Forwarded: for="unterminated']) {
    assert.equal((await addressSeen(port, seen, [garbage])).remoteAddress, "127.0.0.1", garbage);
  }
});

test("trustProxy: a list — only a listed peer's headers count, and listed hops are skipped", async (t) => {
  const trusted = await serverSeeing(t, { trustProxy: ["127.0.0.1", "10.0.0.0/8"] });
  assert.equal((await addressSeen(trusted.server.port, trusted.seen, ["X-Forwarded-For: 6.6.6.6, 203.0.113.7, 10.4.4.4"])).remoteAddress, "203.0.113.7");
  // 127.0.0.1 is not in this list: a client connecting directly cannot claim an address.
  const other = await serverSeeing(t, { trustProxy: ["10.0.0.0/8"] });
  assert.equal((await addressSeen(other.server.port, other.seen, ["X-Forwarded-For: 203.0.113.7"])).remoteAddress, "127.0.0.1");
});

test("trustProxy: a bad value is refused at createServer(), naming the option", async () => {
  const { createServer, OptionError } = await import("../../src/index.ts");
  assert.throws(() => createServer({ trustProxy: ["not-an-address"] }), (err: unknown) => err instanceof OptionError && err.option === "trustProxy");
  assert.throws(() => createServer({ trustProxy: 2 as never }), (err: unknown) => err instanceof OptionError && err.option === "trustProxy");
});

test("trustProxy: the open connection's remoteAddress (listings, the admin page) is the client's too", async (t) => {
  const opened: Array<string | undefined> = [];
  const server = await startServer({ trustProxy: true }, (s) => s.endpoint("/ws", {
    open(conn) {
      opened.push(conn.remoteAddress);
    },
  }));
  t.after(() => server.stop({ timeoutMs: 1_000 }));
  assert.equal(await upgradeWith(server.port, ["X-Forwarded-For: 203.0.113.7"]), 101);
  await within((async () => { while (opened.length === 0) await new Promise((r) => setImmediate(r)); })(), 5_000, "the open hook");
  assert.deepEqual(opened, ["203.0.113.7"]);
});
