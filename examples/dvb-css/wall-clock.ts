/**
 * The wall clock: a monotonic nanosecond clock (process.hrtime.bigint(), never stepped by NTP
 * or by a user changing the time), optionally shifted by a fixed offset so a demo or a test can
 * tell the server's wall clock from the client's own clock.
 */
export interface WallClock {
  /** Now, in nanoseconds. */
  now(): bigint;
  /** Measured precision of one reading, in seconds. */
  readonly precisionSecs: number;
  /** Assumed worst-case frequency error, in ppm. */
  readonly maxFreqErrorPpm: number;
}

export function monotonicWallClock(options: { offsetNs?: bigint; maxFreqErrorPpm?: number } = {}): WallClock {
  const offset = options.offsetNs ?? 0n;
  return {
    now: () => process.hrtime.bigint() + offset,
    precisionSecs: measurePrecision(),
    // pydvbcss's default for a system clock that NTP may slew.
    maxFreqErrorPpm: options.maxFreqErrorPpm ?? 500,
  };
}

/** The smallest step seen between consecutive readings (bounded sample), in seconds. */
export function measurePrecision(samples = 1000): number {
  let smallest = Number.POSITIVE_INFINITY;
  let previous = process.hrtime.bigint();
  for (let i = 0; i < samples; i++) {
    const next = process.hrtime.bigint();
    const step = Number(next - previous);
    if (step > 0 && step < smallest) smallest = step;
    previous = next;
  }
  return (Number.isFinite(smallest) ? smallest : 1000) / 1e9;
}
