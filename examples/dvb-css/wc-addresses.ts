/**
 * CSS-WC listeners for a server bound to a wildcard address: one UDP socket per address that
 * clients connect through.
 *
 * A UDP socket bound to 0.0.0.0 answers from whatever source address the kernel's route picks,
 * which need not be the address the request was sent to (with Node's dgram there is no
 * IP_PKTINFO to choose it). A client must check that a reply comes from the server's address
 * and port, so it would refuse such answers. ntpd solves the same problem the same way: bind
 * each address separately. Here an address gets its socket when the first CII client connects
 * through it; the table is bounded (`maxAddresses`), and an address that cannot be bound (not
 * this machine's, e.g. behind NAT) gets none: that client is told wcUrl null.
 */
import type { UdpListener } from "switchboard";

export interface WcAddressesOptions {
  /** Most addresses with a socket (every one a client names counts, bound or not). */
  maxAddresses: number;
  /** Make (not start) a listener on `address`. */
  create(address: string): UdpListener;
  /** Told when an address gets no socket, and why. */
  onRefused(address: string, reason: string): void;
}

export class WcAddresses {
  readonly #options: WcAddressesOptions;
  /** Promises, so that two handshakes through a new address share one bind. */
  readonly #listeners = new Map<string, Promise<UdpListener | undefined>>();
  #stopped = false;

  constructor(options: WcAddressesOptions, started: ReadonlyArray<readonly [string, UdpListener]> = []) {
    this.#options = options;
    for (const [address, listener] of started) this.#listeners.set(address, Promise.resolve(listener));
  }

  /** The listener for `address` (an IP literal, no brackets), started; undefined: none can be had. */
  listenerFor(address: string): Promise<UdpListener | undefined> {
    const known = this.#listeners.get(address);
    if (known !== undefined) return known;
    if (this.#stopped) return Promise.resolve(undefined);
    if (this.#listeners.size >= this.#options.maxAddresses) {
      this.#options.onRefused(address, `maxWcAddresses (${this.#options.maxAddresses}) reached`);
      return Promise.resolve(undefined);
    }
    const listener = this.#options.create(address);
    const started = listener.start().then(
      () => listener,
      (err: unknown) => {
        this.#options.onRefused(address, err instanceof Error ? err.message : String(err));
        return undefined;
      },
    );
    this.#listeners.set(address, started);
    return started;
  }

  /** Stop the listeners this table started (not those it was given). */
  async stop(given: ReadonlySet<UdpListener>): Promise<void> {
    this.#stopped = true;
    const listeners = await Promise.all(this.#listeners.values());
    await Promise.all(listeners.map((l) => (l === undefined || given.has(l) ? undefined : l.stop())));
  }
}
