/**
 * Inbox: collects values pushed by a callback and hands them out in order; next() waits for the
 * next one with a bounded timeout that fails the test (never a sleep).
 */
export class Inbox<T> {
  readonly items: T[] = [];
  #read = 0;
  #waiter: (() => void) | undefined;

  /** Bound, so it can be passed as a callback directly. */
  readonly push = (item: T): void => {
    this.items.push(item);
    const wake = this.#waiter;
    this.#waiter = undefined;
    wake?.();
  };

  /** Items not yet taken by next(). */
  get unread(): T[] {
    return this.items.slice(this.#read);
  }

  async next(timeoutMs = 5_000, what = "a message"): Promise<T> {
    while (this.#read >= this.items.length) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.#waiter = undefined;
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.items[this.#read++]!;
  }

  async take(count: number, timeoutMs = 5_000): Promise<T[]> {
    const out: T[] = [];
    for (let i = 0; i < count; i++) out.push(await this.next(timeoutMs, `item ${i + 1} of ${count}`));
    return out;
  }
}
