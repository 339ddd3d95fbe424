/**
 * The memory engine: one process, needs nothing installed. The store is a MemoryEngineHub:
 * each engine gets a private one by default (a one-node cluster); engines sharing a hub act as
 * the nodes of one cluster (tests, workers in one process). A room's epoch is random per hub,
 * so a restarted process (a new hub) has new epochs and old positions answer recovered: false.
 *
 * Delivery is asynchronous (one FIFO of microtasks per hub), so pushes keep their offset order
 * and no handler runs inside publish().
 */
import { randomBytes } from "node:crypto";
import { createLogger, type Logger } from "../log.ts";
import { OptionError } from "../errors.ts";
import { limitDefault } from "../limits.ts";
import { defaultNodeId } from "../cluster/base-bus.ts";
import type { EngineMember, PublishOptions, PublishResult, Push, RoomMember } from "./engine.ts";
import type { RoomLog } from "./history.ts";
import type { IncomingPush } from "./local-rooms.ts";
import { BaseEngine } from "./base-engine.ts";
import type { EngineOptions, HistoryPolicy } from "./options.ts";

interface Stored {
  readonly push: Push;
  readonly at: number;
}

class RoomStream {
  readonly epoch = randomBytes(8).toString("hex");
  offset = 0;
  readonly entries: Stored[] = [];
  /** idempotency key → first publish's result and when it is forgotten (insertion = expiry order). */
  readonly keys = new Map<string, { result: PublishResult; until: number }>();
  lastPublishAt = 0;

  trim(policy: HistoryPolicy, now: number): void {
    const cutoff = now - policy.maxAgeMs;
    let drop = Math.max(0, this.entries.length - policy.maxCount);
    while (drop < this.entries.length && this.entries[drop]!.at <= cutoff) drop++;
    if (drop > 0) this.entries.splice(0, drop);
  }

  forgetKeys(now: number, max: number): void {
    for (const [key, entry] of this.keys) {
      if (entry.until > now && this.keys.size < max) break;
      this.keys.delete(key);
    }
  }
}

/**
 * A node as the hub sees it: a MemoryEngine in this process, or (ipc-hub.ts) a worker process
 * whose IpcEngine is reached over IPC.
 */
export interface HubNode {
  readonly nodeId: string;
  /** A push or announcement of a room this node subscribed to, in the hub's order. */
  receive(push: IncomingPush): void;
}

/** The shared store of the nodes of one cluster on one machine (in one process, or over IPC). */
export class MemoryEngineHub {
  readonly #streams = new Map<string, RoomStream>();
  readonly #subscribers = new Map<string, Set<HubNode>>();
  /** room → "<node>\n<memberId>" → member */
  readonly #members = new Map<string, Map<string, RoomMember>>();
  readonly #nodes = new Set<string>();
  /** Injected clock (tests); Date.now by default. */
  constructor(readonly now: () => number = Date.now) {}

  attach(engine: HubNode): void {
    if (this.#nodes.has(engine.nodeId)) throw new OptionError("nodeId", `"${engine.nodeId}" is already a node of this MemoryEngineHub`);
    this.#nodes.add(engine.nodeId);
  }

  detach(engine: HubNode): void {
    this.#nodes.delete(engine.nodeId);
    for (const [room, set] of this.#subscribers) if (set.delete(engine) && set.size === 0) this.#subscribers.delete(room);
    for (const [room, members] of this.#members) {
      for (const [key, member] of members) if (member.node === engine.nodeId) members.delete(key);
      if (members.size === 0) this.#members.delete(room);
    }
  }

  subscribe(room: string, engine: HubNode): void {
    let set = this.#subscribers.get(room);
    if (set === undefined) this.#subscribers.set(room, (set = new Set()));
    set.add(engine);
  }

  unsubscribe(room: string, engine: HubNode): void {
    const set = this.#subscribers.get(room);
    if (set?.delete(engine) && set.size === 0) this.#subscribers.delete(room);
  }

  /** How many nodes are subscribed to the room (what PUBSUB NUMSUB tells for Redis). */
  subscriberCount(room: string): number {
    return this.#subscribers.get(room)?.size ?? 0;
  }

  publish(room: string, payload: string, options: PublishOptions, policy: HistoryPolicy, idem: { windowMs: number; maxKeys: number }): PublishResult {
    const now = this.now();
    const stream = this.#stream(room, now);
    const key = options.idempotencyKey;
    if (key !== undefined) {
      stream.forgetKeys(now, idem.maxKeys);
      const seen = stream.keys.get(key);
      if (seen !== undefined) return { ...seen.result, duplicate: true };
    }
    const offset = ++stream.offset;
    const push: IncomingPush = { room, offset, epoch: stream.epoch, payload, except: options.except };
    stream.lastPublishAt = now;
    if (policy.maxCount > 0) stream.entries.push({ push: { room, offset, epoch: stream.epoch, payload }, at: now });
    stream.trim(policy, now);
    const result: PublishResult = { offset, epoch: stream.epoch, duplicate: false };
    if (key !== undefined) stream.keys.set(key, { result, until: now + idem.windowMs });
    const subscribers = this.#subscribers.get(room);
    if (subscribers !== undefined) {
      const targets = [...subscribers];
      queueMicrotask(() => {
        for (const engine of targets) engine.receive(push);
      });
    }
    return result;
  }

  /** An announcement: to the room's subscribed engines, in the same FIFO as the pushes. */
  announce(room: string, payload: string, except: string | undefined): void {
    const subscribers = this.#subscribers.get(room);
    if (subscribers === undefined) return;
    const targets = [...subscribers];
    const push: IncomingPush = { room, offset: 0, epoch: "", payload, except };
    queueMicrotask(() => {
      for (const engine of targets) engine.receive(push);
    });
  }

  read(room: string, policy: HistoryPolicy): RoomLog {
    const now = this.now();
    const stream = this.#stream(room, now);
    stream.trim(policy, now);
    return { pushes: stream.entries.map((entry) => entry.push), epoch: stream.epoch, offset: stream.offset };
  }

  addMember(room: string, member: RoomMember): void {
    let members = this.#members.get(room);
    if (members === undefined) this.#members.set(room, (members = new Map()));
    members.set(`${member.node}\n${member.id}`, member);
  }

  removeMember(room: string, node: string, memberId: string): void {
    const members = this.#members.get(room);
    if (members?.delete(`${node}\n${memberId}`) && members.size === 0) this.#members.delete(room);
  }

  members(room: string): RoomMember[] {
    return [...(this.#members.get(room)?.values() ?? [])];
  }

  /**
   * Forget rooms that hold nothing: no kept push, no remembered key, no subscriber, idle for
   * `idleMs`. Their epoch goes with them (a later position answers recovered: false), which is
   * what bounds the table by the rooms in use. Called from the engines' sweep timer.
   */
  sweep(idleMs: number, policyOf: (room: string) => HistoryPolicy): void {
    const now = this.now();
    for (const [room, stream] of this.#streams) {
      stream.trim(policyOf(room), now);
      stream.forgetKeys(now, Number.MAX_SAFE_INTEGER);
      const idle = now - stream.lastPublishAt >= idleMs;
      if (idle && stream.entries.length === 0 && stream.keys.size === 0 && !this.#subscribers.has(room)) this.#streams.delete(room);
    }
  }

  #stream(room: string, now: number): RoomStream {
    let stream = this.#streams.get(room);
    if (stream === undefined) {
      this.#streams.set(room, (stream = new RoomStream()));
      stream.lastPublishAt = now;
    }
    return stream;
  }
}

export interface MemoryEngineOptions extends EngineOptions {
  /** Share one hub between engines to make a cluster of them; default: a private hub. */
  hub?: MemoryEngineHub;
  logger?: Logger;
  /** A room idle this long with nothing kept is forgotten (with its epoch). */
  roomIdleMs?: number;
}

export const MEMORY_ROOM_IDLE_MS = limitDefault("memoryRoomIdleMs");

export class MemoryEngine extends BaseEngine {
  readonly hub: MemoryEngineHub;
  readonly #sweep: NodeJS.Timeout;

  constructor(options: MemoryEngineOptions = {}) {
    super(options.nodeId ?? defaultNodeId(), options, createLogger(options.logger).child({ component: "engine" }));
    this.hub = options.hub ?? new MemoryEngineHub();
    this.hub.attach(this);
    const idleMs = options.roomIdleMs ?? MEMORY_ROOM_IDLE_MS;
    this.#sweep = setInterval(() => this.hub.sweep(idleMs, this.options.history), Math.min(idleMs, 60_000)).unref();
  }

  /** Called by the hub. */
  receive(push: IncomingPush): void {
    this.received(push);
  }

  protected async subscribeRoom(room: string): Promise<void> {
    if (this.hasLocalRoom(room)) this.hub.subscribe(room, this);
  }

  protected async unsubscribeRoom(room: string): Promise<void> {
    if (!this.hasLocalRoom(room)) this.hub.unsubscribe(room, this);
  }

  protected async append(room: string, payload: string, options: PublishOptions): Promise<PublishResult> {
    return this.hub.publish(room, payload, options, this.options.history(room), {
      windowMs: this.options.idempotencyWindowMs, maxKeys: this.options.idempotencyMaxKeys,
    });
  }

  protected async readLog(room: string): Promise<RoomLog> {
    return this.hub.read(room, this.options.history(room));
  }

  protected async transmit(room: string, payload: string, except: string | undefined): Promise<void> {
    this.hub.announce(room, payload, except);
  }

  protected async addPresence(room: string, member: EngineMember): Promise<void> {
    this.hub.addMember(room, { ...member, node: this.nodeId });
  }

  protected async removePresence(room: string, memberId: string): Promise<void> {
    this.hub.removeMember(room, this.nodeId, memberId);
  }

  async members(room: string): Promise<RoomMember[]> {
    this.assertOpen("members");
    return this.hub.members(room);
  }

  protected async shutdown(): Promise<void> {
    clearInterval(this.#sweep);
    this.hub.detach(this);
  }
}
