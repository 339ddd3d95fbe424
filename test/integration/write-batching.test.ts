// How the transport drives its streams: everything sent to one socket in one turn of the event
// loop goes out in one write, a lone message goes out at once, and a clean close wastes no
// work. Counted on the server's own streams (a _write/_writev call is one system call).
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { Socket } from "node:net";
import { Writable } from "node:stream";
import { startServer } from "../helpers/server.ts";
import type { Connection } from "../../src/index.ts";
import { RawSocket } from "../helpers/raw-socket.ts";

/** Counts stream writes on the server side of one client connection, from now on (t.mock restores them). */
function countServerWrites(t: TestContext, client: RawSocket): () => number {
  const proto = Socket.prototype as unknown as Record<"_write" | "_writev", (...args: unknown[]) => void>;
  const clientPort = client.socket.localPort;
  const spies = [t.mock.method(proto, "_write"), t.mock.method(proto, "_writev")];
  return () => spies.reduce((n, spy) => n + spy.mock.calls.filter((call) => (call.this as Socket).remotePort === clientPort).length, 0);
}

/** Replies to a raw client arrive as frames; this reads n text frames' payloads. */
async function readTexts(raw: RawSocket, n: number): Promise<string[]> {
  const texts: string[] = [];
  for (let i = 0; i < n; i++) texts.push((await raw.readFrame()).payload.toString());
  return texts;
}

test("the replies to all messages of one read leave in one write", async (t) => {
  const server = await startServer({}, (s) => s.endpoint("/echo", { message: (conn, data) => void conn.send(`re:${data}`) }));
  t.after(() => server.stop());
  const raw = await RawSocket.open(server.port);
  t.after(() => raw.socket.destroy());
  await raw.upgrade("/echo");
  const writes = countServerWrites(t, raw);
  // Eight frames in one TCP write: the server reads them in one chunk and replies eight times.
  raw.socket.cork();
  for (let i = 0; i < 8; i++) raw.sendFrame(1, Buffer.from(String(i)));
  raw.socket.uncork();
  assert.deepEqual(await readTexts(raw, 8), ["re:0", "re:1", "re:2", "re:3", "re:4", "re:5", "re:6", "re:7"]);
  assert.equal(writes(), 1);
});

test("a lone send is written at once; later sends of the same turn wait for one write", async (t) => {
  const seen: number[] = [];
  let writes: (() => number) | undefined;
  const server = await startServer({}, (s) => s.endpoint("/three", {
    message: (conn) => {
      for (const text of ["a", "b", "c"]) {
        conn.send(text);
        seen.push(writes!());
      }
    },
  }));
  t.after(() => server.stop());
  const raw = await RawSocket.open(server.port);
  t.after(() => raw.socket.destroy());
  await raw.upgrade("/three");
  writes = countServerWrites(t, raw);
  raw.sendFrame(1, Buffer.from("go"));
  assert.deepEqual(await readTexts(raw, 3), ["a", "b", "c"]);
  // "a" reached the socket before send() returned; "b" and "c" were corked and left together.
  assert.deepEqual(seen, [1, 1, 1]);
  assert.equal(writes(), 2);
});

// ws calls end() on finished streams in both directions of a clean close; the transport skips
// those calls from the close's start (it installs the skip then, not per idle connection).
for (const initiator of ["client", "server"] as const) {
  test(`a clean close begun by the ${initiator} calls end() on no stream that has already finished (Node builds an error for each)`, async (t) => {
    let closed!: (code: number) => void;
    const closedCode = new Promise<number>((resolve) => (closed = resolve));
    let opened!: (conn: Connection) => void;
    const openedConn = new Promise<Connection>((resolve) => (opened = resolve));
    const server = await startServer({}, (s) => s.endpoint("/bye", { open: (conn) => opened(conn), close: (_conn, code) => closed(code) }));
    t.after(() => server.stop());
    const raw = await RawSocket.open(server.port);
    t.after(() => raw.socket.destroy());
    await raw.upgrade("/bye");
    const conn = await openedConn;
    // From here on, count end() calls on server-side streams that have finished already: the
    // TCP socket of this connection and ws's frame parser (the only ws Receiver in this process,
    // since the client is a raw socket).
    const clientPort = raw.socket.localPort;
    const pointless: string[] = [];
    for (const proto of [Writable.prototype, Socket.prototype] as unknown as Array<{ end(...args: unknown[]): unknown }>) {
      const original = proto.end;
      t.mock.method(proto, "end", function (this: Writable, ...args: unknown[]) {
        const ours = this instanceof Socket ? this.remotePort === clientPort : this.constructor.name === "Receiver";
        if (ours && (this.writableFinished || this.destroyed)) pointless.push(this.constructor.name);
        return original.apply(this, args);
      });
    }
    const code = Buffer.alloc(2);
    code.writeUInt16BE(1000);
    if (initiator === "client") {
      // The client starts the close handshake, the server answers and ends, the client ends too.
      raw.sendFrame(8, code);
      assert.equal(await raw.readCloseCode(), 1000);
    } else {
      // The server starts it, the client answers, the server ends.
      conn.close(1000);
      assert.equal(await raw.readCloseCode(), 1000);
      raw.sendFrame(8, code);
    }
    await raw.ended;
    assert.equal(await closedCode, 1000);
    assert.deepEqual(pointless, []);
  });
}
