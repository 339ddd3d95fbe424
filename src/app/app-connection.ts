/**
 * The app layer's state for one endpoint connection: its user, rooms, calls in flight (each
 * with an AbortController) and bad-message budget. Tasks see it as an AppConnection.
 * Most connections never join a room, run an async task or send a bad message: the sets and
 * the budget for those are made on first use (about 550 bytes per idle connection otherwise),
 * and so is the user of an app without a session (anon-<n>: 70 bytes, object and string).
 */
import { encodePush } from "../protocol/codec.ts";
import type { Request, RequestId } from "../protocol/messages.ts";
import type { Connection } from "../endpoint/connection.ts";
import type { PreparedMessage } from "../transport/socket.ts";
import type { PushGate } from "./push.ts";
import { anonymousUser, type User } from "./sessions.ts";
import type { AppConnection } from "./task.ts";
import { BadMessageBudget } from "./bad-messages.ts";

/**
 * One asynchronous call or send that has not been answered yet. The object itself is the
 * server's key for it: the peer's request id is only data here, so a reused id can neither
 * overwrite a running call nor hide one from the count.
 */
export interface InFlightCall {
  readonly request: Request;
  readonly controller: AbortController;
}

/** The bad-message limits of an app: one object shared by its connections. */
export interface BudgetLimits {
  readonly max: number;
  readonly windowMs: number;
}

/**
 * What the connections of one app share, one object for each value of `streams`: one pointer
 * per connection, not a field for each part.
 */
export interface AppConnShared {
  readonly gate: PushGate;
  readonly budgetLimits: BudgetLimits;
  /** Opted in with `?streams=1`: room pushes carry room/offset/epoch (docs/protocol.md). */
  readonly streams: boolean;
}

/**
 * The calls and sends in flight on one connection, made at its first async one. The set bounds
 * `maxInFlightTasks`; the request ids among them (never more entries) serve the reused-id check.
 */
class InFlightCalls {
  readonly calls = new Set<InFlightCall>();
  readonly ids = new Set<RequestId>();
}

/** What `rooms` is for a connection in no room: one shared, empty and unchangeable set. */
class NoRooms extends Set<string> {
  // Set's constructor adds nothing when given no iterable, so only a later add() could change it.
  override add(): never {
    throw new TypeError("AppConnection.rooms is read-only (join with rooms.join / room.join)");
  }
}
const NO_ROOMS: ReadonlySet<string> = new NoRooms();

export class AppConn implements AppConnection {
  /** The user, or for an app without a session only its anonymous number until first read. */
  #user: User | number;
  #rooms: Set<string> | undefined;
  #budget: BadMessageBudget | undefined;
  #inFlight: InFlightCalls | undefined;

  constructor(
    readonly raw: Connection<unknown>,
    user: User | number,
    private readonly shared: AppConnShared,
  ) {
    this.#user = user;
  }

  /** Who is connected; an anonymous user is made on first read (most idle connections never read it). */
  get user(): User {
    const user = this.#user;
    return typeof user === "number" ? (this.#user = anonymousUser(user)) : user;
  }

  /** The user for the welcome, without keeping an anonymous one made only for it. */
  get welcomeUser(): User {
    const user = this.#user;
    return typeof user === "number" ? anonymousUser(user) : user;
  }

  /** Opted in with `?streams=1`: room pushes carry room/offset/epoch (docs/protocol.md). */
  get streams(): boolean {
    return this.shared.streams;
  }

  get id(): string {
    return this.raw.id;
  }

  /** The rooms this connection is in (changed only through addRoom / deleteRoom). */
  get rooms(): ReadonlySet<string> {
    return this.#rooms ?? NO_ROOMS;
  }

  /** @internal rooms.ts: the connection has joined `room`. */
  addRoom(room: string): void {
    (this.#rooms ??= new Set()).add(room);
  }

  /** @internal rooms.ts: the connection has left `room`. */
  deleteRoom(room: string): void {
    const rooms = this.#rooms;
    if (rooms === undefined) return;
    rooms.delete(room);
    if (rooms.size === 0) this.#rooms = undefined;
  }

  /** The sliding window of recent bad messages, made at the first one. */
  get budget(): BadMessageBudget {
    const limits = this.shared.budgetLimits;
    return (this.#budget ??= new BadMessageBudget(limits.max, limits.windowMs));
  }

  /** The room joined first (at connect), if still joined. */
  get room(): string | undefined {
    for (const room of this.rooms) return room;
    return undefined;
  }

  push(task: string, data: unknown): boolean {
    return this.pushText(encodePush(task, data));
  }

  /** Send an already-serialised push, through the backpressure gate. */
  pushText(text: string): boolean {
    const gate = this.shared.gate;
    if (!gate.admit(this.raw)) return false;
    return gate.sent(this.raw.send(text));
  }

  /** Send a push framed once for many connections, through the backpressure gate. */
  pushPrepared(message: PreparedMessage): boolean {
    const gate = this.shared.gate;
    if (!gate.admit(this.raw)) return false;
    return gate.sent(this.raw.sendPrepared(message));
  }

  /** Replies are asked for: they skip the push gate (the endpoint's own send limit still applies). */
  reply(text: string): void {
    this.raw.send(text);
  }

  close(code?: number, reason?: string): void {
    this.raw.close(code, reason);
  }

  /** How many calls and sends are in flight. */
  get inFlight(): number {
    return this.#inFlight === undefined ? 0 : this.#inFlight.calls.size;
  }

  /** True while a call with this request id is in flight. */
  hasCallInFlight(id: RequestId): boolean {
    const inFlight = this.#inFlight;
    return inFlight !== undefined && inFlight.ids.size > 0 && inFlight.ids.has(id);
  }

  track(request: Request, controller: AbortController): InFlightCall {
    const call: InFlightCall = { request, controller };
    const inFlight = (this.#inFlight ??= new InFlightCalls());
    inFlight.calls.add(call);
    if (request.id !== undefined) inFlight.ids.add(request.id);
    return call;
  }

  /** Take one call out. True when it was still in: the caller then owns its one answer. */
  untrack(call: InFlightCall): boolean {
    const inFlight = this.#inFlight;
    if (inFlight === undefined || !inFlight.calls.delete(call)) return false;
    if (call.request.id !== undefined) inFlight.ids.delete(call.request.id);
    return true;
  }

  /** Take every call out (disconnect, stop): the caller owns their answers; later settles send nothing. */
  takeAll(): InFlightCall[] {
    const inFlight = this.#inFlight;
    if (inFlight === undefined) return [];
    const calls = [...inFlight.calls];
    inFlight.calls.clear();
    inFlight.ids.clear();
    return calls;
  }
}
