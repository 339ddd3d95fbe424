/**
 * Await an event instead of sleeping: resolves with the event's first argument when `match`
 * accepts it, fails after a bounded timeout so a missing event fails the test.
 */
import type { EventEmitter } from "node:events";

export function waitForEvent<T>(
  emitter: EventEmitter,
  event: string,
  match: (value: T) => boolean = () => true,
  timeoutMs = 5_000,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, onEvent);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for "${event}"`));
    }, timeoutMs);
    const onEvent = (value: T): void => {
      if (!match(value)) return;
      clearTimeout(timer);
      emitter.off(event, onEvent);
      resolve(value);
    };
    emitter.on(event, onEvent);
  });
}
