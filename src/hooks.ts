/**
 * runHook(): the one place where user code is called. A hook may be sync or async; whatever
 * it throws or rejects with is caught here and handed to `onError` (which logs it and, for a
 * connection, closes that connection with 1011). User code never takes the server down.
 * It lives at the root, not in src/endpoint, because the cluster layer (below the endpoint)
 * calls user code too (bus subscribers, status listeners).
 */
export type HookErrorHandler<S = void> = (err: Error, subject: S) => void;

/**
 * `subject` (e.g. the connection) is handed to `onError` as its second argument: one handler can
 * then serve every connection, instead of a closure made per connection to remember it.
 */
export function runHook<A extends unknown[], S = void>(
  hook: ((...args: A) => unknown) | undefined,
  args: A,
  onError: HookErrorHandler<S>,
  subject?: S,
): void {
  if (hook === undefined) return;
  let result: unknown;
  try {
    result = hook(...args);
  } catch (err) {
    onError(asError(err), subject as S);
    return;
  }
  // Only async hooks pay for a promise handler; sync ones stay on the fast path.
  if (isThenable(result)) result.then(undefined, (err: unknown) => onError(asError(err), subject as S));
}

export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as PromiseLike<unknown>).then === "function";
}
