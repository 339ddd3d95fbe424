/**
 * Rooms across nodes. A push is serialised once; the node that makes it writes it to its own
 * members directly and publishes the same string once on the room's channel; every OTHER node
 * (subscribed while it has members in the room) writes it to its members, framed once. Own
 * messages are never delivered back (no includeSelf), so a local member gets a push exactly
 * once, and local delivery keeps working while Redis is away.
 *
 * Membership goes to the cluster presence store (Redis with expiry: a crashed node's members
 * disappear within presenceTtlMs). Every cluster call here is caught and logged: the cluster
 * being away never fails a task or a connection.
 */
import { createHash } from "node:crypto";
import type { Logger } from "../log.ts";
import type { ClusterService } from "../cluster/index.ts";
import type { PresenceEntry } from "../cluster/presence.ts";
import type { PresenceMember, WireUser } from "../protocol/messages.ts";
import type { AppConnection } from "./task.ts";

/** What the rooms of one node do with a push that came from another node. */
export interface LocalDelivery {
  room(room: string, text: string): void;
  all(text: string): void;
}

export class ClusterRooms {
  readonly #subscriptions = new Map<string, () => void>();
  readonly #log: Logger;
  #offBroadcast: (() => void) | undefined;
  #foreignLogged = false;

  constructor(
    private readonly path: string,
    private readonly cluster: ClusterService,
    private readonly local: LocalDelivery,
    log: Logger,
  ) {
    this.#log = log.child({ component: "cluster-rooms" });
  }

  /** Listen for app.broadcast from other nodes (for the app's whole life). */
  start(): void {
    this.#offBroadcast = this.cluster.subscribe(`${this.path}:broadcast`, (payload) => {
      if (this.#isFrame(payload)) this.local.all(payload);
    });
  }

  stop(): void {
    this.#offBroadcast?.();
    for (const off of this.#subscriptions.values()) off();
    this.#subscriptions.clear();
  }

  /**
   * A member joined the room on this node: hear the other nodes' pushes to it. The room's first
   * member subscribes its channel (one SUBSCRIBE of that one channel); every join resolves once
   * Redis has confirmed that subscription, so the join reply is a fence for pushes from any
   * node. Nothing else is re-sent.
   */
  opened(room: string): Promise<void> {
    if (this.cluster.closed) return Promise.resolve();
    const channel = this.key(room);
    if (!this.#subscriptions.has(room)) {
      this.#subscriptions.set(room, this.cluster.subscribe(channel, (payload) => {
        if (this.#isFrame(payload)) this.local.room(room, payload);
      }));
    }
    return this.cluster.settle(channel);
  }

  /** The room's last member on this node left: one UNSUBSCRIBE of its channel. */
  closed(room: string): void {
    this.#subscriptions.get(room)?.();
    this.#subscriptions.delete(room);
  }

  publishRoom(room: string, text: string): void {
    this.#publish(this.key(room), text);
  }

  publishAll(text: string): void {
    this.#publish(`${this.path}:broadcast`, text);
  }

  joined(room: string, conn: AppConnection): Promise<void> {
    return this.#presence("join", () => this.cluster.presence.join(this.key(room), { connId: conn.id, user: conn.user.id, profile: conn.user }));
  }

  left(room: string, connId: string): Promise<void> {
    return this.#presence("leave", () => this.cluster.presence.leave(this.key(room), connId));
  }

  /**
   * Every member on every live node: this node's first (in join order), then the others'.
   * Waits for this node's subscriptions still unconfirmed (Redis's replies already due; it
   * sends no SUBSCRIBE), so its reply is also a fence: rooms joined at connect (`?room=`) hear
   * every node's pushes from then on.
   */
  async members(room: string, local: PresenceMember[]): Promise<PresenceMember[]> {
    if (this.cluster.closed) return local;
    await this.cluster.settle();
    let entries: PresenceEntry[];
    try {
      entries = await this.cluster.presence.members(this.key(room));
    } catch (err) {
      this.#log.warn({ err, room }, "cluster members unavailable: answering with this node's");
      return local;
    }
    const remote = entries.filter((entry) => entry.node !== this.cluster.nodeId).map(toWire);
    return [...local, ...remote];
  }

  /**
   * The channel (and presence room) of a room of this app. Room names go up to 256
   * characters and channels have a length limit: a name too long for it is hashed.
   */
  key(room: string): string {
    const plain = `${this.path}:room:${room}`;
    if (plain.length <= this.cluster.maxChannelLength) return plain;
    return `room#${createHash("sha256").update(this.path).update("\0").update(room).digest("hex")}`;
  }

  #publish(channel: string, text: string): void {
    if (this.cluster.closed) return; // a push after stop: local members only
    try {
      this.cluster.publish(channel, text);
    } catch (err) {
      // Over busMaxPayloadBytes: the local members got it; the other nodes cannot.
      this.#log.warn({ err, channel }, "push not sent to the other nodes");
    }
  }

  async #presence(op: string, call: () => Promise<void>): Promise<void> {
    if (this.cluster.closed) return;
    try {
      await call();
    } catch (err) {
      this.#log.warn({ err, op }, "cluster presence update failed");
    }
  }

  #isFrame(payload: unknown): payload is string {
    if (typeof payload === "string") return true;
    if (!this.#foreignLogged) {
      this.#foreignLogged = true;
      this.#log.warn({ type: typeof payload }, "ignoring a non-string message on an app channel (logged once)");
    }
    return false;
  }
}

function toWire(entry: PresenceEntry): PresenceMember {
  const profile = entry.profile as WireUser | undefined;
  const user = typeof profile === "object" && profile !== null ? profile : { id: String(entry.user), name: String(entry.user) };
  return { connection: entry.connId, user };
}
