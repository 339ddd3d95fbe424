/**
 * The cluster bus: the one seam between a Switchboard node and the others. Zephserver's
 * `say(event, obj)` / `subscribe(event, fn)`, plus the unsubscribe it never had.
 *
 * Semantics shared by every implementation (test/conformance/cluster-bus.test.ts checks them):
 * - `publish(channel, payload)` reaches every subscriber of `channel` on every OTHER node, once.
 *   A node's own subscribers get it only if they subscribed with `{ includeSelf: true }`; that
 *   local delivery never goes over the network, so it keeps working while Redis is away.
 * - Messages from one publisher arrive in the order they were published. Delivery is always
 *   asynchronous (never inside the publish() call).
 * - Payloads: a string travels as is (no JSON quoting: the cheap path for pre-serialised
 *   frames), a Buffer as bytes, anything else as JSON. Receivers on other nodes get a copy;
 *   local includeSelf subscribers get the very value published: treat payloads as read-only.
 * - A handler that throws (or rejects) is logged; other handlers and the bus carry on.
 * - After close(), publish/subscribe throw StateError and no handler is called again.
 */
/**
 * The default prefix of every Redis channel and key: the one value the library, the config
 * file and the CLI share, so nodes started either way with defaults are one cluster.
 */
export const DEFAULT_PREFIX = "switchboard:";

/** What a bus carries: a JSON-serialisable value, a raw string, or bytes. */
export type BusPayload = unknown;

export interface BusMessageMeta {
  readonly channel: string;
  /** nodeId of the publisher. */
  readonly from: string;
}

export type BusHandler = (payload: BusPayload, meta: BusMessageMeta) => unknown;

export interface SubscribeOptions {
  /** Also receive what this node publishes (delivered locally, never through Redis). */
  includeSelf?: boolean;
}

/** "up": the cluster is reachable (always, for the in-memory bus); "down": only local delivery works. */
export type BusStatus = "up" | "down";

export interface BusStats {
  /** publish() calls accepted. */
  published: number;
  /** Messages handed to local handlers (one per handler call). */
  delivered: number;
  /** Publishes that could not reach the cluster (Redis away); local delivery still happened. */
  dropped: number;
  /** Outages seen since the bus was created. */
  outages: number;
}

export interface ClusterBus {
  readonly nodeId: string;
  readonly status: BusStatus;
  readonly stats: Readonly<BusStats>;
  /** Send to every subscriber of `channel` on the other nodes (and to local includeSelf ones). */
  publish(channel: string, payload: BusPayload): void;
  /** Zephserver's name for publish. */
  say(event: string, payload: BusPayload): void;
  /** Returns the unsubscribe function (idempotent). */
  subscribe(channel: string, fn: BusHandler, options?: SubscribeOptions): () => void;
  /**
   * Resolves when the cluster is reachable and every current subscription is confirmed. Waits
   * as long as Redis is away: pass a signal (AbortSignal.timeout) to bound it.
   */
  ready(options?: { signal?: AbortSignal }): Promise<void>;
  /**
   * Resolves when the cluster has confirmed this node's subscription to `channel` (or, without
   * a channel, every subscription change made so far). Sends nothing: it waits for the replies
   * already due, so it is the cheap fence after a subscribe. Waits through an outage like ready().
   */
  confirmed(channel?: string, options?: { signal?: AbortSignal }): Promise<void>;
  /** Called on every change of status; returns the function that removes the listener. */
  onStatus(fn: (status: BusStatus) => void): () => void;
  close(): Promise<void>;
}
