/**
 * Rooms: named sets of this node's connections. `push(room, task, data)` serialises the push
 * ONCE and hands the same text to the local fan-out (which frames it once for every member
 * that the push backpressure gate admits) and to the cluster (one publish; the other nodes
 * fan it out to their members). Presence pushes go through the same path.
 */
import { encodePush } from "../protocol/codec.ts";
import type { PresenceMember } from "../protocol/messages.ts";
import type { AppConn } from "./app-connection.ts";
import { presenceEvent, presenceList } from "./presence.ts";
import type { AppConnection } from "./task.ts";
import type { ClusterRooms } from "./cluster-rooms.ts";

/** Room names: 1–256 characters. */
export function isRoomName(value: unknown): value is string {
  return typeof value === "string" && value.length >= 1 && value.length <= 256;
}

/** What tasks see (`ctx.rooms`). */
export interface RoomsApi {
  /** Push to every member of a room on every node; returns how many it reached on this node. */
  push(room: string, task: string, data: unknown, options?: { except?: AppConnection }): number;
  /** Resolves when the cluster knows (subscription confirmed, presence written); never rejects. */
  join(conn: AppConnection, room: string): Promise<void>;
  leave(conn: AppConnection, room: string): void;
  /** This node's members of the room. */
  members(room: string): PresenceMember[];
  /** The members on every live node (this node's first). */
  clusterMembers(room: string): Promise<PresenceMember[]>;
  /** This node's member count. */
  size(room: string): number;
  /** Rooms with members on this node. */
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
    private readonly cluster: ClusterRooms,
  ) {}

  push(room: string, task: string, data: unknown, options: { except?: AppConnection } = {}): number {
    const text = encodePush(task, data); // once per room, never once per member
    this.cluster.publishRoom(room, text); // other nodes may have members even if this one has none
    const members = this.rooms.get(room);
    if (members === undefined || members.size === 0) return 0;
    const except = options.except;
    return this.fanout(except === undefined ? members : without(members, except.id), text);
  }

  /** A push published by another node: to every member here. */
  deliver(room: string, text: string): void {
    const members = this.rooms.get(room);
    if (members !== undefined) this.fanout(members, text);
  }

  join(conn: AppConnection, room: string): Promise<void> {
    const member = this.lookup(conn);
    if (member === undefined || member.rooms.has(room)) return Promise.resolve();
    let set = this.rooms.get(room);
    if (set === undefined) this.rooms.set(room, (set = new Set()));
    set.add(member);
    member.rooms.add(room);
    // Every join waits for the room's subscription (sent by its first member): a second member
    // joining while it is still unconfirmed must not be answered before it is.
    const known = Promise.all([this.cluster.opened(room), this.cluster.joined(room, member)]);
    if (this.presence) this.announce(room, member, true);
    return known.then(() => undefined);
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
    void this.cluster.left(room, member.id); // never rejects
    if (set.size === 0) {
      this.rooms.delete(room);
      this.cluster.closed(room);
    }
    // Members on other nodes hear it even when this node has none left.
    if (this.presence) this.announce(room, member, false);
  }

  members(room: string): PresenceMember[] {
    return presenceList(this.rooms.get(room) ?? []);
  }

  clusterMembers(room: string): Promise<PresenceMember[]> {
    return this.cluster.members(room, this.members(room));
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
