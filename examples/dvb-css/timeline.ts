/**
 * A timeline the CSS-TS server can offer: a timeline selector, a tick rate, and a correlation
 * (wall clock ns ↔ content ticks) with a speed. Changing position or speed re-anchors the
 * correlation at "now" and tells listeners, so the TS server can push new Control Timestamps.
 */
import type { ControlTimestamp } from "./ts-messages.ts";
import type { WallClock } from "./wall-clock.ts";

export interface TimelineSource {
  recognises(timelineSelector: string): boolean;
  /** The Control Timestamp for this selector now; undefined: do not send one yet. */
  controlTimestamp(timelineSelector: string): ControlTimestamp | undefined;
  /** Register a listener for changes; returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
}

export interface ClockTimelineOptions {
  timelineSelector: string;
  /** Ticks per second (unitsPerSecond / unitsPerTick in the CII timeline option). */
  unitsPerSecond: number;
  unitsPerTick?: number;
  wallClock: WallClock;
  /** Content time (ticks) at start; default 0. */
  startTicks?: bigint;
  speed?: number;
}

const NS_PER_S = 1_000_000_000n;

export class ClockTimeline implements TimelineSource {
  readonly timelineSelector: string;
  readonly unitsPerSecond: number;
  readonly unitsPerTick: number;
  readonly #wallClock: WallClock;
  #anchor: { wallClockTime: bigint; contentTime: bigint };
  #speed: number;
  #available = true;
  readonly #listeners = new Set<() => void>();

  constructor(options: ClockTimelineOptions) {
    this.timelineSelector = options.timelineSelector;
    this.unitsPerSecond = options.unitsPerSecond;
    this.unitsPerTick = options.unitsPerTick ?? 1;
    this.#wallClock = options.wallClock;
    this.#anchor = { wallClockTime: options.wallClock.now(), contentTime: options.startTicks ?? 0n };
    this.#speed = options.speed ?? 1;
  }

  recognises(timelineSelector: string): boolean {
    return timelineSelector === this.timelineSelector;
  }

  controlTimestamp(): ControlTimestamp {
    if (!this.#available) return { contentTime: null, wallClockTime: this.#wallClock.now(), timelineSpeedMultiplier: null };
    return { contentTime: this.#anchor.contentTime, wallClockTime: this.#anchor.wallClockTime, timelineSpeedMultiplier: this.#speed };
  }

  /** Content time (ticks) at wall clock time `at` (default now). */
  ticksAt(at = this.#wallClock.now()): bigint {
    const elapsedNs = at - this.#anchor.wallClockTime;
    const ticksPerSecond = this.unitsPerSecond / this.unitsPerTick;
    return this.#anchor.contentTime + BigInt(Math.round((Number(elapsedNs) * this.#speed * ticksPerSecond) / Number(NS_PER_S)));
  }

  get speed(): number {
    return this.#speed;
  }

  setSpeed(speed: number): void {
    const now = this.#wallClock.now();
    this.#anchor = { wallClockTime: now, contentTime: this.ticksAt(now) };
    this.#speed = speed;
    this.#changed();
  }

  seek(contentTicks: bigint): void {
    this.#anchor = { wallClockTime: this.#wallClock.now(), contentTime: contentTicks };
    this.#changed();
  }

  set available(value: boolean) {
    if (value === this.#available) return;
    this.#available = value;
    this.#changed();
  }

  get available(): boolean {
    return this.#available;
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }
}
