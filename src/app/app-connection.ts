/**
 * The app layer's state for one endpoint connection: its user, rooms, calls in flight (each
 * with an AbortController) and bad-message budget. Tasks see it as an AppConnection.
 */
import { encodePush } from "../protocol/codec.ts";
import type { Connection } from "../endpoint/connection.ts";
import type { PreparedMessage } from "../transport/socket.ts";
import type { PushGate } from "./push.ts";
import type { User } from "./sessions.ts";
import { TaskAbort, type AppConnection } from "./task.ts";
import { BadMessageBudget } from "./bad-messages.ts";

export class AppConn implements AppConnection {
  readonly rooms = new Set<string>();
  /** request id (or a negative serial for sends without id) → its AbortController. */
  readonly inFlight = new Map<number, AbortController>();
  readonly budget: BadMessageBudget;
  private sendSerial = 0;

  constructor(
    readonly raw: Connection<unknown>,
    readonly user: User,
    private readonly gate: PushGate,
    budget: { max: number; windowMs: number },
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

  /** A key for a call without a request id (sends are tracked too, so they can be aborted). */
  nextSendKey(): number {
    this.sendSerial -= 1;
    return this.sendSerial;
  }

  abortAll(reason: TaskAbort): void {
    for (const controller of this.inFlight.values()) controller.abort(reason);
    this.inFlight.clear();
  }
}
