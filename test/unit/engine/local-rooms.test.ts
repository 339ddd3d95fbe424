/**
 * The handover of a joining member (LocalRooms), without any store: pushes are fed by hand in
 * the orders the two Redis connections can produce.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { LocalRooms, type IncomingPush } from "../../../src/engine/local-rooms.ts";
import type { EngineMember, Push } from "../../../src/engine/engine.ts";

function setup(max = 100): { rooms: LocalRooms; got: Map<string, number[]> } {
  const got = new Map<string, number[]>();
  const rooms = new LocalRooms((push: Push, recipients: readonly EngineMember[]) => {
    for (const m of recipients) got.set(m.id, [...(got.get(m.id) ?? []), push.offset]);
  }, max);
  return { rooms, got };
}
const push = (offset: number, epoch = "e1", except?: string): IncomingPush => ({ room: "r", offset, epoch, payload: `p${offset}`, except });

test("a pending member gets nothing live; resume delivers the buffered pushes above the replay, then live", () => {
  const { rooms, got } = setup();
  const a = { id: "a" };
  assert.equal(rooms.addPending("r", a), true);
  rooms.receive(push(4)); // in the replay too
  rooms.receive(push(5));
  assert.equal(got.get("a"), undefined);
  assert.equal(rooms.resume("r", a, { offset: 4, epoch: "e1" }), true);
  rooms.receive(push(6));
  assert.deepEqual(got.get("a"), [5, 6]);
});

test("a push of the replay that arrives live after resume is skipped (floor), once", () => {
  const { rooms, got } = setup();
  const a = { id: "a" };
  rooms.addPending("r", a);
  assert.equal(rooms.resume("r", a, { offset: 10, epoch: "e1" }), true);
  rooms.receive(push(9));
  rooms.receive(push(10));
  rooms.receive(push(11));
  rooms.receive(push(12));
  assert.deepEqual(got.get("a"), [11, 12]);
});

test("overflowing the handover buffer, or an epoch change meanwhile, makes resume() report a loss", () => {
  const { rooms } = setup(2);
  const a = { id: "a" };
  rooms.addPending("r", a);
  for (let i = 1; i <= 3; i++) rooms.receive(push(i));
  assert.equal(rooms.resume("r", a, { offset: 0, epoch: "e1" }), false);
  const b = { id: "b" };
  rooms.addPending("r", b);
  rooms.receive(push(1, "e2"));
  assert.equal(rooms.resume("r", b, { offset: 3, epoch: "e1" }), false);
});

test("except skips its member; live members are not held back by a pending one", () => {
  const { rooms, got } = setup();
  const a = { id: "a" };
  const b = { id: "b" };
  rooms.addPending("r", a);
  rooms.resume("r", a, { offset: 0, epoch: "e1" });
  rooms.addPending("r", b);
  rooms.receive(push(1, "e1", "a"));
  rooms.receive(push(2));
  assert.deepEqual(got.get("a"), [2]);
  assert.equal(rooms.resume("r", b, { offset: 0, epoch: "e1" }), true);
  assert.deepEqual(got.get("b"), [1, 2]);
  assert.equal(rooms.remove("r", "a"), false);
  assert.equal(rooms.remove("r", "b"), true, "the last member leaving empties the room");
});
