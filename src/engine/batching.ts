/**
 * Two ways of sharing one store round trip between many callers, for the moments when many
 * clients join at once (a reconnect storm: 10k clients come back to one node within seconds).
 * Both keep at most one request in flight: what arrives meanwhile waits for the next one, which
 * starts when the current one has ended. So a storm costs about one round trip per store
 * latency, not one per caller (and not one per event-loop tick, which under a storm is nearly
 * one per caller).
 */

/**
 * One read per key for every caller that asks before it is sent. A caller that asks while a
 * read is in flight gets the NEXT read (started after the current one ends), never the current
 * one: a join must see a read that began after its own subscription was in force.
 */
export class SharedReads<T> {
  readonly #read: (key: string) => Promise<T>;
  /**
   * Per key: `open`, the read not sent yet (callers join it); `busy`, settled when the last
   * read asked for has ended (the next one is sent after it).
   */
  readonly #keys = new Map<string, { open: Promise<T> | undefined; busy: Promise<void> }>();

  constructor(read: (key: string) => Promise<T>) {
    this.#read = read;
  }

  get(key: string): Promise<T> {
    let entry = this.#keys.get(key);
    if (entry?.open !== undefined) return entry.open;
    if (entry === undefined) this.#keys.set(key, (entry = { open: undefined, busy: Promise.resolve() }));
    const slot = entry;
    // Sent after the read in flight (if any) has ended, and at least a microtask from now, so
    // the callers of this tick share it.
    const read: Promise<T> = slot.busy.then(() => {
      slot.open = undefined; // sent: callers from now on need a read that starts after them
      return this.#read(key);
    });
    const ended = read.then(() => undefined, () => undefined);
    slot.open = read;
    slot.busy = ended;
    void ended.then(() => {
      if (slot.busy === ended && this.#keys.get(key) === slot) this.#keys.delete(key);
    });
    return read;
  }
}

/**
 * Writes queued and sent together: `flush` gets every item added since the last flush began,
 * in the order added; each add() resolves (or rejects) with the flush that carried it.
 */
export class WriteBatch<T> {
  readonly #flush: (items: T[]) => Promise<void>;
  #queued: Array<{ item: T; settle: (err?: unknown) => void }> = [];
  #running: Promise<void> | undefined;

  constructor(flush: (items: T[]) => Promise<void>) {
    this.#flush = flush;
  }

  add(item: T): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queued.push({ item, settle: (err) => (err === undefined ? resolve() : reject(err)) });
      if (this.#running === undefined) this.#running = this.#drain();
    });
  }

  async #drain(): Promise<void> {
    await Promise.resolve(); // the adds of this tick go in the first flush
    while (this.#queued.length > 0) {
      const batch = this.#queued;
      this.#queued = [];
      try {
        await this.#flush(batch.map((entry) => entry.item));
        for (const entry of batch) entry.settle();
      } catch (err) {
        for (const entry of batch) entry.settle(err ?? new Error("batched write failed"));
      }
    }
    this.#running = undefined;
  }
}
