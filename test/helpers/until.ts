/**
 * Waiting in tests without sleeping: resolve on an event, fail after a bounded time.
 */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A promise and the functions that settle it. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Resolves when `check()` is true, re-checking each time `subscribe`'s callback fires. */
export function when(check: () => boolean, subscribe: (recheck: () => void) => void, ms: number, what: string): Promise<void> {
  const done = deferred();
  if (check()) return Promise.resolve();
  subscribe(() => {
    if (check()) done.resolve();
  });
  return within(done.promise, ms, what);
}
