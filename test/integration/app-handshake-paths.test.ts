/**
 * An app decides an upgrade synchronously while session() and the room policy answer
 * synchronously, and goes async only from the first answer that is a promise (or any
 * thenable). Every mix admits and refuses exactly as the fully async path does.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { reject } from "../../src/index.ts";
import type { AppOptions } from "../../src/app/app.ts";
import { WebSocket } from "ws";
import { ProtoClient, startApp } from "../helpers/app-client.ts";
import { withTimeout } from "../helpers/ws-client.ts";
import { refusedClose } from "../integration/client-refusal-helpers.ts";

/** Room "async-*" answers with a promise, "thenable-*" with a bare thenable, others at once; "secret*" is refused. */
function policyAnswer(room: string): boolean | Promise<boolean> {
  const allowed = !room.includes("secret");
  if (room.startsWith("async-")) return Promise.resolve(allowed);
  if (room.startsWith("thenable-")) return { then: (resolve: (v: boolean) => void) => resolve(allowed) } as unknown as Promise<boolean>;
  return allowed;
}

const variants: Array<[string, AppOptions]> = [
  ["sync session, sync policy", { session: (req) => ({ id: req.query.get("u") ?? "x", name: "sync" }), rooms: (_u, room) => !room.includes("secret") }],
  ["async session, mixed policy", { session: async (req) => ({ id: req.query.get("u") ?? "x", name: "async" }), rooms: (_u, room) => policyAnswer(room) }],
  ["thenable session, mixed policy", {
    session: (req) => ({ then: (resolve: (u: { id: string; name: string }) => void) => resolve({ id: req.query.get("u") ?? "x", name: "thenable" }) }) as never,
    rooms: (_u, room) => policyAnswer(room),
  }],
];

for (const [name, options] of variants) {
  test(`${name}: ?room= rooms admitted in order, the first refused room closes with 4403, a rejecting session with its code`, async (t) => {
    const { server, url, app } = await startApp({
      ...options,
      session: (req) => (req.query.has("deny") ? reject(401, "who are you") : options.session!(req)),
    });
    t.after(() => server.stop());
    const rooms = ["plain", "async-a", "thenable-b", "last"];
    const c = await ProtoClient.open(url, { query: { u: "alice", room: rooms } });
    assert.deepEqual(c.welcome.data.rooms, rooms);
    assert.equal(c.welcome.data.user.id, "alice");
    for (const room of rooms) assert.equal(app.rooms.size(room), 1);

    for (const secret of ["secret", "async-secret", "thenable-secret"]) {
      const query = new URLSearchParams([["room", "plain"], ["room", "async-a"], ["room", secret], ["room", "after"]]);
      assert.deepEqual(await refusedClose(`${url}?${query}`), { code: 4403, reason: `may not join room ${secret}`, protocol: "switchboard.v1", frames: 0 });
    }
    assert.deepEqual(await refusedClose(`${url}?deny=1`), { code: 4401, reason: "who are you", protocol: "switchboard.v1", frames: 0 });
    // Nothing of the refused upgrades stayed: only the admitted connection is in its rooms.
    assert.equal(app.rooms.size("after"), 0);
    assert.equal(app.connections.size, 1);
    await c.close();
  });
}

test("no ?room=: welcomed at once, the open hook runs after the welcome and its push follows it", async (t) => {
  const { server, url } = await startApp({ open: (conn) => void conn.push("hello", { to: conn.id }) });
  t.after(() => server.stop());
  const ws = new WebSocket(url, ["switchboard.v1"]);
  t.after(() => ws.terminate());
  const frames: Array<{ task: string; data: Record<string, unknown> }> = [];
  await withTimeout(new Promise<void>((resolve, reject) => {
    ws.on("error", reject);
    ws.on("message", (data: Buffer) => {
      frames.push(JSON.parse(data.toString()));
      if (frames.length === 2) resolve();
    });
  }), 5000, "the welcome and the open hook's push did not both arrive");
  assert.deepEqual(frames.map((f) => f.task), ["switchboard.welcome", "hello"]);
  assert.equal(frames[1]!.data.to, frames[0]!.data.connection);
  assert.deepEqual(frames[0]!.data.rooms, []);
});
