/**
 * Presence in Redis, with expiry. Keys (P = the bus prefix):
 *   P presence:nodes                    ZSET nodeId → last heartbeat (epoch ms)
 *   P presence:n:<nodeId>               STRING {"connections":n,"lastSeen":t}   PX ttl
 *   P presence:r:<room>                 SET of nodeIds with members in the room   PX ttl
 *   P presence:m:<len>:<nodeId>:<room>  HASH connId → member JSON               PX ttl
 * (the node id is length-prefixed so no room name can make two keys collide).
 *
 * Every heartbeat the node re-sets its node key and refreshes the expiry of its room keys; a
 * room key that is gone (expired during an outage, or Redis restarted empty) is rewritten from
 * the local mirror, and after every reconnect the whole mirror is rewritten. A node that stops
 * beating (SIGKILL, network cut) loses everything within ttlMs. Readers skip and clean up the
 * index entries of nodes whose keys have expired.
 */
import type { Redis } from "ioredis";
import type { Logger } from "../log.ts";
import { StateError } from "../errors.ts";
import {
  NodeRooms, checkRoom, decodeMember, encodeMember, presenceTiming, type NodeInfo, type PresenceEntry,
  type PresenceMember, type PresenceOptions, type PresenceStore,
} from "./presence.ts";

export interface RedisPresenceOptions extends PresenceOptions {
  nodeId: string;
  /** A command (not subscriber) connection, owned by the caller: RedisBus.client. */
  client: Redis;
  prefix: string;
  logger: Logger;
}

export class RedisPresence implements PresenceStore {
  readonly nodeId: string;
  readonly #client: Redis;
  readonly #log: Logger;
  readonly #rooms = new NodeRooms();
  readonly #keys: PresenceKeys;
  readonly #ttlMs: number;
  readonly #countConnections: () => number;
  readonly #maxRoomLength: number | undefined;
  readonly #timer: NodeJS.Timeout;
  readonly #onReady = (): void => void this.#sync(true);
  #closed = false;

  constructor(options: RedisPresenceOptions) {
    const { heartbeatMs, ttlMs } = presenceTiming(options);
    this.nodeId = options.nodeId;
    this.#client = options.client;
    this.#log = options.logger.child({ component: "presence" });
    this.#keys = new PresenceKeys(options.prefix, options.nodeId);
    this.#ttlMs = ttlMs;
    this.#maxRoomLength = options.maxRoomLength;
    this.#countConnections = options.countConnections ?? (() => this.#rooms.connectionCount());
    this.#timer = setInterval(() => void this.#sync(false), heartbeatMs).unref();
    this.#client.on("ready", this.#onReady);
    if (this.#client.status === "ready") void this.#sync(true);
  }

  async join(room: string, member: PresenceMember): Promise<void> {
    this.#assertOpen();
    checkRoom(room, this.#maxRoomLength);
    const { connId, json } = encodeMember(member);
    this.#rooms.join(room, connId, json);
    if (!this.#online()) return; // written on reconnect
    const key = this.#keys.members(room);
    await this.#run("join", this.#client.multi()
      .hset(key, connId, json).pexpire(key, this.#ttlMs)
      .sadd(this.#keys.room(room), this.nodeId).pexpire(this.#keys.room(room), this.#ttlMs));
  }

  async leave(room: string, connId: string): Promise<void> {
    this.#assertOpen();
    checkRoom(room, this.#maxRoomLength);
    const empty = this.#rooms.leave(room, connId);
    if (!this.#online()) return;
    const tx = this.#client.multi().hdel(this.#keys.members(room), connId);
    if (empty) tx.del(this.#keys.members(room)).srem(this.#keys.room(room), this.nodeId);
    await this.#run("leave", tx);
  }

  async leaveAll(connId: string): Promise<void> {
    this.#assertOpen();
    await Promise.all(this.#rooms.roomsOf(connId).map((room) => this.leave(room, connId)));
  }

  /** Every node's members; while Redis is unreachable, only this node's (the local mirror). */
  async members(room: string): Promise<PresenceEntry[]> {
    this.#assertOpen();
    checkRoom(room, this.#maxRoomLength);
    const local = this.#rooms.entries(room, this.nodeId);
    if (!this.#online()) return local;
    try {
      const others = (await this.#client.smembers(this.#keys.room(room))).filter((n) => n !== this.nodeId);
      if (others.length === 0) return local;
      const pipe = this.#client.pipeline();
      for (const node of others) pipe.hgetall(this.#keys.members(room, node));
      const replies = (await pipe.exec()) ?? [];
      const out = [...local];
      const gone: string[] = [];
      replies.forEach(([err, hash], i) => {
        const node = others[i]!;
        const fields = err ? {} : (hash as Record<string, string>);
        const values = Object.values(fields);
        if (values.length === 0) gone.push(node);
        for (const json of values) {
          const entry = decodeMember(json, node);
          if (entry !== undefined) out.push(entry);
        }
      });
      // Index entries of nodes whose keys expired: tidy up, nobody waits for it.
      if (gone.length > 0) void this.#run("cleanup", this.#client.multi().srem(this.#keys.room(room), ...gone));
      return out;
    } catch (err) {
      this.#log.debug({ err, room }, "members: redis failed mid-read; answering with local members");
      return local;
    }
  }

  /** Live nodes: this one always; the others while Redis is reachable. */
  async nodes(): Promise<NodeInfo[]> {
    this.#assertOpen();
    const self: NodeInfo = { nodeId: this.nodeId, connections: this.#countConnections(), lastSeen: Date.now() };
    if (!this.#online()) return [self];
    try {
      const ids = (await this.#client.zrangebyscore(this.#keys.nodes, Date.now() - this.#ttlMs, "+inf"))
        .filter((id) => id !== this.nodeId);
      if (ids.length === 0) return [self];
      const infos = await this.#client.mget(...ids.map((id) => this.#keys.node(id)));
      const out = [self];
      infos.forEach((json, i) => {
        const info = json === null ? undefined : parseNodeInfo(json);
        if (info !== undefined) out.push({ nodeId: ids[i]!, ...info });
      });
      return out;
    } catch (err) {
      this.#log.debug({ err }, "nodes: redis failed mid-read; answering with this node only");
      return [self];
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#client.off("ready", this.#onReady);
    if (!this.#online()) return; // our keys expire on their own
    const tx = this.#client.multi().del(this.#keys.node(this.nodeId)).zrem(this.#keys.nodes, this.nodeId);
    for (const room of this.#rooms.rooms.keys()) tx.del(this.#keys.members(room)).srem(this.#keys.room(room), this.nodeId);
    await this.#run("close", tx);
  }

  /** Heartbeat (full = rewrite everything, after a reconnect). */
  async #sync(full: boolean): Promise<void> {
    if (this.#closed || !this.#online()) return;
    const now = Date.now();
    const ttl = this.#ttlMs;
    const rooms = [...this.#rooms.rooms];
    const tx = this.#client.multi()
      .set(this.#keys.node(this.nodeId), JSON.stringify({ connections: this.#countConnections(), lastSeen: now }), "PX", ttl)
      .zadd(this.#keys.nodes, now, this.nodeId)
      .zremrangebyscore(this.#keys.nodes, "-inf", now - ttl);
    for (const [room, members] of rooms) {
      const key = this.#keys.members(room);
      if (full) tx.del(key).hset(key, Object.fromEntries(members));
      tx.pexpire(key, ttl).sadd(this.#keys.room(room), this.nodeId).pexpire(this.#keys.room(room), ttl);
    }
    const replies = await this.#run("heartbeat", tx);
    if (full || replies === undefined) return;
    // PEXPIRE answers 0 for a key that is gone: rewrite those rooms from the mirror.
    const lost = rooms.filter((_, i) => replies[3 + i * 3]?.[1] === 0);
    if (lost.length === 0) return;
    const fix = this.#client.multi();
    for (const [room, members] of lost) {
      if (members.size === 0) continue;
      fix.hset(this.#keys.members(room), Object.fromEntries(members)).pexpire(this.#keys.members(room), ttl);
    }
    await this.#run("rewrite", fix);
  }

  async #run(what: string, tx: ReturnType<Redis["multi"]>): Promise<[Error | null, unknown][] | undefined> {
    try {
      return (await tx.exec()) ?? undefined;
    } catch (err) {
      // Redis went away mid-command: the bus logs the outage; the next "ready" rewrites everything.
      this.#log.debug({ err, what }, "presence write lost");
      return undefined;
    }
  }

  #online(): boolean {
    return this.#client.status === "ready";
  }

  #assertOpen(): void {
    if (this.#closed) throw new StateError(`presence store of node "${this.nodeId}" is closed`);
  }
}

class PresenceKeys {
  readonly nodes: string;
  readonly #base: string;
  readonly #nodeId: string;

  constructor(prefix: string, nodeId: string) {
    this.#base = `${prefix}presence:`;
    this.#nodeId = nodeId;
    this.nodes = `${this.#base}nodes`;
  }

  node(nodeId: string): string {
    return `${this.#base}n:${nodeId}`;
  }

  room(room: string): string {
    return `${this.#base}r:${room}`;
  }

  members(room: string, nodeId = this.#nodeId): string {
    return `${this.#base}m:${nodeId.length}:${nodeId}:${room}`;
  }
}

function parseNodeInfo(json: string): { connections: number; lastSeen: number } | undefined {
  try {
    const value = JSON.parse(json) as { connections?: unknown; lastSeen?: unknown };
    if (typeof value.connections !== "number" || typeof value.lastSeen !== "number") return undefined;
    return { connections: value.connections, lastSeen: value.lastSeen };
  } catch {
    return undefined; // not ours: skipped like an expired node
  }
}
