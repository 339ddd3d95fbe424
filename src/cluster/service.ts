/**
 * The cluster as a server service: one bus and its presence store per server, started with the
 * server (a bounded wait for Redis, then serve locally) and closed after the connections are
 * gone (presence first, so this node's entries leave Redis, then the bus).
 *
 * `server.cluster` is this object: Zephserver's `say` / `subscribe` (plus unsubscribe), the
 * node id and status, and `nodes()`. The app layer reaches the bus and the presence store
 * through it; users never get the bus itself (so they cannot close it under the server).
 */
import { readLimit, LIMITS, type LimitName } from "../limits.ts";
import type { Logger } from "../log.ts";
import type { BusHandler, BusPayload, BusStats, BusStatus, ClusterBus, SubscribeOptions } from "./bus.ts";
import type { NodeInfo, PresenceStore } from "./presence.ts";
import { createBus, createPresence, type ClusterConfig, type ClusterDeps } from "./index.ts";
import type { Engine, EngineStats, PushHandler } from "../engine/engine.ts";
import { runHook } from "../hooks.ts";
import { createEngine } from "../engine/create.ts";

/** The limits of the cluster section of limits.ts (scope "cluster"), by name. */
export type ClusterLimitName = { [K in LimitName]: (typeof LIMITS)[K]["scope"] extends "cluster" ? K : never }[LimitName];

export const CLUSTER_LIMITS = (Object.keys(LIMITS) as LimitName[]).filter(
  (name): name is ClusterLimitName => LIMITS[name].scope === "cluster",
);

export interface ClusterStats {
  nodeId: string;
  /** "memory" (the default, one node) or "redis". */
  kind: "memory" | "redis" | "ipc";
  status: BusStatus;
  /** `published` counts every message this node sent to the cluster: bus, room pushes and presence pushes (engine). */
  bus: BusStats;
  /** The room engine's share of `bus.published`. */
  engine: EngineStats;
  /** Live nodes with their connection counts, as of the last presence heartbeat (`nodesAt`). */
  nodes: NodeInfo[];
  nodesAt: number;
}

export class ClusterService {
  /** @internal For the app layer: rooms and broadcasts travel over it. */
  readonly bus: ClusterBus;
  /** @internal For the app layer: cluster-wide room membership and node counts. */
  readonly presence: PresenceStore;
  /** @internal For the app layer: room streams (offsets, history, recovery; docs/engine.md). */
  readonly engine: Engine;
  readonly kind: "memory" | "redis" | "ipc";
  /** Longest channel name the bus takes (busMaxChannelLength). */
  readonly maxChannelLength: number;
  /** The cluster limits in force: the config's values, else the defaults of limits.ts. */
  readonly limits: Readonly<Record<ClusterLimitName, number>>;
  readonly #log: Logger;
  readonly #readyTimeoutMs: number;
  readonly #refreshMs: number;
  #nodes: NodeInfo[];
  #nodesAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #closing: Promise<void> | undefined;
  /** One per app: the engine has one delivery handler, each app takes the rooms it knows. */
  readonly #roomPushHandlers = new Set<PushHandler>();

  /** Validates `config` (OptionError naming the key) and creates the bus; nothing connects before start() for memory. */
  constructor(config: ClusterConfig, deps: ClusterDeps & { logger: Logger; countConnections: () => number }) {
    this.bus = createBus(config, deps);
    this.kind = config.ipc === true ? "ipc" : config.redis === undefined ? "memory" : "redis";
    this.#log = deps.logger.child({ component: "cluster" });
    this.presence = createPresence(this.bus, config, { countConnections: deps.countConnections, logger: deps.logger });
    this.limits = Object.fromEntries(CLUSTER_LIMITS.map((name) => [name, readLimit(name, config[name])])) as Record<ClusterLimitName, number>;
    this.maxChannelLength = this.limits.busMaxChannelLength;
    this.engine = createEngine(config, this.bus.nodeId, deps.logger, deps.port);
    this.engine.onPush((push, recipients) => {
      for (const handler of this.#roomPushHandlers) {
        runHook(handler, [push, recipients], (err) => this.#log.error({ err, room: push.room }, "room push delivery failed"));
      }
    });
    this.#readyTimeoutMs = this.limits.clusterReadyTimeoutMs;
    this.#refreshMs = this.limits.presenceHeartbeatMs;
    this.#nodes = [{ nodeId: this.bus.nodeId, connections: 0, lastSeen: Date.now() }];
  }

  get nodeId(): string {
    return this.bus.nodeId;
  }

  get status(): BusStatus {
    return this.bus.status;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /** Send to every subscriber of `event` on the other nodes (and to local includeSelf ones). */
  say(event: string, payload: BusPayload): void {
    this.bus.publish(event, payload);
  }

  publish(channel: string, payload: BusPayload): void {
    this.bus.publish(channel, payload);
  }

  /** Returns the unsubscribe function. */
  subscribe(event: string, fn: BusHandler, options?: SubscribeOptions): () => void {
    return this.bus.subscribe(event, fn, options);
  }

  /** @internal An app's room push delivery (it ignores rooms it has no members in). */
  onRoomPush(handler: PushHandler): () => void {
    this.#roomPushHandlers.add(handler);
    return () => this.#roomPushHandlers.delete(handler);
  }

  onStatus(fn: (status: BusStatus) => void): () => void {
    return this.bus.onStatus(fn);
  }

  /** Live nodes (this one always), read now. */
  async nodes(): Promise<NodeInfo[]> {
    if (this.closed) return this.#nodes;
    this.#nodes = await this.presence.nodes();
    this.#nodesAt = Date.now();
    return this.#nodes;
  }

  /**
   * Resolves when Redis has confirmed the subscription of `channel` (without one: every
   * subscription change made so far), bounded by clusterReadyTimeoutMs; at once while Redis is
   * away. Sends nothing to Redis (the replies are already due). Never rejects.
   */
  async settle(channel?: string): Promise<void> {
    if (this.closed || this.status !== "up") return;
    try {
      await this.bus.confirmed(channel, { signal: AbortSignal.timeout(this.#readyTimeoutMs) });
    } catch (err) {
      this.#log.debug({ err: (err as Error).message }, "subscription not confirmed in time");
    }
  }

  /** Wait (bounded) for Redis; past the bound the server serves locally and joins later. */
  async start(): Promise<void> {
    try {
      await this.bus.ready({ signal: AbortSignal.timeout(this.#readyTimeoutMs) });
    } catch (err) {
      this.#log.warn({ err: (err as Error).message, waitedMs: this.#readyTimeoutMs }, "cluster not reachable at start: serving local clients, joining when it answers");
    }
    await this.#refresh();
    // stats() is synchronous (it feeds /healthz): the node list is refreshed on the presence beat.
    this.#timer = setInterval(() => void this.#refresh(), this.#refreshMs).unref();
  }

  stats(): ClusterStats {
    return {
      nodeId: this.nodeId, kind: this.kind, status: this.status,
      bus: { ...this.bus.stats, published: this.bus.stats.published + this.engine.stats.published + this.engine.stats.announced },
      engine: { ...this.engine.stats },
      nodes: this.#nodes.map((node) => ({ ...node })), nodesAt: this.#nodesAt,
    };
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #refresh(): Promise<void> {
    try {
      await this.nodes();
    } catch (err) {
      this.#log.debug({ err }, "cluster nodes refresh failed; keeping the last list");
    }
  }

  async #close(): Promise<void> {
    clearInterval(this.#timer);
    try {
      await this.presence.close();
    } catch (err) {
      this.#log.warn({ err }, "presence close failed (its keys expire on their own)");
    }
    try {
      await this.engine.close();
    } catch (err) {
      this.#log.warn({ err }, "room engine close failed (its Redis keys expire on their own)");
    }
    await this.bus.close();
  }
}
