/**
 * In-flight work (app tasks, long handlers) that a graceful stop waits for. Each piece of work
 * gets an AbortSignal; at the stop deadline the signals abort, and the stop waits one more
 * grace period for the work to notice before it goes on without it.
 */
import { StateError } from "../errors.ts";
import { realTimers, withTimeout, type Timers } from "./timers.ts";

export interface DrainResult {
  /** Finished before the deadline. */
  readonly finished: number;
  /** Aborted at the deadline, then finished within the grace period. */
  readonly aborted: number;
  /** Still running after the grace period: left behind. */
  readonly abandoned: number;
}

export class InFlight {
  readonly #work = new Map<Promise<unknown>, AbortController>();
  readonly #timers: Timers;
  #closed = false;

  constructor(timers: Timers = realTimers) {
    this.#timers = timers;
  }

  get size(): number {
    return this.#work.size;
  }

  /** True once a drain began: new work is refused. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Run `fn` as tracked work. Throws StateError (code "bad_state") once the server is stopping. */
  run<T>(fn: (signal: AbortSignal) => Promise<T> | T): Promise<T> {
    if (this.#closed) throw new StateError("the server is stopping; no new work is accepted");
    const controller = new AbortController();
    let promise: Promise<T>;
    try {
      promise = Promise.resolve(fn(controller.signal)); // called now, so the caller's setup runs in order
    } catch (err) {
      promise = Promise.reject(err);
    }
    const tracked = promise.then(() => undefined, () => undefined).finally(() => this.#work.delete(tracked));
    this.#work.set(tracked, controller);
    return promise;
  }

  /** Refuse new work, wait up to `deadlineMs`, abort what is left, wait `graceMs` more. */
  async drain(deadlineMs: number, graceMs = Math.min(deadlineMs, 1_000)): Promise<DrainResult> {
    this.close();
    const total = this.#work.size;
    if (total === 0) return { finished: 0, aborted: 0, abandoned: 0 };
    await this.settled(deadlineMs);
    const late = this.abortAll();
    if (late > 0) await this.settled(graceMs);
    const abandoned = this.#work.size;
    return { finished: total - late, aborted: late - abandoned, abandoned };
  }

  // The steps of drain(), for a caller (the Server's stop) that does other things between them.

  /** Refuse new work from now on. */
  close(): void {
    this.#closed = true;
  }

  /** Resolves once every piece of work running now has settled (never rejects). */
  idle(): Promise<void> {
    return Promise.all(this.#work.keys()).then(() => undefined);
  }

  /** Wait until the work running now has settled, at most `ms`: true if it did. */
  settled(ms: number): Promise<boolean> {
    if (this.#work.size === 0) return Promise.resolve(true);
    return withTimeout(this.idle(), ms, this.#timers);
  }

  /** Fire the signal of every piece of work still running; returns how many. */
  abortAll(reason: Error = new StateError("server stopping: deadline reached")): number {
    for (const controller of this.#work.values()) controller.abort(reason);
    return this.#work.size;
  }
}
