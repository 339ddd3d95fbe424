/**
 * The `switchboard.welcome` push, every connection's first frame. Written by hand rather than
 * with one JSON.stringify of the whole push: its frame is constant but for the connection id,
 * the user and the rooms, and building it this way costs about half as much per handshake.
 * The text is exactly `encodePush(BuiltinPush.Welcome, welcome)` (a unit test holds it to that).
 */
import { BuiltinPush, PROTOCOL_VERSION, type StreamPosition, type WireUser } from "../protocol/messages.ts";

const HEAD = `{"task":${JSON.stringify(BuiltinPush.Welcome)},"data":{"protocol":${JSON.stringify(PROTOCOL_VERSION)},"connection":`;

/** The welcome's JSON text; `positions` only for `?streams=1` connections. */
export function encodeWelcome(connection: string, user: WireUser, rooms: readonly string[], positions?: Record<string, StreamPosition>): string {
  const roomsJson = rooms.length === 0 ? "[]" : JSON.stringify(rooms);
  const tail = positions === undefined ? "}}" : `,"positions":${JSON.stringify(positions)}}}`;
  return `${HEAD}${JSON.stringify(connection)},"user":${JSON.stringify(user)},"rooms":${roomsJson}${tail}`;
}
