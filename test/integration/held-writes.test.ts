// Writes held until the end of the tick (src/transport/held-writes.ts): a broadcast of several
// messages in one turn gives every socket ONE write of ONE shared buffer; what ws writes itself
// (a pong, the close reply) never overtakes what is held; held bytes count in bufferedAmount.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { Socket } from "node:net";
import { startServer } from "../helpers/server.ts";
import { RawSocket } from "../helpers/raw-socket.ts";

/** Spies on the server's stream writes (one _write/_writev call is one system call); t.mock restores them. */
function spyServerWrites(t: TestContext): (client: RawSocket) => unknown[][] {
  const proto = Socket.prototype as unknown as Record<"_write" | "_writev", (...args: unknown[]) => void>;
  const spies = [t.mock.method(proto, "_write"), t.mock.method(proto, "_writev")];
  return (client) => spies.flatMap((spy) => spy.mock.calls.filter((call) => (call.this as Socket).remotePort === client.socket.localPort).map((call) => call.arguments));
}

async function openRaw(t: TestContext, port: number, path: string): Promise<RawSocket> {
  const raw = await RawSocket.open(port);
  t.after(() => raw.socket.destroy());
  await raw.upgrade(path);
  return raw;
}

/** Several frames in one TCP write: the server reads them in one chunk. */
function sendTogether(raw: RawSocket, frames: Array<[number, string]>): void {
  raw.socket.cork();
  for (const [opcode, text] of frames) raw.sendFrame(opcode, Buffer.from(text));
  raw.socket.uncork();
}

test("a broadcast of the messages of one read: each subscriber gets one write, the same buffer for all", async (t) => {
  const server = await startServer({}, (s) => {
    const fan = s.endpoint("/fan", { message: (_conn, data) => void fan.broadcast(String(data)) });
  });
  t.after(() => server.stop());
  const publisher = await openRaw(t, server.port, "/fan");
  const subscribers = [await openRaw(t, server.port, "/fan"), await openRaw(t, server.port, "/fan"), await openRaw(t, server.port, "/fan")];
  const writesTo = spyServerWrites(t);
  sendTogether(publisher, [[1, "m1"], [1, "m2"], [1, "m3"]]);
  for (const raw of [publisher, ...subscribers]) {
    const got: string[] = [];
    for (let i = 0; i < 3; i++) got.push((await raw.readFrame()).payload.toString());
    assert.deepEqual(got, ["m1", "m2", "m3"]);
  }
  const chunks = subscribers.map((raw) => {
    const writes = writesTo(raw);
    assert.equal(writes.length, 1, "one write per subscriber");
    return writes[0]![0];
  });
  assert.ok(Buffer.isBuffer(chunks[0]));
  assert.ok(chunks.every((chunk) => chunk === chunks[0]), "every subscriber was written the same Buffer");
});

test("a pong ws sends itself comes after the replies held before it", async (t) => {
  const server = await startServer({}, (s) => s.endpoint("/echo", { message: (conn, data) => void conn.send(`re:${data}`) }));
  t.after(() => server.stop());
  const raw = await openRaw(t, server.port, "/echo");
  sendTogether(raw, [[1, "a"], [1, "b"], [9, "p"]]);
  const frames = [await raw.readFrame(), await raw.readFrame(), await raw.readFrame()];
  assert.deepEqual(frames.map((f) => [f.opcode, f.payload.toString()]), [[1, "re:a"], [1, "re:b"], [10, "p"]]);
});

test("the close reply comes after the replies held before it", async (t) => {
  const server = await startServer({}, (s) => s.endpoint("/echo", { message: (conn, data) => void conn.send(`re:${data}`) }));
  t.after(() => server.stop());
  const raw = await openRaw(t, server.port, "/echo");
  raw.socket.cork();
  raw.sendFrame(1, Buffer.from("a"));
  raw.sendFrame(1, Buffer.from("b"));
  raw.sendFrame(8, Buffer.from([0x03, 0xe8]));
  raw.socket.uncork();
  const frames = [await raw.readFrame(), await raw.readFrame(), await raw.readFrame()];
  assert.deepEqual(frames.map((f) => f.opcode), [1, 1, 8]);
  assert.deepEqual(frames.slice(0, 2).map((f) => f.payload.toString()), ["re:a", "re:b"]);
});

test("held bytes count in bufferedAmount, so maxBufferedBytes refuses what would pass it", async (t) => {
  const results: boolean[] = [];
  const amounts: number[] = [];
  const payload = "x".repeat(100); // a 102-byte frame
  const server = await startServer({}, (s) => s.endpoint("/five", {
    maxBufferedBytes: 250,
    slowConsumer: "drop",
    message: (conn) => {
      for (let i = 0; i < 5; i++) {
        results.push(conn.send(payload));
        amounts.push(conn.bufferedAmount);
      }
    },
  }));
  t.after(() => server.stop());
  const raw = await openRaw(t, server.port, "/five");
  raw.sendFrame(1, Buffer.from("go"));
  for (let i = 0; i < 4; i++) assert.equal((await raw.readFrame()).payload.toString(), payload);
  // The first is written at once; the next three are held (102, 204, 306 bytes); the fifth is refused.
  assert.deepEqual(results, [true, true, true, true, false]);
  assert.deepEqual(amounts.slice(1), [102, 204, 306, 306]);
});

test("sends of an open hook join the upgrade's corked write instead of a write of their own", async (t) => {
  const server = await startServer({}, (s) => s.endpoint("/hello", { open: (conn) => { conn.send("a"); conn.send("b"); } }));
  t.after(() => server.stop());
  const raw = await RawSocket.open(server.port);
  t.after(() => raw.socket.destroy());
  const writesTo = spyServerWrites(t);
  await raw.upgrade("/hello");
  assert.deepEqual([(await raw.readFrame()).payload.toString(), (await raw.readFrame()).payload.toString()], ["a", "b"]);
  assert.equal(writesTo(raw).length, 1, "the 101 and both messages in one write");
});
