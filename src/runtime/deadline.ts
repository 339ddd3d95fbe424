/**
 * A deadline several waits share: each asks how long is left, so a stop made of many steps is
 * bounded as a whole, not step by step (N steps of "up to T each" is not a bound anyone chose).
 */
import { realTimers, type Timers } from "./timers.ts";

export class Deadline {
  readonly #timers: Timers;
  /** When it falls, on the timers' clock (ms since epoch for the real one). */
  readonly at: number;

  constructor(ms: number, timers: Timers = realTimers) {
    this.#timers = timers;
    this.at = timers.now() + ms;
  }

  /** Milliseconds left; 0 once it has passed. */
  remaining(): number {
    return Math.max(0, this.at - this.#timers.now());
  }
}
