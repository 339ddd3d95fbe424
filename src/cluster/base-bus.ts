/**
 * What every bus implementation shares: the local subscriber registry, includeSelf delivery,
 * handler isolation, status listeners, counters and the closed state. An implementation only
 * says how a message leaves the node (`send`) and when a channel gains its first / loses its
 * last local subscriber.
 */
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { StateError } from "../errors.ts";
import { runHook } from "../hooks.ts";
import { limitDefault } from "../limits.ts";
import type { Logger } from "../log.ts";
import type {
  BusHandler, BusPayload, BusStats, BusStatus, ClusterBus, SubscribeOptions,
} from "./bus.ts";
import { checkChannel, checkNodeId, encodePayload, type EncodedPayload } from "./codec.ts";

export interface BaseBusOptions {
  nodeId?: string;
  logger: Logger;
  maxPayloadBytes?: number;
  maxChannelLength?: number;
}

interface Subscription {
  readonly fn: BusHandler;
  readonly includeSelf: boolean;
  active: boolean;
}

/** Readable and unique enough to tell the nodes of one cluster apart in logs and `nodes()`. */
export function defaultNodeId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
}

export abstract class BaseBus implements ClusterBus {
  readonly nodeId: string;
  readonly stats: BusStats = { published: 0, delivered: 0, dropped: 0, outages: 0 };
  /** The bus's child logger (component "cluster"); presence logs through it too. */
  readonly logger: Logger;
  protected get log(): Logger {
    return this.logger;
  }
  readonly #maxPayloadBytes: number;
  readonly #maxChannelLength: number;
  readonly #channels = new Map<string, Set<Subscription>>();
  readonly #statusListeners = new Set<(status: BusStatus) => void>();
  #closing: Promise<void> | undefined;

  constructor(options: BaseBusOptions) {
    this.nodeId = checkNodeId(options.nodeId ?? defaultNodeId());
    this.logger = options.logger;
    this.#maxPayloadBytes = options.maxPayloadBytes ?? limitDefault("busMaxPayloadBytes");
    this.#maxChannelLength = options.maxChannelLength ?? limitDefault("busMaxChannelLength");
  }

  abstract get status(): BusStatus;
  abstract ready(options?: { signal?: AbortSignal }): Promise<void>;
  abstract confirmed(channel?: string, options?: { signal?: AbortSignal }): Promise<void>;
  /** Send an accepted message to the other nodes. */
  protected abstract send(channel: string, payload: EncodedPayload): void;
  protected abstract channelAdded(channel: string): void;
  protected abstract channelRemoved(channel: string): void;
  protected abstract shutdown(): Promise<void>;

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  publish(channel: string, payload: BusPayload): void {
    this.#assertOpen("publish");
    checkChannel(channel, this.#maxChannelLength);
    const encoded = encodePayload(payload, this.#maxPayloadBytes);
    this.stats.published++;
    if (this.#hasSelfSubscriber(channel)) {
      // Local delivery is asynchronous too, so handlers never run inside publish().
      queueMicrotask(() => this.deliver(channel, this.nodeId, payload));
    }
    this.send(channel, encoded);
  }

  say(event: string, payload: BusPayload): void {
    this.publish(event, payload);
  }

  subscribe(channel: string, fn: BusHandler, options: SubscribeOptions = {}): () => void {
    this.#assertOpen("subscribe");
    checkChannel(channel, this.#maxChannelLength);
    if (typeof fn !== "function") throw new TypeError("subscribe(channel, fn): fn must be a function");
    const sub: Subscription = { fn, includeSelf: options.includeSelf === true, active: true };
    let subs = this.#channels.get(channel);
    if (subs === undefined) {
      subs = new Set();
      this.#channels.set(channel, subs);
      this.channelAdded(channel);
    }
    subs.add(sub);
    return () => this.#unsubscribe(channel, sub);
  }

  onStatus(fn: (status: BusStatus) => void): () => void {
    this.#statusListeners.add(fn);
    return () => this.#statusListeners.delete(fn);
  }

  close(): Promise<void> {
    if (this.#closing === undefined) {
      for (const subs of this.#channels.values()) for (const sub of subs) sub.active = false;
      this.#channels.clear();
      this.#statusListeners.clear();
      this.#closing = this.shutdown();
    }
    return this.#closing;
  }

  /** Channels with at least one local subscriber (what a Redis connection must be subscribed to). */
  protected channels(): string[] {
    return [...this.#channels.keys()];
  }

  protected hasChannel(channel: string): boolean {
    return this.#channels.has(channel);
  }

  /** Hand a message to the local handlers of `channel` (skipping non-includeSelf ones for our own). */
  protected deliver(channel: string, from: string, payload: BusPayload): void {
    const subs = this.#channels.get(channel);
    if (subs === undefined) return;
    const self = from === this.nodeId;
    const meta = { channel, from };
    // A snapshot: handlers may subscribe or unsubscribe while we iterate.
    for (const sub of [...subs]) {
      if (!sub.active || (self && !sub.includeSelf)) continue;
      this.stats.delivered++;
      this.#call(sub.fn, payload, meta);
    }
  }

  protected emitStatus(status: BusStatus): void {
    for (const fn of [...this.#statusListeners]) {
      runHook(fn, [status], (err) => this.log.error({ err }, "cluster status listener failed"));
    }
  }

  #call(fn: BusHandler, payload: BusPayload, meta: { channel: string; from: string }): void {
    runHook(fn, [payload, meta], (err) => this.log.error({ err, channel: meta.channel }, "cluster subscriber failed"));
  }

  #unsubscribe(channel: string, sub: Subscription): void {
    if (!sub.active) return;
    sub.active = false;
    const subs = this.#channels.get(channel);
    if (subs === undefined) return;
    subs.delete(sub);
    if (subs.size === 0) {
      this.#channels.delete(channel);
      if (!this.closed) this.channelRemoved(channel);
    }
  }

  #hasSelfSubscriber(channel: string): boolean {
    const subs = this.#channels.get(channel);
    if (subs === undefined) return false;
    for (const sub of subs) if (sub.includeSelf) return true;
    return false;
  }

  #assertOpen(what: string): void {
    if (this.closed) throw new StateError(`cluster bus ${this.nodeId} is closed: cannot ${what}`);
  }
}
