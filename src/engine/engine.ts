/**
 * The room engine: the room-shaped seam between a Switchboard node and the others (issue 15),
 * in the shape of centrifuge's Broker + PresenceManager and socket.io's Adapter. It replaces the
 * generic channel bus + app/cluster-rooms.ts once the app is wired to it (not yet: see
 * docs/engine.md, "What is left to wire").
 *
 * Guarantees shared by every implementation (test/conformance/engine.test.ts checks them):
 * - Every publish to a room gets an offset, strictly increasing per room across all nodes, and
 *   the room's epoch. The epoch changes when the room's history is lost (memory store made anew,
 *   Redis data lost), so a position { offset, epoch } names one push forever.
 * - A node subscribes to a room's channel once, when the room gets its first local member, and
 *   unsubscribes when it loses its last. Only nodes with members of a room receive its pushes.
 * - A push reaches each local member once, through the onPush handler, in offset order; the
 *   publisher's own node gets it too (same path: one ordering for everyone).
 * - History per room is bounded by count and age; history() says whether it still covers a
 *   position (`recovered`).
 * - join(room, member, { since }) is the live/replay switch: the returned pushes then, after
 *   resume(), the live ones, with no gap and no duplicate (see JoinResult).
 */

/** Where a push sits in its room's stream. */
export interface StreamPosition {
  readonly offset: number;
  readonly epoch: string;
}

/** One push as the engine stores and delivers it. The payload is opaque text (a serialised frame). */
export interface Push extends StreamPosition {
  readonly room: string;
  readonly payload: string;
}

/** A member of a room: an id unique on its node (a connection id) and optional JSON data. */
export interface EngineMember {
  readonly id: string;
  readonly data?: unknown;
}

/** A member as members() reports it: with the node that holds it. */
export interface RoomMember extends EngineMember {
  readonly node: string;
}

export interface PublishOptions {
  /** A member (on any node) that must not receive this push. It is still in the history. */
  except?: string;
  /**
   * A client message id: a repeat within the idempotency window returns the first publish's
   * position and publishes nothing.
   */
  idempotencyKey?: string;
}

export interface PublishResult extends StreamPosition {
  /** True when this call was a repeat of an idempotency key: nothing was published. */
  readonly duplicate: boolean;
}

export interface HistoryOptions {
  /** Pushes after this position; without it, the latest `limit` pushes. */
  since?: StreamPosition;
  /** At most this many pushes (the oldest first after `since`; the newest without it). */
  limit: number;
}

export interface HistoryResult {
  readonly pushes: Push[];
  readonly epoch: string;
  /** The room's latest offset (0: nothing published in this epoch). */
  readonly offset: number;
  /**
   * With `since`: true when the epoch is the same and the history still holds every push after
   * `since.offset` (or nothing was published since). Without `since`: true.
   */
  readonly recovered: boolean;
}

export interface JoinOptions {
  /** Recover from this position (the last push the client saw). */
  since?: StreamPosition;
  /** Without `since` (or when recovery fails): also return the latest N pushes (a late joiner). */
  history?: number;
}

export interface JoinResult {
  /**
   * The pushes this member missed (with `since`) or the latest `history` ones, oldest first.
   * Hand them to the member, then call resume().
   */
  readonly pushes: Push[];
  readonly epoch: string;
  /** The offset of the last push in `pushes`, or the room's latest offset when none. */
  readonly offset: number;
  /** False when `since` was given and the history no longer covers it (the app refetches). */
  readonly recovered: boolean;
  /**
   * Ends the handover: live pushes that arrived during the join with an offset above `offset`
   * are delivered to this member now (through onPush, in order), and from then on it gets live
   * pushes like every member. Returns false if the handover lost pushes (its buffer overflowed,
   * or the epoch changed meanwhile): the app treats that as `recovered: false`. Until resume(),
   * the member gets no live pushes. Calling it twice does nothing.
   */
  resume(): boolean;
}

/** One delivery: a push and the local members that must get it (never an empty list). */
export type PushHandler = (push: Push, recipients: readonly EngineMember[]) => void;

/** What this node sent to its rooms' streams (stats; docs/cluster.md). */
export interface EngineStats {
  /** publish() calls accepted (room pushes). */
  published: number;
  /** announce() calls accepted (presence pushes). */
  announced: number;
}

export interface Engine {
  readonly nodeId: string;
  readonly stats: Readonly<EngineStats>;
  /**
   * Add a member on this node. The first local member of a room subscribes this node to it;
   * the promise resolves once that subscription is in force (so no push published after it is
   * missed), with the recovery / history the options asked for.
   */
  join(room: string, member: EngineMember, options?: JoinOptions): Promise<JoinResult>;
  /** Remove a member of this node; the last one leaving unsubscribes the node from the room. */
  leave(room: string, memberId: string): Promise<void>;
  publish(room: string, payload: string, options?: PublishOptions): Promise<PublishResult>;
  /**
   * A message to the room's members on every node that is NOT part of its stream: no offset,
   * not in history, not replayed (presence's room.joined / room.left). Delivered through onPush
   * with offset 0 and epoch "", to every local member, joining ones included, minus `except`.
   */
  announce(room: string, payload: string, options?: { except?: string }): Promise<void>;
  history(room: string, options: HistoryOptions): Promise<HistoryResult>;
  /** Every member of the room on every live node. */
  members(room: string): Promise<RoomMember[]>;
  /** This node's members of the room (no I/O). */
  localMembers(room: string): readonly EngineMember[];
  /** Rooms with members on this node. */
  localRooms(): string[];
  /** Set the one delivery handler (called through runHook: a throwing handler is logged). */
  onPush(handler: PushHandler): void;
  /** Leave every room, stop delivery; later calls throw StateError. Idempotent. */
  close(): Promise<void>;
}
