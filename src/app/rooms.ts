/**
 * Rooms: named sets of connections. `push(room, task, data)` serialises the push ONCE and
 * hands the same text to the fan-out (which frames it once for every member that the push
 * backpressure gate admits). Presence pushes go through the same path.
 */
import { encodePush } from "../protocol/codec.ts";
import type { PresenceMember } from "../protocol/messages.ts";
import type { AppConn } from "./app-connection.ts";
import { presenceEvent, presenceList } from "./presence.ts";
import type { AppConnection } from "./task.ts";

/** Room names: 1–256 characters. */
export function isRoomName(value: unknown): value is string {
  return typeof value === "string" && value.length >= 1 && value.length <= 256;
}

/** What tasks see (`ctx.rooms`). */
export interface RoomsApi {
  /** Push to every member of a room; returns how many it reached. */
  push(room: string, task: string, data: unknown, options?: { except?: AppConnection }): number;
  join(conn: AppConnection, room: string): void;
  leave(conn: AppConnection, room: string): void;
  members(room: string): PresenceMember[];
  size(room: string): number;
  list(): string[];
}

/** Writes one serialised push to many connections; returns how many it reached. */
export type Fanout = (members: Iterable<AppConn>, text: string) => number;

export class Rooms implements RoomsApi {
  private readonly rooms = new Map<string, Set<AppConn>>();

  constructor(
    private readonly fanout: Fanout,
    private readonly lookup: (conn: AppConnection) => AppConn | undefined,
    private readonly presence: boolean,
  ) {}

  push(room: string, task: string, data: unknown, options: { except?: AppConnection } = {}): number {
    const members = this.rooms.get(room);
    if (members === undefined || members.size === 0) return 0;
    const text = encodePush(task, data); // once per room, never once per member
    const except = options.except;
    return this.fanout(except === undefined ? members : without(members, except.id), text);
  }

  join(conn: AppConnection, room: string): void {
    const member = this.lookup(conn);
    if (member === undefined || member.rooms.has(room)) return;
    let set = this.rooms.get(room);
    if (set === undefined) this.rooms.set(room, (set = new Set()));
    set.add(member);
    member.rooms.add(room);
    if (this.presence) this.announce(room, member, true);
  }

  leave(conn: AppConnection, room: string): void {
    const member = this.lookup(conn);
    if (member !== undefined) this.remove(member, room);
  }

  /** A connection is gone: out of every room (with presence pushes to those left behind). */
  leaveAll(conn: AppConn): void {
    for (const room of [...conn.rooms]) this.remove(conn, room);
  }

  private remove(member: AppConn, room: string): void {
    const set = this.rooms.get(room);
    if (set === undefined || !set.delete(member)) return;
    member.rooms.delete(room);
    if (set.size === 0) this.rooms.delete(room);
    else if (this.presence) this.announce(room, member, false);
  }

  members(room: string): PresenceMember[] {
    return presenceList(this.rooms.get(room) ?? []);
  }

  size(room: string): number {
    return this.rooms.get(room)?.size ?? 0;
  }

  list(): string[] {
    return [...this.rooms.keys()];
  }

  private announce(room: string, member: AppConn, joined: boolean): void {
    const event = presenceEvent(room, member, joined);
    this.push(room, event.task, event.data);
  }
}

function* without(members: Iterable<AppConn>, id: string): Iterable<AppConn> {
  for (const member of members) if (member.id !== id) yield member;
}
