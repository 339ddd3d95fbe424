/**
 * The Redis bus: Redis PUBLISH/SUBSCRIBE over two ioredis connections (a subscribing connection
 * cannot send anything else). The publishing one also carries presence commands.
 *
 * Outage policy (docs/cluster.md):
 * - A message published while Redis is unreachable is DROPPED and counted (`stats.dropped`), not
 *   queued. Cluster messages are live pushes; replaying a backlog of unknown age after an outage
 *   would hand clients stale events in a burst, and a bounded queue would still lose some,
 *   only less visibly. Presence, the state that must survive, is rewritten in full on reconnect.
 * - Local includeSelf delivery never touches Redis, so it goes on during an outage.
 * - The outage is logged once (warn) when it starts and once (info) when it ends; ioredis
 *   reconnects with exponential backoff (redisReconnectMaxMs) and we resubscribe every channel
 *   that has local subscribers. `status` / `onStatus` report "down" and "up".
 *
 * Subscriptions cost O(1) per channel: a channel's first local subscriber sends one SUBSCRIBE
 * naming that channel, its last one leaving one UNSUBSCRIBE. Their replies are kept per channel
 * (`#confirming`), so the fence a caller needs ("Redis has my subscription", `confirmed()`)
 * waits for those replies and sends nothing. Only a reconnect subscribes every channel again.
 *
 * ioredis is loaded here, when the first RedisBus is made (loadIoredis), so `import "switchboard"`
 * does not load it.
 */
import { Buffer } from "node:buffer";
import { createRequire } from "node:module";
import type { Redis, RedisOptions } from "ioredis";
import { createLogger, type Logger } from "../log.ts";
import { OptionError, StateError } from "../errors.ts";
import { limitDefault } from "../limits.ts";
import { DEFAULT_PREFIX, type BusStatus } from "./bus.ts";
import { BaseBus } from "./base-bus.ts";
import { fromWire, toWire, type EncodedPayload } from "./codec.ts";

export interface RedisBusOptions {
  /** redis://[user:password@]host:port[/db] */
  url: string;
  /** Put before every channel and key, so several applications can share one Redis. */
  prefix?: string;
  nodeId?: string;
  logger?: Logger;
  reconnectMaxMs?: number;
  maxPayloadBytes?: number;
  maxChannelLength?: number;
}

const RECONNECT_FIRST_MS = 50;

export class RedisBus extends BaseBus {
  readonly prefix: string;
  /** The publishing connection; presence uses it for its commands too. */
  readonly client: Redis;
  readonly #sub: Redis;
  /** Channels whose SUBSCRIBE / UNSUBSCRIBE Redis has not answered yet: true once it has, false if it failed. */
  readonly #confirming = new Map<string, Promise<boolean>>();
  readonly #where: string;
  readonly #prefixBytes: number;
  #subscribed = false;
  #status: BusStatus = "down";
  #outageLogged = false;
  #droppedAtOutage = 0;
  readonly #waiters = new Set<() => void>();

  constructor(options: RedisBusOptions) {
    const logger = createLogger(options.logger).child({ component: "cluster" });
    super({ ...options, logger });
    if (typeof options.url !== "string" || !/^rediss?:\/\//.test(options.url)) {
      throw new OptionError("cluster.redis", `must be a redis:// or rediss:// URL, got ${JSON.stringify(options.url)}`);
    }
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    if (typeof this.prefix !== "string") throw new OptionError("cluster.prefix", "must be a string");
    this.#prefixBytes = Buffer.byteLength(this.prefix);
    this.#where = redactUrl(options.url);
    const maxMs = options.reconnectMaxMs ?? limitDefault("redisReconnectMaxMs");
    const common: RedisOptions = {
      retryStrategy: (times) => backoff(times, maxMs),
      // Nothing is queued while disconnected and nothing is replayed after: see the policy above.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      // We resubscribe ourselves on "ready", from our own table of channels.
      autoResubscribe: false,
      maxRetriesPerRequest: 0,
      // ioredis arms a timer of this length when disconnecting a socket that is already closed
      // (Redis down): the 2 s default kept a stopping process alive for nothing.
      ...{ disconnectTimeout: 100 },
    };
    const Redis = loadIoredis();
    this.client = new Redis(options.url, { ...common, connectionName: `${this.nodeId}:pub` });
    this.#sub = new Redis(options.url, { ...common, connectionName: `${this.nodeId}:sub` });
    for (const [conn, name] of [[this.client, "pub"], [this.#sub, "sub"]] as const) {
      conn.on("error", (err: Error) => this.#connectionError(name, err));
      conn.on("close", () => this.#connectionLost(name));
    }
    this.client.on("ready", () => this.#refreshStatus());
    this.#sub.on("ready", () => this.#resubscribe());
    this.#sub.on("messageBuffer", (channel: Buffer, message: Buffer) => this.#receive(channel, message));
  }

  get status(): BusStatus {
    return this.#status;
  }

  /** Resolves once Redis is reachable and every current subscription is confirmed by Redis. */
  async ready(options: { signal?: AbortSignal } = {}): Promise<void> {
    for (;;) {
      await this.confirmed(undefined, options);
      try {
        await this.client.ping();
        return;
      } catch (err) {
        this.log.debug({ err }, "ready check failed; waiting for Redis again");
      }
      await this.#nextStatusChange(options.signal);
    }
  }

  /**
   * Resolves once Redis has answered the (un)subscribe of `channel` (of every channel, without
   * one) and the bus is up; sends nothing. Waits through an outage: bound it with a signal.
   */
  async confirmed(channel?: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    for (;;) {
      if (this.closed) throw new StateError(`cluster bus ${this.nodeId} is closed`);
      options.signal?.throwIfAborted();
      if (this.#status === "up") {
        const pending = channel === undefined ? [...this.#confirming.values()] : [this.#confirming.get(channel) ?? true];
        const answered = await untilAborted(Promise.all(pending), options.signal);
        // A failed (un)subscribe means the connection dropped: the resubscribe on "ready" redoes it.
        if (answered.every(Boolean) && this.#status === "up") return;
      }
      await this.#nextStatusChange(options.signal);
    }
  }

  protected send(channel: string, payload: EncodedPayload): void {
    if (this.client.status !== "ready") {
      this.stats.dropped++;
      return;
    }
    this.client.publish(this.prefix + channel, toWire(this.nodeId, payload)).then(undefined, (err: unknown) => {
      // The connection went away under this command: same as publishing during an outage.
      this.stats.dropped++;
      this.log.debug({ err, channel }, "publish lost");
    });
  }

  protected channelAdded(channel: string): void {
    if (this.#sub.status !== "ready") return; // #resubscribe() sends it on the next "ready"
    this.#track(channel, this.#sub.subscribe(this.prefix + channel), "subscribe failed; will be resent on reconnect");
  }

  protected channelRemoved(channel: string): void {
    if (this.#sub.status !== "ready") {
      this.#confirming.delete(channel);
      return; // a new connection starts with no subscriptions
    }
    this.#track(channel, this.#sub.unsubscribe(this.prefix + channel), "unsubscribe failed; the connection is gone anyway");
  }

  protected async shutdown(): Promise<void> {
    this.#setStatus("down", true);
    for (const wake of this.#waiters) wake();
    await Promise.all([closeConnection(this.client, this.log), closeConnection(this.#sub, this.log)]);
  }

  /** Keep a channel's (un)subscribe reply until it comes, for confirmed(); the latest one wins. */
  #track(channel: string, reply: Promise<unknown>, failure: string): void {
    const answered: Promise<boolean> = reply.then(() => true, (err: unknown) => {
      this.log.debug({ err, channel }, failure);
      return false;
    }).finally(() => {
      if (this.#confirming.get(channel) === answered) this.#confirming.delete(channel);
    });
    this.#confirming.set(channel, answered);
  }

  #receive(channel: Buffer, message: Buffer): void {
    if (this.closed) return;
    const frame = fromWire(message);
    if (frame instanceof Error) {
      this.log.warn({ err: frame, channel: channel.toString() }, "ignored a malformed cluster message");
      return;
    }
    // Our own messages come back from Redis: local includeSelf delivery already happened.
    if (frame.from === this.nodeId) return;
    this.deliver(channel.toString("utf8", this.#prefixBytes), frame.from, frame.payload);
  }

  /** After a (re)connect: the new connection has no subscriptions, so send every channel once. */
  async #resubscribe(): Promise<void> {
    const channels = this.channels();
    try {
      if (channels.length > 0) await this.#sub.subscribe(...channels.map((c) => this.prefix + c));
      this.#subscribed = true;
      this.#refreshStatus();
      if (channels.length > 0) this.log.debug({ channels: channels.length }, "resubscribed");
    } catch (err) {
      // The connection dropped again; the next "ready" retries.
      this.log.debug({ err }, "resubscribe failed");
    }
  }

  #connectionError(name: string, err: Error): void {
    if (this.closed) return;
    if (!this.#outageLogged) {
      this.#outageLogged = true;
      this.stats.outages++;
      this.#droppedAtOutage = this.stats.dropped;
      this.log.warn({ redis: this.#where, connection: name, err: err.message },
        "redis unreachable: cluster delivery paused, local clients still served; reconnecting with backoff");
    } else {
      this.log.debug({ connection: name, err: err.message }, "redis still unreachable");
    }
  }

  #connectionLost(name: string): void {
    if (name === "sub") this.#subscribed = false;
    if (this.closed) return;
    this.#refreshStatus();
  }

  #refreshStatus(): void {
    if (this.closed) return;
    const up = this.client.status === "ready" && this.#sub.status === "ready" && this.#subscribed;
    this.#setStatus(up ? "up" : "down");
  }

  #setStatus(status: BusStatus, quiet = false): void {
    if (status === this.#status) return;
    this.#status = status;
    if (!quiet) {
      if (status === "down" && !this.#outageLogged) {
        // A clean close by the server (no socket error first): still one line per outage.
        this.#connectionError("pub or sub", new Error("connection closed"));
      } else if (status === "up" && this.#outageLogged) {
        this.#outageLogged = false;
        this.log.info({ redis: this.#where, dropped: this.stats.dropped - this.#droppedAtOutage },
          "redis reachable again: resubscribed, cluster delivery resumed");
      } else if (status === "up") {
        this.log.info({ redis: this.#where, nodeId: this.nodeId }, "cluster bus connected to redis");
      }
      this.emitStatus(status);
    }
    for (const wake of [...this.#waiters]) wake();
  }

  #nextStatusChange(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        this.#waiters.delete(done);
        signal?.removeEventListener("abort", aborted);
        resolve();
      };
      const aborted = (): void => {
        this.#waiters.delete(done);
        reject(signal!.reason);
      };
      this.#waiters.add(done);
      signal?.addEventListener("abort", aborted, { once: true });
    });
  }
}

/**
 * ioredis, loaded on first use. It is CommonJS, so require() loads it synchronously: a bus is
 * made synchronously (createServer) and starts connecting at once, as before; nothing else in
 * Switchboard imports ioredis except as a type. Missing, it is a clear error naming the option.
 */
function loadIoredis(): typeof import("ioredis").Redis {
  try {
    return (createRequire(import.meta.url)("ioredis") as typeof import("ioredis")).Redis;
  } catch (err) {
    throw new OptionError("cluster.redis", `a Redis cluster needs the ioredis package (npm install ioredis): ${(err as Error).message}`);
  }
}

/** `promise`, or the signal's reason once it aborts (the promise itself is left to settle). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const aborted = (): void => reject(signal.reason);
    if (signal.aborted) return aborted();
    signal.addEventListener("abort", aborted, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", aborted));
  });
}

/** 50, 100, 200, … ms up to maxMs, with up to 20 % jitter below so nodes do not reconnect in step. */
export function backoff(attempt: number, maxMs: number): number {
  const delay = Math.min(RECONNECT_FIRST_MS * 2 ** Math.min(attempt - 1, 20), maxMs);
  return Math.max(1, Math.round(delay * (0.8 + Math.random() * 0.2)));
}

/** QUIT when the connection is up (replies flushed), else drop it; never rejects. */
export async function closeConnection(conn: Redis, log: Logger): Promise<void> {
  if (conn.status === "ready") {
    const quit = await conn.quit().then(() => true, (err: unknown) => {
      log.debug({ err }, "QUIT failed; disconnecting");
      return false;
    });
    if (quit) return;
  }
  conn.disconnect(false);
}

function redactUrl(url: string): string {
  if (!URL.canParse(url)) return "(unparsable redis url)";
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}
