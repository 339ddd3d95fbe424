/**
 * What an app still needs from the cluster besides the room engine. Room pushes, presence
 * pushes and the members list go through the engine (rooms.ts, src/engine/: one channel per
 * room, subscribed while the node has members; membership in Redis with expiry, so a crashed
 * node's members disappear within presenceTtlMs); this class keeps the bus for app.broadcast
 * (one channel per app; other nodes' broadcasts are framed once here) and hands this app its
 * share of the engine's deliveries. A bus publish that fails is logged: the cluster being away
 * never fails a task or a connection.
 */
import type { Logger } from "../log.ts";
import type { ClusterService } from "../cluster/index.ts";
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

  /**
   * Waits for this node's bus subscriptions still unconfirmed (Redis's replies already due; it
   * sends no SUBSCRIBE): room.members' reply is a fence for app.broadcast too.
   */
  async settle(): Promise<void> {
    if (!this.cluster.closed) await this.cluster.settle();
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

  #isFrame(payload: unknown): payload is string {
    if (typeof payload === "string") return true;
    if (!this.#foreignLogged) {
      this.#foreignLogged = true;
      this.#log.warn({ type: typeof payload }, "ignoring a non-string message on an app channel (logged once)");
    }
    return false;
  }
}
