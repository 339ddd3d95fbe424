/**
 * Backpressure for pushes. A push is unasked-for, so a connection that reads too slowly must
 * not make the server buffer without bound: over `maxPushBufferedBytes`, the named policy
 * decides — "drop" skips this push (the client misses it), "close" ends the connection with
 * 4000 SlowConsumer (the client reconnects and resynchronises). Counters record both.
 */
import { CloseCode } from "../protocol/close-codes.ts";
import { OptionError } from "../errors.ts";

export type PushPolicy = "drop" | "close";

/** The part of an endpoint Connection the app layer uses. */
export interface EndpointConnection {
  readonly id: string;
  readonly bufferedAmount: number;
  send(data: string | Uint8Array, isBinary?: boolean): void;
  close(code?: number, reason?: string): void;
}

export interface PushCounters {
  /** Pushes written to a socket (one per recipient). */
  sent: number;
  /** Pushes skipped under the "drop" policy. */
  dropped: number;
  /** Connections closed under the "close" policy. */
  closedSlow: number;
}

export function newPushCounters(): PushCounters {
  return { sent: 0, dropped: 0, closedSlow: 0 };
}

export class PushGate {
  constructor(
    readonly policy: PushPolicy,
    readonly limit: number,
    readonly counters: PushCounters,
  ) {
    if (policy !== "drop" && policy !== "close") throw new OptionError("pushPolicy", `must be "drop" or "close", got ${String(policy)}`);
  }

  /** Count a push that was written. */
  sent(written: boolean): boolean {
    if (written) this.counters.sent += 1;
    return written;
  }

  /** True when a push may go to this connection now; applies the policy when not. */
  admit(conn: EndpointConnection): boolean {
    if (conn.bufferedAmount <= this.limit) return true;
    if (this.policy === "drop") {
      this.counters.dropped += 1;
    } else {
      this.counters.closedSlow += 1;
      conn.close(CloseCode.SlowConsumer, "slow consumer");
    }
    return false;
  }
}
