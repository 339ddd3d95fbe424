/**
 * The Redis engine: history, offsets, epochs and presence in Redis, so they survive a node's
 * death and a rolling deploy. Two ioredis connections (a subscribing one can send nothing
 * else). ioredis is loaded lazily, as src/cluster/redis-bus.ts does, so `import "switchboard"`
 * does not load it.
 *
 * - publish is ONE Lua script (redis-scripts.ts): idempotency check, HINCRBY offset, XADD with
 *   MAXLEN and age trim, PUBLISH (or SPUBLISH) of the payload with offset/epoch, SET NX-style
 *   idempotency key with PX. Atomic, so two nodes never get the same offset.
 * - history is ONE script per room per read (every joining member of that room shares it).
 * - The room's channel is subscribed when the room gets its first local member and
 *   unsubscribed when it loses its last; `sharded: true` uses SSUBSCRIBE / SPUBLISH (Redis 7).
 * - Presence: HASH per room "<node>\n<id>" → data, and a liveness key per node (PX ttl,
 *   refreshed every heartbeat); members() drops entries of nodes whose key has expired.
 */
import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import { randomBytes } from "node:crypto";
import type { Redis, RedisOptions } from "ioredis";
import { createLogger, type Logger } from "../log.ts";
import { OptionError } from "../errors.ts";
import { limitDefault } from "../limits.ts";
import { DEFAULT_PREFIX } from "../cluster/bus.ts";
import { backoff, closeConnection } from "../cluster/redis-bus.ts";
import { defaultNodeId } from "../cluster/base-bus.ts";
import type { EngineMember, PublishOptions, PublishResult, Push, RoomMember } from "./engine.ts";
import type { RoomLog } from "./history.ts";
import { BaseEngine } from "./base-engine.ts";
import { WriteBatch } from "./batching.ts";
import type { EngineOptions } from "./options.ts";
import { HISTORY_SCRIPT, PUBLISH_SCRIPT } from "./redis-scripts.ts";
import { RoomKeys } from "./redis-keys.ts";

export interface RedisEngineOptions extends EngineOptions {
  url: string;
  prefix?: string;
  logger?: Logger;
  /** Redis 7 sharded pub/sub (SSUBSCRIBE / SPUBLISH), for Redis Cluster. */
  sharded?: boolean;
  /** A room's offset and epoch are kept this long after its last publish or read. */
  metaTtlMs?: number;
  presenceHeartbeatMs?: number;
  presenceTtlMs?: number;
  reconnectMaxMs?: number;
}

export const REDIS_META_TTL_MS = limitDefault("engineMetaTtlMs");

type ScriptReply = [number, string, unknown];

interface EngineCommands {
  sbEnginePublish(meta: string, stream: string, idem: string, ...argv: string[]): Promise<ScriptReply>;
  sbEngineHistory(meta: string, stream: string, ...argv: string[]): Promise<[number, string, string[]]>;
}

export class RedisEngine extends BaseEngine {
  readonly keys: RoomKeys;
  /** The command connection (tests read PUBSUB NUMSUB through their own). */
  readonly client: Redis & EngineCommands;
  readonly #sub: Redis;
  readonly #sharded: boolean;
  readonly #metaTtlMs: number;
  readonly #presenceTtlMs: number;
  /** channel → room, for the rooms this node is subscribed to. */
  readonly #channels = new Map<string, string>();
  readonly #heartbeat: NodeJS.Timeout;
  readonly #presenceWrites = new WriteBatch<PresenceWrite>((writes) => this.#writePresence(writes));
  /** A beat has set this node's liveness key (so a later beat that finds it gone knows it was lost). */
  #beaten = false;

  constructor(options: RedisEngineOptions) {
    const log = createLogger(options.logger).child({ component: "engine" });
    super(options.nodeId ?? defaultNodeId(), options, log);
    if (typeof options.url !== "string" || !/^rediss?:\/\//.test(options.url)) {
      throw new OptionError("engine.redis", `must be a redis:// or rediss:// URL, got ${JSON.stringify(options.url)}`);
    }
    this.keys = new RoomKeys(options.prefix ?? DEFAULT_PREFIX);
    this.#sharded = options.sharded === true;
    this.#metaTtlMs = options.metaTtlMs ?? REDIS_META_TTL_MS;
    this.#presenceTtlMs = options.presenceTtlMs ?? limitDefault("presenceTtlMs");
    const heartbeatMs = options.presenceHeartbeatMs ?? limitDefault("presenceHeartbeatMs");
    if (heartbeatMs >= this.#presenceTtlMs) throw new OptionError("presenceHeartbeatMs", "must be below presenceTtlMs");
    const maxMs = options.reconnectMaxMs ?? limitDefault("redisReconnectMaxMs");
    const common: RedisOptions = {
      retryStrategy: (times) => backoff(times, maxMs),
      autoResubscribe: false, // we resubscribe from our own table on "ready"
      maxRetriesPerRequest: 0,
      enableOfflineQueue: true, // a command sent while connecting waits for the connection
      disconnectTimeout: 100,
    };
    const RedisClass = loadIoredis();
    this.client = new RedisClass(options.url, { ...common, connectionName: `${this.nodeId}:engine` }) as Redis & EngineCommands;
    this.#sub = new RedisClass(options.url, { ...common, connectionName: `${this.nodeId}:engine-sub` });
    this.client.defineCommand("sbEnginePublish", { numberOfKeys: 3, lua: PUBLISH_SCRIPT });
    this.client.defineCommand("sbEngineHistory", { numberOfKeys: 2, lua: HISTORY_SCRIPT });
    for (const [conn, name] of [[this.client, "command"], [this.#sub, "subscriber"]] as const) {
      conn.on("error", (err: Error) => this.log.warn({ connection: name, err: err.message }, "engine redis connection error; reconnecting"));
    }
    this.#sub.on("ready", () => void this.#resubscribe());
    this.#sub.on(this.#sharded ? "smessageBuffer" : "messageBuffer", (channel: Buffer, message: Buffer) => this.#message(channel, message));
    this.#heartbeat = setInterval(() => void this.#beat(), heartbeatMs).unref();
    void this.#beat();
  }

  protected async subscribeRoom(room: string): Promise<void> {
    if (!this.hasLocalRoom(room)) return; // left again before its turn
    const channel = this.keys.channel(room);
    this.#channels.set(channel, room);
    await (this.#sharded ? this.#sub.ssubscribe(channel) : this.#sub.subscribe(channel));
  }

  protected async unsubscribeRoom(room: string): Promise<void> {
    if (this.hasLocalRoom(room)) return; // joined again before its turn
    const channel = this.keys.channel(room);
    this.#channels.delete(channel);
    await (this.#sharded ? this.#sub.sunsubscribe(channel) : this.#sub.unsubscribe(channel));
  }

  protected async append(room: string, payload: string, options: PublishOptions): Promise<PublishResult> {
    const policy = this.options.history(room);
    const key = options.idempotencyKey;
    const [offset, epoch, duplicate] = await this.client.sbEnginePublish(
      this.keys.meta(room), this.keys.stream(room), key === undefined ? this.keys.meta(room) : this.keys.idempotency(room, key),
      payload, String(policy.maxCount), String(policy.maxAgeMs), String(this.#metaTtlMs), newEpoch(),
      this.keys.channel(room), this.#sharded ? "SPUBLISH" : "PUBLISH",
      key === undefined ? "" : String(this.options.idempotencyWindowMs), options.except ?? "",
    );
    return { offset: Number(offset), epoch: String(epoch), duplicate: Number(duplicate) === 1 };
  }

  /** Announcements use the room's channel with offset 0 (no script: nothing is stored). */
  protected async transmit(room: string, payload: string, except: string | undefined): Promise<void> {
    const who = except ?? "";
    const message = `0::${Buffer.byteLength(who)}:${who}${payload}`;
    const channel = this.keys.channel(room);
    await (this.#sharded ? this.client.spublish(channel, message) : this.client.publish(channel, message));
  }

  protected async readLog(room: string): Promise<RoomLog> {
    const policy = this.options.history(room);
    const [offset, epoch, flat] = await this.client.sbEngineHistory(
      this.keys.meta(room), this.keys.stream(room), newEpoch(), String(this.#metaTtlMs), String(policy.maxAgeMs),
    );
    const pushes: Push[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      pushes.push({ room, offset: Number.parseInt(flat[i]!, 10), epoch, payload: flat[i + 1]! });
    }
    // The stream keeps maxCount at most; a policy lowered since may keep more until the next publish.
    const kept = policy.maxCount === 0 ? [] : pushes.slice(-policy.maxCount);
    return { pushes: kept, epoch, offset: Number(offset) };
  }

  protected addPresence(room: string, member: EngineMember): Promise<void> {
    return this.#presenceWrites.add({ room, id: member.id, data: member.data === undefined ? "" : JSON.stringify(member.data) });
  }

  protected removePresence(room: string, memberId: string): Promise<void> {
    return this.#presenceWrites.add({ room, id: memberId, data: undefined });
  }

  /** Member writes queued meanwhile, in one transaction (join storms: batching.ts). */
  async #writePresence(writes: PresenceWrite[]): Promise<void> {
    const tx = this.client.multi();
    const touched = new Set<string>();
    for (const write of writes) {
      const key = this.keys.members(write.room);
      if (write.data === undefined) tx.hdel(key, memberField(this.nodeId, write.id));
      else {
        tx.hset(key, memberField(this.nodeId, write.id), write.data);
        touched.add(key);
      }
    }
    for (const key of touched) tx.pexpire(key, this.#presenceTtlMs);
    await tx.exec();
  }

  async members(room: string): Promise<RoomMember[]> {
    this.assertOpen("members");
    const key = this.keys.members(room);
    const all = await this.client.hgetall(key);
    const entries = Object.entries(all).map(([field, json]) => {
      const cut = field.indexOf("\n");
      return { node: field.slice(0, cut), id: field.slice(cut + 1), field, json };
    });
    const nodes = [...new Set(entries.map((entry) => entry.node))];
    const alive = new Set<string>();
    if (nodes.length > 0) {
      const found = await this.client.mget(...nodes.map((node) => this.keys.node(node)));
      nodes.forEach((node, i) => { if (found[i] !== null) alive.add(node); });
    }
    const stale = entries.filter((entry) => !alive.has(entry.node)).map((entry) => entry.field);
    if (stale.length > 0) await this.client.hdel(key, ...stale);
    return entries.filter((entry) => alive.has(entry.node)).map((entry) => (entry.json === ""
      ? { id: entry.id, node: entry.node }
      : { id: entry.id, node: entry.node, data: JSON.parse(entry.json) as unknown }));
  }

  protected async shutdown(): Promise<void> {
    clearInterval(this.#heartbeat);
    const rooms = this.localRooms();
    try {
      const tx = this.client.multi().del(this.keys.node(this.nodeId));
      for (const room of rooms) for (const member of this.localMembers(room)) tx.hdel(this.keys.members(room), memberField(this.nodeId, member.id));
      await tx.exec();
    } catch (err) {
      this.log.debug({ err }, "could not remove this node's presence on close; it expires with presenceTtlMs");
    }
    await Promise.all([closeConnection(this.client, this.log), closeConnection(this.#sub, this.log)]);
  }

  #message(channel: Buffer, message: Buffer): void {
    const room = this.#channels.get(channel.toString());
    if (room === undefined) return;
    const push = decodeMessage(room, message);
    if (push instanceof Error) {
      this.log.warn({ err: push, room }, "ignored a malformed engine message");
      return;
    }
    this.received(push);
  }

  /**
   * A new subscriber connection has no subscriptions: send every local room's channel, then
   * catch up on what was published while it was away (the first "ready" has nothing to catch).
   */
  async #resubscribe(): Promise<void> {
    const channels = [...this.#channels.keys()];
    if (channels.length === 0) return;
    try {
      await (this.#sharded ? this.#sub.ssubscribe(...channels) : this.#sub.subscribe(...channels));
    } catch (err) {
      this.log.debug({ err }, "resubscribe failed; the next ready retries");
      return;
    }
    await this.catchUp(channels.map((channel) => this.#channels.get(channel)).filter((room): room is string => room !== undefined));
  }

  /**
   * Liveness of this node, and the expiry of its rooms' member hashes. When this node's
   * liveness key was gone (Redis restarted without its data, or this node missed beats for
   * presenceTtlMs and others dropped its entries as stale), every local member is written
   * again; a room hash that is gone alone (evicted) is written again too. So members() is
   * whole again within one beat of Redis coming back. (The hashes are shared by the nodes:
   * a PEXPIRE that finds no hash only tells the first node to beat, hence the liveness check.)
   */
  async #beat(): Promise<void> {
    if (this.closed) return;
    try {
      const rooms = this.localRooms();
      const node = this.keys.node(this.nodeId);
      const tx = this.client.multi().get(node).set(node, "1", "PX", this.#presenceTtlMs);
      for (const room of rooms) tx.pexpire(this.keys.members(room), this.#presenceTtlMs);
      const replies = (await tx.exec()) ?? [];
      // replies: GET (null: this node's key had vanished), SET, then one PEXPIRE per room (0: no hash).
      const vanished = replies[0]?.[1] === null && this.#beaten;
      this.#beaten = true;
      const lost = vanished ? rooms : rooms.filter((_, i) => replies[i + 2]?.[1] === 0);
      if (lost.length > 0) await this.#rewriteMembers(lost);
    } catch (err) {
      this.log.debug({ err }, "presence heartbeat failed; retried next beat");
    }
  }

  async #rewriteMembers(rooms: string[]): Promise<void> {
    const tx = this.client.multi();
    for (const room of rooms) {
      const key = this.keys.members(room);
      for (const member of this.localMembers(room)) tx.hset(key, memberField(this.nodeId, member.id), member.data === undefined ? "" : JSON.stringify(member.data));
      tx.pexpire(key, this.#presenceTtlMs);
    }
    await tx.exec();
    this.log.debug({ rooms: rooms.length }, "room members written again after their keys vanished");
  }
}

/** One member added (data: its JSON, "" for none) or removed (data undefined). */
interface PresenceWrite {
  readonly room: string;
  readonly id: string;
  readonly data: string | undefined;
}

function memberField(node: string, id: string): string {
  return `${node}\n${id}`;
}

function newEpoch(): string {
  return randomBytes(8).toString("hex");
}

/** "<offset>:<epoch>:<exceptLen>:<except><payload>" → a push (lengths in bytes). */
export function decodeMessage(room: string, message: Buffer): (Push & { except?: string }) | Error {
  const a = message.indexOf(58);
  const b = a < 0 ? -1 : message.indexOf(58, a + 1);
  const c = b < 0 ? -1 : message.indexOf(58, b + 1);
  if (c < 0) return new Error("malformed engine message: no header");
  const offset = Number(message.toString("latin1", 0, a));
  const epoch = message.toString("latin1", a + 1, b);
  const exceptLength = Number(message.toString("latin1", b + 1, c));
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(exceptLength) || c + 1 + exceptLength > message.length) {
    return new Error("malformed engine message: bad header");
  }
  const payload = message.toString("utf8", c + 1 + exceptLength);
  if (exceptLength === 0) return { room, offset, epoch, payload };
  return { room, offset, epoch, payload, except: message.toString("utf8", c + 1, c + 1 + exceptLength) };
}

function loadIoredis(): typeof import("ioredis").Redis {
  try {
    return (createRequire(import.meta.url)("ioredis") as typeof import("ioredis")).Redis;
  } catch (err) {
    throw new OptionError("engine.redis", `the Redis engine needs the ioredis package (npm install ioredis): ${(err as Error).message}`);
  }
}
