/**
 * What an app still needs from the cluster besides the room engine. Room pushes and presence
 * pushes travel through the engine (rooms.ts, src/engine/: one channel per room, subscribed
 * while the node has members); this class keeps the bus for app.broadcast (one channel per
 * app; other nodes' broadcasts are framed once here) and the presence store for the members
 * list, and hands this app its share of the engine's deliveries.
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
import type { Engine, PushHandler } from "../engine/engine.ts";

/** What the app does with a broadcast that came from another node. */
export interface LocalDelivery {
  /** Unused since room pushes travel through the engine (kept so older callers compile). */
  room?(room: string, text: string): void;
  all(text: string): void;
}

export class ClusterRooms {
  readonly #log: Logger;
  #offBroadcast: (() => void) | undefined;
  #offRoomPush: (() => void) | undefined;
  #foreignLogged = false;

  constructor(
    readonly path: string,
    private readonly cluster: ClusterService,
    private readonly local: LocalDelivery,
    log: Logger,
  ) {
    this.#log = log.child({ component: "cluster-rooms" });
    this.log = log.child({ component: "rooms" });
  }

  /** For rooms.ts: the logger of this app's rooms. */
  readonly log: Logger;

  /** The server's room engine (rooms.ts publishes and joins through it). */
  get engine(): Engine {
    return this.cluster.engine;
  }

  /** Listen for app.broadcast from other nodes (for the app's whole life). */
  start(): void {
    this.#offBroadcast = this.cluster.subscribe(`${this.path}:broadcast`, (payload) => {
      if (this.#isFrame(payload)) this.local.all(payload);
    });
  }

  /** This app's share of the room engine's deliveries (until stop()). */
  onRoomPush(handler: PushHandler): void {
    this.#offRoomPush?.();
    this.#offRoomPush = this.cluster.onRoomPush(handler);
  }

  stop(): void {
    this.#offRoomPush?.();
    this.#offRoomPush = undefined;
    this.#offBroadcast?.();
  }

  /** Longest engine room name (busMaxChannelLength). */
  get maxRoomLength(): number {
    return this.cluster.maxChannelLength;
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
