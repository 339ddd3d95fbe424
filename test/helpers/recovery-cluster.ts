/**
 * Pieces of the multi-process recovery tests (test/integration/recovery-cluster.test.ts):
 * - NodeRouter + routedWebSocket: the bundled client has ONE url, so its WebSocket constructor
 *   is wrapped to connect to a live node instead (what a load balancer in front would do): a
 *   client keeps its node while that node is in the live set, else goes round-robin to one that is.
 * - Member: a bundled Client in one room that records every "said" push it delivers and every
 *   'unrecovered' event, in order.
 * - Publisher: a bounded, paced stream of publishes through the app's `publish` task, each with
 *   an idempotency key, resent (same key) after a lost connection or reply: nothing twice.
 * - checkStream: by offsets and payloads, a member got every push exactly once, in order.
 */
import { setTimeout as pause } from "node:timers/promises";
import { WebSocket } from "ws";
import { Client, CallError, type WebSocketConstructor } from "../../client/index.ts";
import { NodeProcess } from "./node-process.ts";

export const RECOVERY_NODE_SCRIPT = "test/fixtures/recovery-node.ts";

/** One recovery-node process (not waited for: `waitFor(e => e.ev === "started")`). */
export function startRecoveryNode(redisUrl: string, prefix: string, nodeId: string, historyMaxCount: number): NodeProcess {
  return new NodeProcess(RECOVERY_NODE_SCRIPT, {
    REDIS_URL: redisUrl,
    PREFIX: prefix,
    NODE_ID: nodeId,
    HEARTBEAT_MS: "100",
    TTL_MS: "1000",
    RECONNECT_MAX_MS: "200",
    HISTORY_MAX_COUNT: String(historyMaxCount),
    LOG_LEVEL: "info",
  });
}

/** Process start (tsx compiling) is the slow part on a busy machine: a generous bound. */
export const NODE_START_MS = 30_000;

export interface Said {
  from: string;
  n: number;
}

export const keyOf = (said: Said): string => `${said.from}#${said.n}`;

export function portOf(node: NodeProcess): number {
  return node.all("started")[0]!.port as number;
}

/** The ports clients may connect to; a node leaves the set BEFORE it is stopped or killed. */
export class NodeRouter {
  readonly #live: number[] = [];
  #next = 0;

  add(port: number): void {
    if (!this.#live.includes(port)) this.#live.push(port);
  }

  remove(port: number): void {
    const at = this.#live.indexOf(port);
    if (at >= 0) this.#live.splice(at, 1);
  }

  /** The url itself if its node is live, else the same url on the next live node. */
  route(url: string): string {
    const target = new URL(url);
    if (this.#live.length === 0 || this.#live.includes(Number(target.port))) return url;
    target.port = String(this.#live[this.#next++ % this.#live.length]);
    return target.toString();
  }
}

/** A `ws` WebSocket that asks the router where to connect, at every (re)connect. */
export function routedWebSocket(router: NodeRouter): WebSocketConstructor {
  return class RoutedWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(router.route(url), protocols);
    }
  } as unknown as WebSocketConstructor;
}

export interface UnrecoveredEvent {
  room: string;
  reason: string;
  /** How many pushes the member had delivered when it was told. */
  after: number;
}

export class Member {
  readonly client: Client<any, { said: Said }>;
  readonly got: Said[] = [];
  readonly unrecovered: UnrecoveredEvent[] = [];
  /** Date.now() of each 'reconnect'. */
  readonly reconnects: number[] = [];
  readonly #listeners = new Set<() => void>();

  constructor(url: string, router: NodeRouter) {
    this.client = new Client<any, { said: Said }>(url, {
      WebSocket: routedWebSocket(router),
      room: null,
      reconnect: { initialDelayMs: 20, maxDelayMs: 200, maxAttempts: 200 },
      callTimeoutMs: 10_000,
    });
    this.client.subscribe("said", (said) => {
      this.got.push(said);
      this.#changed();
    });
    this.client.on("unrecovered", ({ room, reason }) => {
      this.unrecovered.push({ room, reason, after: this.got.length });
      this.#changed();
    });
    this.client.on("reconnect", () => {
      this.reconnects.push(Date.now());
      this.#changed();
    });
  }

  /** For `when()`: called after every delivery, 'unrecovered' and 'reconnect'. */
  onChange = (fn: () => void): void => void this.#listeners.add(fn);

  #changed(): void {
    for (const fn of this.#listeners) fn();
  }
}

export interface PublisherOptions {
  /** Pushes to publish (the bound of the loop). */
  count: number;
  /** Pause between two publishes: the pace (50/s = 20 ms), not a wait for an outcome. */
  everyMs: number;
  /** Resends of one push (after a lost connection or reply) before the publisher fails. */
  maxAttempts?: number;
}

export class Publisher {
  /** keyOf(said) → the offset the room gave it. */
  readonly offsets = new Map<string, number>();
  readonly epochs = new Set<string>();
  /** Resends answered `duplicate: true`: the first publish had gone through, its reply was lost. */
  duplicates = 0;
  resends = 0;
  #stopped = false;
  readonly client: Client;

  constructor(url: string, router: NodeRouter, readonly from: string, readonly room: string) {
    this.client = new Client(url, {
      WebSocket: routedWebSocket(router),
      room: null,
      reconnect: { initialDelayMs: 20, maxDelayMs: 200, maxAttempts: 200 },
      callTimeoutMs: 5_000,
    });
  }

  /** The highest offset acknowledged so far. */
  get latest(): number {
    let max = 0;
    for (const offset of this.offsets.values()) max = Math.max(max, offset);
    return max;
  }

  /** Publishes { from, n: 1..count }, one after another at the pace; resolves when all are acknowledged. */
  async run(options: PublisherOptions): Promise<void> {
    for (let n = 1; n <= options.count && !this.#stopped; n++) {
      await this.#publish({ from: this.from, n }, options.maxAttempts ?? 100);
      await pause(options.everyMs);
    }
  }

  stop(): void {
    this.#stopped = true;
  }

  async #publish(said: Said, maxAttempts: number): Promise<void> {
    const key = keyOf(said);
    for (let attempt = 1; ; attempt++) {
      try {
        const result = (await this.client.call("publish", { room: this.room, ...said, key })) as { offset: number; epoch: string; duplicate: boolean };
        this.offsets.set(key, result.offset);
        this.epochs.add(result.epoch);
        if (result.duplicate) this.duplicates++;
        return;
      } catch (err) {
        // A lost connection or reply (the node died or is stopping), or an error reply while a
        // node goes: resend with the same key, so a publish that did go through is not repeated.
        if (attempt >= maxAttempts || (err instanceof CallError && err.code === "closed")) throw err;
        this.resends++;
      }
    }
  }
}

/**
 * What `member` delivered, as offsets (through the publishers' answers), must be exactly
 * 1..total: every push, once, in offset order. Returns a description of the first difference.
 */
export function streamProblem(member: Member, offsets: ReadonlyMap<string, number>, total: number): string | undefined {
  const seen = member.got.map((said) => offsets.get(keyOf(said)) ?? -1);
  for (let i = 0; i < Math.max(seen.length, total); i++) {
    if (seen[i] !== i + 1) {
      return `delivery #${i + 1} has offset ${seen[i]} (payload ${JSON.stringify(member.got[i])}), expected ${i + 1}; ${seen.length} delivered of ${total}; around: ${JSON.stringify(seen.slice(Math.max(0, i - 3), i + 4))}`;
    }
  }
  return undefined;
}

export function allOffsets(publishers: readonly Publisher[]): Map<string, number> {
  const all = new Map<string, number>();
  for (const publisher of publishers) for (const [key, offset] of publisher.offsets) all.set(key, offset);
  return all;
}
