/**
 * A TCP peer that resets (RST) at every stage of a connection: right after connecting, in the
 * middle of a frame, and while a handler is still awaiting. Each time the close hook sees 1006,
 * nothing is unhandled, the listener serves the next client normally, and its counters agree
 * (accepted = closed + open; no hook errors; nothing left in `connections`).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import { TcpListener, type TcpHandler } from "../../src/transport/tcp.ts";
import { TcpTestClient, within } from "../helpers/net-clients.ts";
import { deferred } from "../helpers/until.ts";

const logger = pino({ level: "silent" });

interface Closed { id: string; code: number }

/** Collects closes; `closedCount(n)` resolves once n connections have run their close hook. */
function closeLog(): { closes: Closed[]; record(id: string, code: number): void; closedCount(n: number): Promise<void> } {
  const closes: Closed[] = [];
  const waiters: Array<() => void> = [];
  return {
    closes,
    record(id, code) {
      closes.push({ id, code });
      for (const wake of waiters.splice(0)) wake();
    },
    closedCount(n) {
      return within(new Promise<void>((resolve) => {
        const check = (): void => { if (closes.length >= n) resolve(); else waiters.push(check); };
        check();
      }), `${n} close hooks`);
    },
  };
}

async function echoRoundTrip(listener: TcpListener, frame: Buffer, expected: Buffer): Promise<void> {
  const client = await TcpTestClient.open(listener.port);
  client.write(frame);
  await client.until((r) => r.equals(expected), "an echo on a fresh connection");
  client.socket.end();
  await within(client.closed, "the echo client to close");
}

function lengthFrame(body: string): Buffer {
  const bytes = Buffer.from(body);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(bytes.length, 0);
  return Buffer.concat([prefix, bytes]);
}

test("RST right after connect, RST in the middle of a frame: close hooks get 1006, the listener serves on, counters agree", async () => {
  const log = closeLog();
  const listener = new TcpListener({
    port: 0, host: "127.0.0.1", framing: "length", logger,
    protocol: (): TcpHandler => ({
      message(conn, data) { conn.send(data); },
      close(conn, code) { log.record(conn.id, code); },
    }),
  });
  await listener.start();
  try {
    const rounds = 20; // bounded
    for (let i = 0; i < rounds; i++) {
      const early = await TcpTestClient.open(listener.port);
      early.socket.resetAndDestroy();
      const midFrame = await TcpTestClient.open(listener.port);
      // A 4-byte prefix announcing 100 bytes, then 10 of them, then RST.
      const frame = lengthFrame("x".repeat(100));
      midFrame.write(frame.subarray(0, 14));
      await within(new Promise<void>((resolve) => midFrame.socket.write(Buffer.alloc(0), () => resolve())), "the partial frame to be written");
      midFrame.socket.resetAndDestroy();
    }
    await log.closedCount(2 * rounds);
    await echoRoundTrip(listener, lengthFrame("after the resets"), lengthFrame("after the resets"));
    await log.closedCount(2 * rounds + 1);
    const stats = listener.stats();
    assert.equal(stats.accepted, 2 * rounds + 1);
    assert.equal(stats.connections, 0);
    assert.equal(listener.connections.size, 0);
    assert.equal(stats.hookErrors, 0);
    assert.equal(stats.framingErrors, 0);
    assert.equal(log.closes.length, stats.accepted, "every accepted connection ran its close hook exactly once");
    assert.equal(new Set(log.closes.map((c) => c.id)).size, log.closes.length);
    // Only the echo client closed cleanly; a reset one may still have been closed cleanly by
    // the kernel if the RST arrived after the FIN was read, so count the 1006s loosely.
    const resets = log.closes.filter((c) => c.code === 1006).length;
    assert.equal(resets > 0, true, `some close hooks saw 1006 (codes: ${log.closes.map((c) => c.code).join(",")})`);
  } finally {
    await listener.stop();
  }
});

test("RST while a message handler is awaiting: the late send is dropped (false), no error escapes, the listener serves on", async () => {
  const log = closeLog();
  const entered = deferred();
  const release = deferred();
  const lateSend = deferred<boolean>();
  let first = true;
  const listener = new TcpListener({
    port: 0, host: "127.0.0.1", framing: "lines", logger,
    protocol: (): TcpHandler => {
      const slow = first;
      first = false;
      return {
        async message(conn, data) {
          if (!slow) { conn.send(data); return; }
          entered.resolve();
          await release.promise;
          lateSend.resolve(conn.send("too late"));
        },
        close(conn, code) { log.record(conn.id, code); },
      };
    },
  });
  await listener.start();
  try {
    const client = await TcpTestClient.open(listener.port);
    client.write("wait for me\n");
    await within(entered.promise, "the handler to start awaiting");
    client.socket.resetAndDestroy();
    await log.closedCount(1);
    assert.deepEqual(log.closes.map((c) => c.code), [1006]);
    release.resolve();
    assert.equal(await within(lateSend.promise, "the late send"), false, "a send after the reset is dropped");
    await echoRoundTrip(listener, Buffer.from("after\n"), Buffer.from("after\n"));
    await log.closedCount(2);
    const stats = listener.stats();
    assert.equal(stats.accepted, 2);
    assert.equal(stats.connections, 0);
    assert.equal(stats.hookErrors, 0);
  } finally {
    await listener.stop();
  }
});
