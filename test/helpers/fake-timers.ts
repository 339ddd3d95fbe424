/**
 * A fake clock for backoff tests: timers fire only when the test calls `runNext()`, and the
 * clock jumps to the timer's due time. Tests read `pending()` to see what was scheduled.
 */
import type { Timers } from "../../src/runtime/timers.ts";

interface Pending { id: number; due: number; ms: number; fn: () => void }

export class FakeTimers implements Timers {
  #now = 1_000_000;
  #next = 1;
  #pending: Pending[] = [];
  /** Every delay ever scheduled, in order. */
  readonly delays: number[] = [];

  now(): number {
    return this.#now;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.#next++;
    this.#pending.push({ id, due: this.#now + ms, ms, fn });
    this.delays.push(ms);
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.#pending = this.#pending.filter((p) => p.id !== handle);
  }
  pending(): number[] {
    return this.#pending.map((p) => p.ms);
  }
  /** Advance the clock by `ms` without firing anything (to age crashes out of a window). */
  advance(ms: number): void {
    this.#now += ms;
  }
  /** Fire the earliest pending timer of exactly `ms` (a restart's `delayMs`). */
  fire(ms: number): void {
    const p = this.#pending.find((x) => x.ms === ms);
    if (p === undefined) throw new Error(`no ${ms} ms timer pending (pending: ${this.pending().join(", ")})`);
    this.#pending = this.#pending.filter((x) => x !== p);
    this.#now = Math.max(this.#now, p.due);
    p.fn();
  }
  /** Fire the earliest timer; returns its delay. Throws if none is pending. */
  runNext(): number {
    this.#pending.sort((a, b) => a.due - b.due);
    const p = this.#pending.shift();
    if (p === undefined) throw new Error("no timer pending");
    this.#now = Math.max(this.#now, p.due);
    p.fn();
    return p.ms;
  }
}
