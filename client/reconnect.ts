/**
 * When to reconnect and how long to wait: exponential backoff with jitter, and the close
 * code's `retryable` flag (a close that would fail the same way again is not retried).
 * Pure: no timers here, so it is tested without a clock.
 */
import { describeCloseCode } from "../src/protocol/close-codes.ts";

export interface ReconnectOptions {
  /** First delay (before jitter). Default 250 ms. */
  initialDelayMs?: number;
  /** Cap on the delay. Default 10 000 ms. */
  maxDelayMs?: number;
  /** Growth per failed attempt. Default 2. */
  factor?: number;
  /** Fraction of the delay that is random: 0 = none, 1 = "full jitter". Default 0.5. */
  jitter?: number;
  /** Give up after this many attempts in a row. Default: never. */
  maxAttempts?: number;
  /** Random source in [0, 1) (tests pass a fixed one). */
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  private readonly initial: number;
  private readonly max: number;
  private readonly factor: number;
  private readonly jitter: number;
  private readonly maxAttempts: number;
  private readonly random: () => number;

  constructor(options: ReconnectOptions = {}) {
    this.initial = positive(options.initialDelayMs, 250, "initialDelayMs");
    this.max = positive(options.maxDelayMs, 10_000, "maxDelayMs");
    this.factor = positive(options.factor, 2, "factor");
    this.jitter = options.jitter ?? 0.5;
    if (!(this.jitter >= 0 && this.jitter <= 1)) throw new RangeError(`reconnect.jitter must be in [0, 1], got ${options.jitter}`);
    this.maxAttempts = options.maxAttempts ?? Infinity;
    this.random = options.random ?? Math.random;
  }

  /** Attempts made since the last success. */
  get attempts(): number {
    return this.attempt;
  }

  /** The delay before the next attempt, or undefined when attempts are used up. */
  next(): number | undefined {
    if (this.attempt >= this.maxAttempts) return undefined;
    const base = Math.min(this.max, this.initial * this.factor ** this.attempt);
    this.attempt += 1;
    // Spread clients that lost the same server so they do not all come back at once.
    return Math.round(base * (1 - this.jitter) + base * this.jitter * this.random());
  }

  /** A connection succeeded: start again from the initial delay. */
  reset(): void {
    this.attempt = 0;
  }
}

/** Reconnecting after this close can help (the server went away, restarted, was overloaded). */
export function isRetryableClose(code: number): boolean {
  return describeCloseCode(code).retryable;
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`reconnect.${name} must be a positive number, got ${value}`);
  return value;
}
