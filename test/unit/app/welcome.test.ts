/**
 * The hand-built welcome text is byte for byte what encodePush makes of the Welcome object
 * (the protocol's one definition), for every shape of user, rooms and stream positions.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeWelcome } from "../../../src/app/welcome.ts";
import { encodePush } from "../../../src/protocol/codec.ts";
import { BuiltinPush, PROTOCOL_VERSION, type StreamPosition, type WireUser, type Welcome } from "../../../src/protocol/messages.ts";

function viaCodec(connection: string, user: WireUser, rooms: string[], positions?: Record<string, StreamPosition>): string {
  const welcome: Welcome = { protocol: PROTOCOL_VERSION, connection, user, rooms };
  if (positions !== undefined) welcome.positions = positions;
  return encodePush(BuiltinPush.Welcome, welcome);
}

test("the welcome of an anonymous user in no room", () => {
  const user = { id: "anon-1", name: "anon-1" };
  assert.equal(encodeWelcome("echo-1", user, []), viaCodec("echo-1", user, []));
  assert.deepEqual(JSON.parse(encodeWelcome("echo-1", user, [])), {
    task: "switchboard.welcome", data: { protocol: PROTOCOL_VERSION, connection: "echo-1", user, rooms: [] },
  });
});

test("the welcome with rooms, stream positions (a room named __proto__ too) and a user with extra claims", () => {
  const user = { id: "u\"1", name: "Zoë \u2028", role: "admin", tags: ["a", "b"], nested: { x: 1, y: null } };
  const positions = Object.fromEntries([["__proto__", { offset: 3, epoch: "e1" }], ["lobby", { offset: 0, epoch: "e2" }]]);
  const rooms = ["__proto__", "lobby", "a\"b"];
  assert.equal(encodeWelcome("chat-7@node-a", user, rooms, positions), viaCodec("chat-7@node-a", user, rooms, positions));
  assert.equal(encodeWelcome("chat-7", user, rooms, {}), viaCodec("chat-7", user, rooms, {}));
});

test("encodeWelcome equals encodePush for any id, user, rooms and positions", () => {
  const position = fc.record({ offset: fc.nat(), epoch: fc.string({ minLength: 1 }) });
  fc.assert(fc.property(
    fc.string(), fc.record({ id: fc.string(), name: fc.string() }), fc.dictionary(fc.string(), fc.jsonValue()),
    fc.array(fc.string({ minLength: 1, maxLength: 256 })), fc.option(fc.dictionary(fc.string(), position), { nil: undefined }),
    (connection, base, extra, rooms, positions) => {
      const user: WireUser = { ...extra, ...base };
      assert.equal(encodeWelcome(connection, user, rooms, positions), viaCodec(connection, user, rooms, positions));
    },
  ), { numRuns: 500 });
});
