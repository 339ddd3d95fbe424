/**
 * The cluster layer's interface: the rest of Switchboard reaches the cluster only through these
 * exports. `createBus(config)` picks the implementation from config (`ipc` → the primary over
 * IPC, `redis` set → Redis, else in-memory); `createPresence(bus)` gives the presence store that
 * matches the bus.
 */
import { OptionError } from "../errors.ts";
import { readLimit } from "../limits.ts";
import type { Logger } from "../log.ts";
import type { ClusterBus } from "./bus.ts";
import { MemoryBus, MemoryBusHub } from "./memory-bus.ts";
import { RedisBus } from "./redis-bus.ts";
import { IpcBus, IpcBusHub } from "./ipc-bus.ts";
import type { IpcPort } from "./ipc-port.ts";
import { MemoryPresence } from "./memory-presence.ts";
import { RedisPresence } from "./redis-presence.ts";
import type { PresenceOptions, PresenceStore } from "./presence.ts";

export type * from "./bus.ts";
export { DEFAULT_PREFIX } from "./bus.ts";
export type * from "./presence.ts";
export { MemoryBus, MemoryBusHub, RedisBus, IpcBus, IpcBusHub, MemoryPresence, RedisPresence };

/** The `cluster` option of a server. Every field is optional: `{}` is a one-node cluster. */
export interface ClusterConfig {
  /** redis://host:port — set it to make a cluster over Redis; omit it for the in-memory bus. */
  redis?: string;
  /** Prefix of every Redis channel and key (default DEFAULT_PREFIX, "switchboard:"). */
  prefix?: string;
  /** This node's id (default: host-pid-random). Must be unique in the cluster. */
  nodeId?: string;
  presenceHeartbeatMs?: number;
  presenceTtlMs?: number;
  redisReconnectMaxMs?: number;
  busMaxPayloadBytes?: number;
  busMaxChannelLength?: number;
  /** How long server.start() waits for Redis before serving locally (limits.ts). */
  clusterReadyTimeoutMs?: number;
  /** Room streams (docs/engine.md): pushes kept per room, and for how long. */
  historyMaxCount?: number;
  historyMaxAgeMs?: number;
  /** A repeated idempotency key within this window is not published twice. */
  idempotencyWindowMs?: number;
  idempotencyMaxKeys?: number;
  handoverMaxPushes?: number;
  engineMetaTtlMs?: number;
  memoryRoomIdleMs?: number;
  /** IPC engine (workers of one machine): a request the primary has not answered in this time fails. */
  ipcRequestTimeoutMs?: number;
  /**
   * This process is a worker of a primary on the same machine that runs the IPC hubs
   * (`serve --workers`, issue 18): the bus and the room engine go through the primary over
   * the process's IPC channel instead of memory or Redis. Not with `redis`.
   */
  ipc?: boolean;
  /** Redis 7 sharded pub/sub (SSUBSCRIBE / SPUBLISH) for the room streams (Redis Cluster). */
  sharded?: boolean;
}

export interface ClusterDeps {
  logger?: Logger;
  /** For in-process clusters (tests): in-memory buses sharing a hub see each other. */
  hub?: MemoryBusHub;
  /** With `ipc: true`: the channel to the primary (default: this process's IPC channel). */
  port?: IpcPort;
}

const KNOWN = new Set([
  "redis", "prefix", "nodeId", "presenceHeartbeatMs", "presenceTtlMs", "redisReconnectMaxMs",
  "busMaxPayloadBytes", "busMaxChannelLength", "clusterReadyTimeoutMs",
  "historyMaxCount", "historyMaxAgeMs", "idempotencyWindowMs", "idempotencyMaxKeys", "handoverMaxPushes",
  "engineMetaTtlMs", "memoryRoomIdleMs", "ipcRequestTimeoutMs", "sharded", "ipc",
]);

export { ClusterService, CLUSTER_LIMITS, type ClusterStats, type ClusterLimitName } from "./service.ts";

export function createBus(config: ClusterConfig = {}, deps: ClusterDeps = {}): ClusterBus {
  checkConfig(config);
  const common = {
    nodeId: config.nodeId, logger: deps.logger,
    maxPayloadBytes: config.busMaxPayloadBytes, maxChannelLength: config.busMaxChannelLength,
  };
  if (config.ipc === true) return new IpcBus({ ...common, port: deps.port });
  if (config.redis === undefined) return new MemoryBus({ ...common, hub: deps.hub });
  return new RedisBus({ ...common, url: config.redis, prefix: config.prefix, reconnectMaxMs: config.redisReconnectMaxMs });
}

/** The presence store for a bus made by createBus (same node id, same Redis connection). */
export function createPresence(
  bus: ClusterBus, config: ClusterConfig = {}, options: PresenceOptions & { logger?: Logger } = {},
): PresenceStore {
  const timing = {
    ...options,
    heartbeatMs: options.heartbeatMs ?? config.presenceHeartbeatMs,
    ttlMs: options.ttlMs ?? config.presenceTtlMs,
    maxRoomLength: options.maxRoomLength ?? config.busMaxChannelLength,
  };
  if (bus instanceof RedisBus) {
    return new RedisPresence({
      ...timing, nodeId: bus.nodeId, client: bus.client, prefix: bus.prefix,
      logger: options.logger ?? bus.logger,
    });
  }
  if (bus instanceof MemoryBus) return new MemoryPresence(bus.nodeId, bus.hub.presence, timing);
  // Workers: this worker's own presence store (the room members are the IPC engine's, shared
  // through the primary; nodes() lists this worker only — the primary aggregates the workers).
  if (bus instanceof IpcBus) return new MemoryPresence(bus.nodeId, undefined, timing);
  throw new OptionError("bus", "createPresence needs a bus made by createBus (MemoryBus or RedisBus)");
}

function checkConfig(config: ClusterConfig): void {
  if (typeof config !== "object" || config === null) throw new OptionError("cluster", "must be an object");
  for (const key of Object.keys(config)) {
    if (!KNOWN.has(key)) throw new OptionError(`cluster.${key}`, `unknown option (known: ${[...KNOWN].join(", ")})`);
  }
  for (const key of [
    "presenceHeartbeatMs", "presenceTtlMs", "redisReconnectMaxMs", "busMaxPayloadBytes", "busMaxChannelLength", "clusterReadyTimeoutMs",
    "historyMaxCount", "historyMaxAgeMs", "idempotencyWindowMs", "idempotencyMaxKeys", "handoverMaxPushes", "engineMetaTtlMs", "memoryRoomIdleMs", "ipcRequestTimeoutMs",
  ] as const) {
    readLimit(key, config[key]);
  }
  if (config.sharded !== undefined && typeof config.sharded !== "boolean") throw new OptionError("cluster.sharded", "must be a boolean");
  if (config.ipc !== undefined && typeof config.ipc !== "boolean") throw new OptionError("cluster.ipc", "must be a boolean");
  if (config.ipc === true && config.redis !== undefined) throw new OptionError("cluster.ipc", "and cluster.redis exclude each other: workers share Redis directly, or the primary over IPC");
  if (config.redis !== undefined && typeof config.redis !== "string") throw new OptionError("cluster.redis", "must be a redis:// URL string");
  if (config.prefix !== undefined && typeof config.prefix !== "string") throw new OptionError("cluster.prefix", "must be a string");
}
