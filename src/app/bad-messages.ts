/**
 * The bad-message budget of one connection: a sliding window of the times of recent bad
 * messages. One bad message is answered and forgiven; more than `max` within `windowMs`
 * means the peer is broken or hostile, and the connection is closed with 1008.
 */
export class BadMessageBudget {
  private readonly times: number[] = [];
  constructor(
    readonly max: number,
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Record one bad message; true when the budget is now exceeded. */
  spend(): boolean {
    const now = this.now();
    while (this.times.length > 0 && now - this.times[0]! >= this.windowMs) this.times.shift();
    this.times.push(now);
    // Over the budget the answer is already known: keep max + 1 times, not one per message
    // (a peer that ignores our close frame may go on sending until closeTimeoutMs).
    if (this.times.length > this.max + 1) this.times.shift();
    return this.times.length > this.max;
  }
}
