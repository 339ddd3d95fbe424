/**
 * The app layer's state for one endpoint connection: its user, rooms, calls in flight (each
 * with an AbortController) and bad-message budget. Tasks see it as an AppConnection.
 */
import { encodePush } from "../protocol/codec.ts";
import type { Request, RequestId } from "../protocol/messages.ts";
import type { Connection } from "../endpoint/connection.ts";
import type { PreparedMessage } from "../transport/socket.ts";
import type { PushGate } from "./push.ts";
import type { User } from "./sessions.ts";
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

export class AppConn implements AppConnection {
  readonly rooms = new Set<string>();
  readonly budget: BadMessageBudget;
  /** Every call and send in flight: what `maxInFlightTasks` bounds. */
  readonly #calls = new Set<InFlightCall>();
  /** The request ids among them (never more entries than #calls) for the reused-id check. */
  readonly #callIds = new Set<RequestId>();

  constructor(
    readonly raw: Connection<unknown>,
    readonly user: User,
    private readonly gate: PushGate,
    budget: { max: number; windowMs: number },
    /** Opted in with `?streams=1`: room pushes carry room/offset/epoch (docs/protocol.md). */
    readonly streams = false,
  ) {
    this.budget = new BadMessageBudget(budget.max, budget.windowMs);
  }

  get id(): string {
    return this.raw.id;
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
    if (!this.gate.admit(this.raw)) return false;
    return this.gate.sent(this.raw.send(text));
  }

  /** Send a push framed once for many connections, through the backpressure gate. */
  pushPrepared(message: PreparedMessage): boolean {
    if (!this.gate.admit(this.raw)) return false;
    return this.gate.sent(this.raw.sendPrepared(message));
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
    return this.#calls.size;
  }

  /** True while a call with this request id is in flight. */
  hasCallInFlight(id: RequestId): boolean {
    return this.#callIds.size > 0 && this.#callIds.has(id);
  }

  track(request: Request, controller: AbortController): InFlightCall {
    const call: InFlightCall = { request, controller };
    this.#calls.add(call);
    if (request.id !== undefined) this.#callIds.add(request.id);
    return call;
  }

  /** Take one call out. True when it was still in: the caller then owns its one answer. */
  untrack(call: InFlightCall): boolean {
    if (!this.#calls.delete(call)) return false;
    if (call.request.id !== undefined) this.#callIds.delete(call.request.id);
    return true;
  }

  /** Take every call out (disconnect, stop): the caller owns their answers; later settles send nothing. */
  takeAll(): InFlightCall[] {
    const calls = [...this.#calls];
    this.#calls.clear();
    this.#callIds.clear();
    return calls;
  }
}
