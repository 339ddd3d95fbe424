/**
 * Presence: who is in a room, as the wire shows it, and the join/leave pushes an app turns on
 * with `presence: true`.
 */
import { BuiltinPush, type PresenceEvent, type PresenceMember } from "../protocol/messages.ts";
import type { AppConnection } from "./task.ts";

export function presenceMember(conn: AppConnection): PresenceMember {
  return { connection: conn.id, user: conn.user };
}

export function presenceList(members: Iterable<AppConnection>): PresenceMember[] {
  return Array.from(members, presenceMember);
}

/** The push to send to a room when `conn` joined (`true`) or left (`false`) it. */
export function presenceEvent(room: string, conn: AppConnection, joined: boolean): { task: string; data: PresenceEvent } {
  return { task: joined ? BuiltinPush.Joined : BuiltinPush.Left, data: { room, member: presenceMember(conn) } };
}
