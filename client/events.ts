/** A tiny typed event emitter that works the same in browsers and Node (no node:events). */
type Listener = (...args: unknown[]) => void;

export class Emitter<E extends Record<string, unknown[]>> {
  private readonly listeners = new Map<keyof E, Set<Listener>>();

  /** `onListenerError` hears of every listener that throws; it must not throw itself. */
  constructor(private readonly onListenerError: (event: keyof E & string, thrown: unknown) => void) {}

  /** Someone listens to `event` (the client reports to `error` only when someone does). */
  has(event: keyof E): boolean {
    return (this.listeners.get(event)?.size ?? 0) > 0;
  }

  on<K extends keyof E>(event: K, listener: (...args: E[K]) => void): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) this.listeners.set(event, (set = new Set()));
    set.add(listener as unknown as Listener);
    return () => this.off(event, listener);
  }

  off<K extends keyof E>(event: K, listener: (...args: E[K]) => void): void {
    this.listeners.get(event)?.delete(listener as unknown as Listener);
  }

  /** Calls every listener; one that throws is reported and does not stop the others. */
  emit<K extends keyof E & string>(event: K, ...args: E[K]): void {
    const set = this.listeners.get(event);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        (listener as unknown as (...a: E[K]) => void)(...args);
      } catch (err) {
        // A listener's bug must not break the client's own state machine: report it and go on.
        this.onListenerError(event, err);
      }
    }
  }
}

/**
 * The last resort for an error nobody listens to (or an `error` listener that threw):
 * console.error. Not `reportError`: in Deno a reported error that no `error` listener
 * intercepts ends the process (docs.deno.com/api/web/~/reportError), which is the one thing
 * the client must never do.
 */
export function logUnheard(error: unknown): void {
  console.error("switchboard client:", error);
}
