/**
 * Broadcast: the message is framed ONCE and the same bytes are written to every socket.
 * Each connection applies its slow-consumer policy; the result says how many got it.
 */
import type { Connection } from "./connection.ts";
import type { PreparedMessage } from "../transport/socket.ts";

export interface BroadcastOptions<C> {
  /** A connection (or several) that does not get the message, e.g. its sender. */
  except?: C | Iterable<C>;
}

export interface BroadcastResult {
  /** Connections the message was written to. */
  sent: number;
  /** Connections skipped: closing, or refused by the slow-consumer policy. */
  skipped: number;
}

export function broadcastPrepared<D>(
  connections: Iterable<Connection<D>>,
  message: PreparedMessage,
  options: BroadcastOptions<Connection<D>> = {},
): BroadcastResult {
  const except = toExceptSet(options.except);
  let sent = 0;
  let skipped = 0;
  for (const conn of connections) {
    if (except !== undefined && except.has(conn)) continue;
    if (conn.sendPrepared(message)) sent++;
    else skipped++;
  }
  return { sent, skipped };
}

function toExceptSet<C extends object>(except: C | Iterable<C> | undefined): Set<C> | undefined {
  if (except === undefined) return undefined;
  if (typeof (except as Iterable<C>)[Symbol.iterator] === "function") return new Set(except as Iterable<C>);
  return new Set([except as C]);
}
