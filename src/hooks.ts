/**
 * runHook(): the one place where user code is called. A hook may be sync or async; whatever
 * it throws or rejects with is caught here and handed to `onError` (which logs it and, for a
 * connection, closes that connection with 1011). User code never takes the server down.
 * It lives at the root, not in src/endpoint, because the cluster layer (below the endpoint)
 * calls user code too (bus subscribers, status listeners).
 */
export type HookErrorHandler = (err: Error) => void;

export function runHook<A extends unknown[]>(
  hook: ((...args: A) => unknown) | undefined,
  args: A,
  onError: HookErrorHandler,
): void {
  if (hook === undefined) return;
  let result: unknown;
  try {
    result = hook(...args);
  } catch (err) {
    onError(asError(err));
    return;
  }
  // Only async hooks pay for a promise handler; sync ones stay on the fast path.
  if (isThenable(result)) result.then(undefined, (err: unknown) => onError(asError(err)));
}

export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as PromiseLike<unknown>).then === "function";
}
