/**
 * The clock and timers the runtime uses, behind a small interface so tests can inject a fake
 * one instead of waiting for real backoff delays.
 */
export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A pending restart or stop deadline must not keep the process alive on its own.
    t.unref();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Wait for `work`, at most `ms`. Resolves true if it finished in time (its errors are the caller's). */
export async function withTimeout(work: Promise<unknown>, ms: number, timers: Timers = realTimers): Promise<boolean> {
  let timer: unknown;
  const deadline = new Promise<false>((resolve) => {
    timer = timers.setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([work.then(() => true, () => true), deadline]);
  } finally {
    timers.clearTimeout(timer);
  }
}
