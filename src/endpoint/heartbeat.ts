/**
 * Heartbeat: one timer for the whole server. Each beat, a connection that has not shown a
 * sign of life (a pong or a message) since the previous beat is terminated; the others are
 * pinged. So a dead peer is gone within two beats.
 */
import type { Connection } from "./connection.ts";

export class Heartbeat {
  readonly #intervalMs: number;
  readonly #connections: () => Iterable<Connection<unknown>>;
  #timer: NodeJS.Timeout | undefined;

  constructor(intervalMs: number, connections: () => Iterable<Connection<unknown>>) {
    this.#intervalMs = intervalMs;
    this.#connections = connections;
  }

  start(): void {
    if (this.#intervalMs === 0 || this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.beat(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  beat(): void {
    for (const conn of this.#connections()) {
      if (!conn.alive) {
        conn.terminate();
        continue;
      }
      conn.alive = false;
      conn.ping();
    }
  }
}
