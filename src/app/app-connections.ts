/**
 * `app.connections`: the app's live connections by id, read through the endpoint's own table.
 * From its open on, an app connection is the `data` of its endpoint connection, so the app
 * keeps no second table with an entry per connection (an idle connection's memory is what
 * issue 18 counts). A refused connection stays in the endpoint's table until its socket is gone
 * and is not an app connection: the count is kept here, by open and close.
 */
import type { Connection } from "../endpoint/connection.ts";
import { AppConn } from "./app-connection.ts";

const NO_CONNECTIONS: ReadonlyMap<string, Connection<unknown>> = new Map();

export class AppConnections implements ReadonlyMap<string, AppConn> {
  #endpoint: ReadonlyMap<string, Connection<unknown>> = NO_CONNECTIONS;
  #size = 0;

  /** @internal The app is mounted: read its endpoint's connections. */
  bind(endpointConnections: ReadonlyMap<string, Connection<unknown>>): void {
    this.#endpoint = endpointConnections;
  }

  /** @internal An app connection has opened (its endpoint connection's data is now its AppConn). */
  opened(): void {
    this.#size++;
  }

  /** @internal An app connection has closed. */
  closed(): void {
    this.#size--;
  }

  get size(): number {
    return this.#size;
  }

  get(id: string): AppConn | undefined {
    const data = this.#endpoint.get(id)?.data;
    return data instanceof AppConn ? data : undefined;
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  *values(): MapIterator<AppConn> {
    for (const conn of this.#endpoint.values()) {
      const data = conn.data;
      if (data instanceof AppConn) yield data;
    }
  }

  *keys(): MapIterator<string> {
    for (const conn of this.values()) yield conn.id;
  }

  *entries(): MapIterator<[string, AppConn]> {
    for (const conn of this.values()) yield [conn.id, conn];
  }

  [Symbol.iterator](): MapIterator<[string, AppConn]> {
    return this.entries();
  }

  forEach(callback: (value: AppConn, key: string, map: ReadonlyMap<string, AppConn>) => void, thisArg?: unknown): void {
    for (const conn of this.values()) callback.call(thisArg, conn, conn.id, this);
  }
}
