/**
 * Rooms: named sets of this node's connections. `push(room, task, data)` serialises the push
 * ONCE and publishes that text to the room engine (src/engine/), which gives it its offset in
 * the room's stream and delivers it, on every node with members, through one handler
 * (`deliverPush`): there it is framed at most twice (today's shape, and the stream shape with
 * room/offset/epoch for `?streams=1` connections), never once per member.
 *
 * Presence pushes (room.joined / room.left) are NOT part of a room's stream (no offset, no
 * history: a replay must not repeat "joined" lines): they are engine announcements. The
 * members list is the engine's too (members(): every live node's), so membership is written
 * once, by engine.join / engine.leave.
 */
import { createHash } from "node:crypto";
import type { Logger } from "../log.ts";
import { encodePush, withStreamPosition } from "../protocol/codec.ts";
import type { PresenceMember, ReplayedPush, StreamPosition, WireUser } from "../protocol/messages.ts";
import type { Engine, EngineMember, JoinOptions, PublishResult, Push, RoomMember } from "../engine/engine.ts";
import type { AppConn } from "./app-connection.ts";
import { presenceEvent, presenceList } from "./presence.ts";
import type { AppConnection } from "./task.ts";
import type { ClusterRooms } from "./cluster-rooms.ts";

/** Room names: 1–256 characters. */
export function isRoomName(value: unknown): value is string {
  return typeof value === "string" && value.length >= 1 && value.length <= 256;
}

export interface RoomPushOptions {
  /** This connection does not get the push (it is still in the room's history). */
  except?: AppConnection;
  /**
   * A client message id: a repeat within idempotencyWindowMs is not published again (a client
   * that resends after a lost reply does not duplicate). Scope it to the sender, e.g.
   * `${user.id}:${data.id}`, so one client cannot cancel another's push.
   */
  idempotencyKey?: string;
}

/** What a join learned: the room's position when it took effect, and what it replayed. */
export interface RoomJoin extends StreamPosition {
  /** The pushes asked for (`since` / `history`), oldest first. */
  pushes: ReplayedPush[];
  /** False when `since` was given and the history no longer covers it (the client refetches). */
  recovered: boolean;
}

/** What tasks see (`ctx.rooms`). */
export interface RoomsApi {
  /**
   * Push to every member of a room on every node (published to the room's stream; delivered
   * asynchronously); returns how many members this node has for it (minus `except`).
   */
  push(room: string, task: string, data: unknown, options?: RoomPushOptions): number;
  /** The same, resolving with the push's position (`duplicate`: an idempotency repeat). Never rejects for the cluster being away: rejects with its error. */
  publish(room: string, task: string, data: unknown, options?: RoomPushOptions): Promise<PublishResult>;
  /**
   * Resolves when the cluster knows (subscription confirmed, presence written); never rejects.
   * With `history: N` (or `since`) it also returns those pushes. The member gets live pushes
   * from then on.
   */
  join(conn: AppConnection, room: string, options?: JoinOptions): Promise<RoomJoin>;
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

/** A join that replayed pushes: the member gets live ones after `resume()` (after its reply). */
export interface PendingRoomJoin extends RoomJoin {
  resume(): void;
}

export class Rooms implements RoomsApi {
  private readonly rooms = new Map<string, Set<AppConn>>();
  /** Engine room name → this app's room name, for the rooms with members on this node. */
  private readonly names = new Map<string, string>();
  /** Per room: the joins still settling (room.members waits for them: it is a fence too). */
  private readonly settling = new Map<string, Promise<unknown>>();

  constructor(
    private readonly fanout: Fanout,
    private readonly lookup: (id: string) => AppConn | undefined,
    private readonly presence: boolean,
    private readonly cluster: ClusterRooms,
  ) {
    this.engine = cluster.engine;
    this.log = cluster.log;
  }

  private readonly engine: Engine;
  private readonly log: Logger;

  push(room: string, task: string, data: unknown, options: RoomPushOptions = {}): number {
    void this.publish(room, task, data, options).catch((err: unknown) => {
      // The task does not wait for the publish: its failure (Redis away, too big) is logged.
      this.log.warn({ err, room: room.slice(0, 64) }, "room push not published");
    });
    const members = this.rooms.get(room);
    if (members === undefined || members.size === 0) return 0;
    return options.except !== undefined && members.has(options.except as AppConn) ? members.size - 1 : members.size;
  }

  async publish(room: string, task: string, data: unknown, options: RoomPushOptions = {}): Promise<PublishResult> {
    const text = encodePush(task, data); // once per room, never once per member
    try {
      return await this.engine.publish(this.engineRoom(room), text, { except: options.except?.id, idempotencyKey: options.idempotencyKey });
    } catch (err) {
      // The store is away (or the push is over busMaxPayloadBytes): this node's members still
      // get it, without a position (as before streams); the other nodes cannot.
      this.local(room, text, options.except?.id);
      throw err;
    }
  }

  /** Straight to this node's members, today's shape (no stream position). */
  private local(room: string, text: string, except: string | undefined): void {
    const members = this.rooms.get(room);
    if (members === undefined || members.size === 0) return;
    this.fanout(except === undefined ? members : [...members].filter((m) => m.id !== except), text);
  }

  /** The engine's delivery: one push, this node's recipients; framed once per shape. */
  deliverPush(push: Push, recipients: readonly EngineMember[]): void {
    const room = this.names.get(push.room);
    if (room === undefined) return;
    if (push.offset === 0) {
      // An announcement (presence): not part of the stream, today's shape for everyone.
      this.fanout(members(recipients, this.lookup), push.payload);
      return;
    }
    const plain: AppConn[] = [];
    const streams: AppConn[] = [];
    for (const recipient of recipients) {
      const conn = this.lookup(recipient.id);
      if (conn !== undefined) (conn.streams ? streams : plain).push(conn);
    }
    if (plain.length > 0) this.fanout(plain, push.payload);
    if (streams.length > 0) this.fanout(streams, withStreamPosition(push.payload, room, push.offset, push.epoch));
  }

  join(conn: AppConnection, room: string, options: JoinOptions = {}): Promise<RoomJoin> {
    const joined = this.joinPending(conn, room, options).then((join) => {
      join.resume();
      return join;
    });
    const all = Promise.all([this.settling.get(room), joined]);
    this.settling.set(room, all);
    void all.then(() => {
      if (this.settling.get(room) === all) this.settling.delete(room);
    });
    return joined;
  }

  /**
   * The live/replay switch: the returned pushes (since / history) go in the join's reply,
   * THEN `resume()` sends the live pushes that came meanwhile (offset above the reply's), so
   * the member sees no gap and no duplicate. Never rejects.
   */
  async joinPending(conn: AppConnection, room: string, options: JoinOptions = {}): Promise<PendingRoomJoin> {
    const member = this.lookup(conn.id);
    const replay = options.since !== undefined || (options.history ?? 0) > 0;
    if (member === undefined) return { offset: 0, epoch: "", pushes: [], recovered: false, resume: () => {} };
    const key = this.engineRoom(room);
    if (member.rooms.has(room) && !replay) return this.position(key);
    const fresh = !member.rooms.has(room);
    if (fresh) {
      let set = this.rooms.get(room);
      if (set === undefined) this.rooms.set(room, (set = new Set()));
      set.add(member);
      member.addRoom(room);
      this.names.set(key, room);
    }
    // Every join waits for the room's subscription (the engine's, sent by its first member): a
    // second member joining while it is still unconfirmed must not be answered before it is.
    // The member's data is its wire user: what members() shows on every node.
    let joined;
    try {
      joined = await this.engine.join(key, { id: member.id, data: member.user }, options);
    } catch (err) {
      this.log.warn({ err, room: room.slice(0, 64) }, "room engine join failed: the member gets no stream position");
      if (fresh && this.presence && member.rooms.has(room)) this.announce(room, member, true);
      return { offset: 0, epoch: "", pushes: [], recovered: false, resume: () => {} };
    }
    // Announced once the room's subscription is in force, so this node hears it too.
    if (fresh && this.presence && member.rooms.has(room)) this.announce(room, member, true);
    const pushes = joined.pushes.map(replayed);
    return {
      offset: joined.offset, epoch: joined.epoch, pushes, recovered: joined.recovered,
      resume: () => {
        // False: live pushes were lost in the handover; the reply said recovered already, so
        // the member's next push shows a gap, which the client treats as unrecovered.
        if (!joined.resume()) this.log.debug({ room: room.slice(0, 64), conn: member.id }, "room handover lost pushes");
      },
    };
  }

  /** An already-joined member asked without since/history: the room's latest position. */
  private async position(key: string): Promise<PendingRoomJoin> {
    try {
      const latest = await this.engine.history(key, { limit: 0 });
      return { offset: latest.offset, epoch: latest.epoch, pushes: [], recovered: true, resume: () => {} };
    } catch (err) {
      this.log.warn({ err }, "room position unavailable");
      return { offset: 0, epoch: "", pushes: [], recovered: false, resume: () => {} };
    }
  }

  /** The engine's name of a room of this app (hashed when too long for a channel). */
  engineRoom(room: string): string {
    const path = this.cluster.path;
    const plain = `${path}:room:${room}`;
    if (plain.length <= this.cluster.maxRoomLength) return plain;
    return `room#${createHash("sha256").update(path).update("\0").update(room).digest("hex")}`;
  }

  leave(conn: AppConnection, room: string): void {
    const member = this.lookup(conn.id);
    if (member !== undefined) this.remove(member, room);
  }

  /** A connection is gone: out of every room (with presence pushes to those left behind). */
  leaveAll(conn: AppConn): void {
    for (const room of [...conn.rooms]) this.remove(conn, room);
  }

  private remove(member: AppConn, room: string): void {
    const set = this.rooms.get(room);
    if (set === undefined || !set.delete(member)) return;
    member.deleteRoom(room);
    const key = this.engineRoom(room);
    this.engine.leave(key, member.id).catch((err: unknown) => this.log.warn({ err, room: room.slice(0, 64) }, "room engine leave failed"));
    // Members on other nodes hear it even when this node has none left.
    if (this.presence) this.announce(room, member, false);
    if (set.size === 0) {
      this.rooms.delete(room);
      this.names.delete(key);
    }
  }

  members(room: string): PresenceMember[] {
    return presenceList(this.rooms.get(room) ?? []);
  }

  /**
   * Every member on every live node: this node's first (in join order), then the others'.
   * Joins at connect (`?room=`) are not waited for by anyone else: this reply fences them.
   */
  async clusterMembers(room: string): Promise<PresenceMember[]> {
    await this.settling.get(room);
    const local = this.members(room);
    await this.cluster.settle();
    let all: RoomMember[];
    try {
      all = await this.engine.members(this.engineRoom(room));
    } catch (err) {
      this.log.warn({ err, room: room.slice(0, 64) }, "cluster members unavailable: answering with this node's");
      return local;
    }
    const remote = all.filter((entry) => entry.node !== this.engine.nodeId).map(toPresenceMember);
    return [...local, ...remote];
  }

  size(room: string): number {
    return this.rooms.get(room)?.size ?? 0;
  }

  list(): string[] {
    return [...this.rooms.keys()];
  }

  private announce(room: string, member: AppConn, joined: boolean): void {
    const event = presenceEvent(room, member, joined);
    // Not a stream push (see the top of this file): an engine announcement, no offset.
    const text = encodePush(event.task, event.data);
    const key = this.engineRoom(room);
    let sent: Promise<void>;
    try {
      sent = this.engine.announce(key, text);
    } catch (err) {
      sent = Promise.reject(err);
    }
    sent.catch((err: unknown) => {
      this.log.warn({ err, room: room.slice(0, 64) }, "presence push not sent to the other nodes");
      this.local(room, text, undefined);
    });
  }
}

function members(recipients: readonly EngineMember[], lookup: (id: string) => AppConn | undefined): AppConn[] {
  const out: AppConn[] = [];
  for (const recipient of recipients) {
    const conn = lookup(recipient.id);
    if (conn !== undefined) out.push(conn);
  }
  return out;
}

function toPresenceMember(entry: RoomMember): PresenceMember {
  const data = entry.data as WireUser | undefined;
  // A member written by an older node (data { user: id }) or with no data still shows its id.
  const user = typeof data === "object" && data !== null && typeof data.id === "string" ? data : { id: entry.id, name: entry.id };
  return { connection: entry.id, user };
}

function replayed(push: Push): ReplayedPush {
  // Replies are not the hot path: the stored text is parsed back into the reply's objects.
  const { task, data } = JSON.parse(push.payload) as { task: string; data: unknown };
  return { task, data, offset: push.offset };
}
