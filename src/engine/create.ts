/**
 * The room engine a server uses, chosen from its `cluster` option: the memory engine (one
 * process, the default), with `cluster.redis` the Redis engine (history in Redis, so it
 * survives a node's death), with `cluster.ipc` the IPC engine (a worker; the primary holds it). Same node id as the server's bus, so both name this node alike.
 */
import type { Logger } from "../log.ts";
import type { ClusterConfig } from "../cluster/index.ts";
import type { Engine } from "./engine.ts";
import type { EngineOptions } from "./options.ts";
import { MemoryEngine } from "./memory-engine.ts";
import { RedisEngine } from "./redis-engine.ts";
import { IpcEngine } from "./ipc-engine.ts";
import type { IpcPort } from "../cluster/ipc-port.ts";

export function createEngine(config: ClusterConfig, nodeId: string, logger: Logger, port?: IpcPort): Engine {
  const options: EngineOptions = {
    nodeId,
    history: { maxCount: config.historyMaxCount, maxAgeMs: config.historyMaxAgeMs },
    idempotencyWindowMs: config.idempotencyWindowMs,
    idempotencyMaxKeys: config.idempotencyMaxKeys,
    handoverMaxPushes: config.handoverMaxPushes,
    maxPayloadBytes: config.busMaxPayloadBytes,
    maxRoomLength: config.busMaxChannelLength,
  };
  if (config.ipc === true) return new IpcEngine({ ...options, logger, port, requestTimeoutMs: config.ipcRequestTimeoutMs });
  if (config.redis === undefined) return new MemoryEngine({ ...options, logger, roomIdleMs: config.memoryRoomIdleMs });
  return new RedisEngine({
    ...options, url: config.redis, prefix: config.prefix, logger, sharded: config.sharded,
    metaTtlMs: config.engineMetaTtlMs, presenceHeartbeatMs: config.presenceHeartbeatMs,
    presenceTtlMs: config.presenceTtlMs, reconnectMaxMs: config.redisReconnectMaxMs,
  });
}
