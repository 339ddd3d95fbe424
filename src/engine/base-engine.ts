/**
 * What every engine shares: argument checks, the local member table and its handover, the
 * room subscription lifecycle (subscribe on the first local member, unsubscribe on the last,
 * one room's changes in order), shared history reads and the guarded delivery handler.
 * An implementation says how a room is (un)subscribed, how a publish, a history read and
 * presence reach its store, and calls `received()` for each push that arrives.
 */
import { StateError } from "../errors.ts";
import { runHook } from "../hooks.ts";
import type { Logger } from "../log.ts";
import type {
  Engine, EngineMember, EngineStats, HistoryOptions, HistoryResult, JoinOptions, JoinResult, PublishOptions,
  PublishResult, PushHandler, RoomMember,
} from "./engine.ts";
import { SharedReads } from "./batching.ts";
import { sliceHistory, type RoomLog } from "./history.ts";
import { LocalRooms, type IncomingPush } from "./local-rooms.ts";
import { checkPayload, checkRoomName, resolveEngineOptions, type EngineOptions, type ResolvedEngineOptions } from "./options.ts";

export abstract class BaseEngine implements Engine {
  readonly nodeId: string;
  readonly stats: EngineStats = { published: 0, announced: 0 };
  protected readonly options: ResolvedEngineOptions;
  protected readonly log: Logger;
  readonly #local: LocalRooms;
  #handler: PushHandler | undefined;
  /** Per room: the tail of its (un)subscribe chain, so they reach the store in order. */
  readonly #subscriptions = new Map<string, Promise<void>>();
  /** Per room: one history read in flight, shared by the joins and history() calls that wait for it. */
  readonly #reads = new SharedReads<RoomLog>((room) => this.readLog(room));
  /** Per local room: the last push received, so a catch-up after a resubscribe skips what came. */
  readonly #marks = new Map<string, { offset: number; epoch: string }>();
  /** Rooms catching up after a resubscribe: their live pushes wait here (bounded) until it ends. */
  readonly #catchingUp = new Map<string, IncomingPush[]>();
  #closing: Promise<void> | undefined;

  constructor(nodeId: string, options: EngineOptions, log: Logger) {
    this.nodeId = nodeId;
    this.options = resolveEngineOptions(options);
    this.log = log;
    this.#local = new LocalRooms((push, recipients) => this.#deliver(push, recipients), this.options.handoverMaxPushes);
  }

  protected abstract subscribeRoom(room: string): Promise<void>;
  protected abstract unsubscribeRoom(room: string): Promise<void>;
  protected abstract append(room: string, payload: string, options: PublishOptions): Promise<PublishResult>;
  /** Send an announcement (offset 0) to the room's subscribed nodes, this one included. */
  protected abstract transmit(room: string, payload: string, except: string | undefined): Promise<void>;
  /** The room's whole kept history (bounded by its policy), in one read. */
  protected abstract readLog(room: string): Promise<RoomLog>;
  protected abstract addPresence(room: string, member: EngineMember): Promise<void>;
  protected abstract removePresence(room: string, memberId: string): Promise<void>;
  abstract members(room: string): Promise<RoomMember[]>;
  protected abstract shutdown(): Promise<void>;

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  onPush(handler: PushHandler): void {
    this.#handler = handler;
  }

  async join(room: string, member: EngineMember, options: JoinOptions = {}): Promise<JoinResult> {
    this.assertOpen("join");
    checkRoomName(room, this.options.maxRoomLength);
    if (typeof member?.id !== "string" || member.id.length === 0) throw new TypeError("join(room, member): member.id must be a non-empty string");
    if (this.#local.addPending(room, member)) this.#chain(room, () => this.subscribeRoom(room));
    let log: RoomLog;
    try {
      await Promise.all([this.#subscriptions.get(room), this.addPresence(room, member)]);
      // The subscription is in force: every push from here on arrives live (buffered for this
      // member until resume), so one history read after this point leaves no gap.
      log = await this.#read(room);
    } catch (err) {
      // The store is away: the member goes live at once (no position), so it gets the pushes
      // once the store is back instead of buffering for a handover no one will end.
      this.#local.resume(room, member, { offset: 0, epoch: "" });
      throw err;
    }
    const result = joinResult(log, options);
    const resume = (): boolean => this.#local.resume(room, member, result);
    if (options.since === undefined && (options.history ?? 0) <= 0) {
      resume(); // nothing to replay: live at once
      return { ...result, resume: () => true };
    }
    return { ...result, resume };
  }

  async leave(room: string, memberId: string): Promise<void> {
    this.assertOpen("leave");
    checkRoomName(room, this.options.maxRoomLength);
    const last = this.#local.remove(room, memberId);
    if (last) {
      this.#marks.delete(room);
      this.#chain(room, () => this.unsubscribeRoom(room));
    }
    await Promise.all([this.removePresence(room, memberId), last ? this.#subscriptions.get(room) : undefined]);
  }

  publish(room: string, payload: string, options: PublishOptions = {}): Promise<PublishResult> {
    this.assertOpen("publish");
    checkRoomName(room, this.options.maxRoomLength);
    checkPayload(payload, this.options.maxPayloadBytes);
    this.stats.published += 1;
    return this.append(room, payload, options);
  }

  announce(room: string, payload: string, options: { except?: string } = {}): Promise<void> {
    this.assertOpen("announce");
    checkRoomName(room, this.options.maxRoomLength);
    checkPayload(payload, this.options.maxPayloadBytes);
    this.stats.announced += 1;
    return this.transmit(room, payload, options.except);
  }

  async history(room: string, options: HistoryOptions): Promise<HistoryResult> {
    this.assertOpen("history");
    checkRoomName(room, this.options.maxRoomLength);
    return sliceHistory(await this.#read(room), options);
  }

  localMembers(room: string): readonly import("./engine.ts").EngineMember[] {
    return this.#local.members(room);
  }

  localRooms(): string[] {
    return this.#local.rooms();
  }

  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#handler = undefined;
      this.#closing = (async () => {
        await Promise.allSettled([...this.#subscriptions.values()]);
        await this.shutdown();
      })();
    }
    return this.#closing;
  }

  /** Called by the implementation for each push of a subscribed room, in offset order. */
  protected received(push: IncomingPush): void {
    if (this.closed) return;
    if (push.offset === 0) return this.#local.announce(push);
    const waiting = this.#catchingUp.get(push.room);
    if (waiting !== undefined) {
      if (waiting.length < this.options.handoverMaxPushes) waiting.push(push);
      else this.log.warn({ room: push.room }, "catch-up buffer full: a live push was dropped");
      return;
    }
    this.#pass(push);
  }

  /** Once per push: skip one already received (a catch-up's overlap), then to the members. */
  #pass(push: IncomingPush): void {
    const mark = this.#marks.get(push.room);
    if (mark !== undefined && mark.epoch === push.epoch && push.offset <= mark.offset) return;
    if (this.#local.has(push.room)) this.#marks.set(push.room, { offset: push.offset, epoch: push.epoch });
    this.#local.receive(push);
  }

  /**
   * The subscription was lost and is back (Redis reconnected): the pushes published meanwhile
   * are read from the history and delivered, in order, before the live ones that came since;
   * none twice. A room whose epoch changed (Redis lost its data) gets the new epoch's pushes,
   * and its members' clients see the new epoch (they answer it as unrecovered).
   */
  protected async catchUp(rooms: readonly string[]): Promise<void> {
    await Promise.all(rooms.filter((room) => this.#local.has(room) && !this.#catchingUp.has(room)).map(async (room) => {
      this.#catchingUp.set(room, []);
      try {
        const log = await this.#read(room);
        for (const push of log.pushes) this.#pass(push);
      } catch (err) {
        this.log.warn({ err, room }, "catch-up read failed: pushes published during the outage are not delivered live");
      } finally {
        const waiting = this.#catchingUp.get(room) ?? [];
        this.#catchingUp.delete(room);
        for (const push of waiting) this.#pass(push);
      }
    }));
  }

  protected hasLocalRoom(room: string): boolean {
    return this.#local.has(room);
  }

  protected assertOpen(what: string): void {
    if (this.closed) throw new StateError(`engine ${this.nodeId} is closed: cannot ${what}`);
  }

  #deliver(push: import("./engine.ts").Push, recipients: readonly EngineMember[]): void {
    runHook(this.#handler, [push, recipients], (err) => this.log.error({ err, room: push.room }, "engine push handler failed"));
  }

  /** Run a room's subscription changes one after another; a failure is logged, not thrown twice. */
  #chain(room: string, step: () => Promise<void>): void {
    const previous = this.#subscriptions.get(room) ?? Promise.resolve();
    const next = previous.then(step).catch((err: unknown) => {
      this.log.warn({ err, room }, "room subscription change failed");
    });
    this.#subscriptions.set(room, next);
    void next.finally(() => {
      if (this.#subscriptions.get(room) === next) this.#subscriptions.delete(room);
    });
  }

  /** A history read that starts after this call: shared with every caller until it is sent (batching.ts). */
  #read(room: string): Promise<RoomLog> {
    return this.#reads.get(room);
  }
}

function joinResult(log: RoomLog, options: JoinOptions): Omit<JoinResult, "resume"> {
  const latest = (options.history ?? 0) > 0 ? log.pushes.slice(-(options.history ?? 0)) : [];
  const base = { epoch: log.epoch, offset: log.offset };
  if (options.since === undefined) return { ...base, pushes: latest, recovered: true };
  const replay = sliceHistory(log, { since: options.since, limit: Number.MAX_SAFE_INTEGER });
  if (replay.recovered) return { ...base, pushes: replay.pushes, recovered: true };
  return { ...base, pushes: latest, recovered: false };
}
