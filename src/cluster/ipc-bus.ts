/**
 * The IPC bus: the cluster bus of the workers of one machine without Redis (issue 18). A
 * worker's IpcBus sends its publishes and subscriptions to the IpcBusHub in its primary, over
 * its IPC channel (ipc-port.ts); the hub forwards each message to the OTHER workers subscribed
 * to its channel, in the order the hub received it (so one publisher's messages keep their
 * order, as over Redis). Same semantics as every bus (test/conformance/cluster-bus.test.ts).
 *
 * Status: "up" while the channel to the primary is open; when it closes, "down" for good (the
 * worker is about to be stopped): publishes are dropped (counted), local includeSelf delivery
 * goes on.
 */
import { Buffer } from "node:buffer";
import { createLogger, type Logger } from "../log.ts";
import { StateError } from "../errors.ts";
import { limitDefault } from "../limits.ts";
import type { BusStatus } from "./bus.ts";
import { BaseBus } from "./base-bus.ts";
import { checkChannel, checkNodeId, decodeLocal, type EncodedPayload, type PayloadKind } from "./codec.ts";
import { processPort, type IpcPort } from "./ipc-port.ts";

const TAG = "bus";

/** A payload as it crosses IPC (JSON): bytes as base64. */
interface WirePayload {
  kind: PayloadKind;
  body: string;
}

type BusMessage =
  | { sb: typeof TAG; kind: "hello"; nodeId: string }
  | { sb: typeof TAG; kind: "sub"; channel: string; id: number }
  | { sb: typeof TAG; kind: "unsub"; channel: string }
  | { sb: typeof TAG; kind: "pub"; channel: string; payload: WirePayload }
  | { sb: typeof TAG; kind: "ack"; id: number }
  | { sb: typeof TAG; kind: "msg"; channel: string; from: string; payload: WirePayload };

function isBusMessage(message: unknown): message is BusMessage {
  return typeof message === "object" && message !== null && (message as { sb?: unknown }).sb === TAG;
}

function toWire(payload: EncodedPayload): WirePayload {
  return { kind: payload.kind, body: typeof payload.body === "string" ? payload.body : payload.body.toString("base64") };
}

function fromWire(payload: WirePayload): EncodedPayload | undefined {
  if (typeof payload !== "object" || payload === null || typeof payload.body !== "string") return undefined;
  if (payload.kind === "b") return { kind: "b", body: Buffer.from(payload.body, "base64") };
  if (payload.kind === "s" || payload.kind === "j") return { kind: payload.kind, body: payload.body };
  return undefined;
}

export interface IpcBusOptions {
  /** The channel to the primary's hub; default: this process's IPC channel (a cluster worker's). */
  port?: IpcPort;
  nodeId?: string;
  logger?: Logger;
  maxPayloadBytes?: number;
  maxChannelLength?: number;
}

export class IpcBus extends BaseBus {
  readonly #port: IpcPort;
  readonly #offs: Array<() => void>;
  #up = true;
  /** Subscriptions sent (ids in order) and the highest the hub has acknowledged. */
  #sent = 0;
  #acked = 0;
  /** Per channel: the id of its latest subscription (what confirmed(channel) waits for). */
  readonly #subIds = new Map<string, number>();
  readonly #waiters = new Set<() => void>();

  constructor(options: IpcBusOptions = {}) {
    super({ ...options, logger: createLogger(options.logger).child({ component: "cluster" }) });
    this.#port = options.port ?? processPort();
    this.#offs = [
      this.#port.onMessage((message) => this.#onMessage(message)),
      this.#port.onClose(() => this.#down()),
    ];
    if (!this.#port.send({ sb: TAG, kind: "hello", nodeId: this.nodeId })) this.#down();
  }

  get status(): BusStatus {
    return this.#up ? "up" : "down";
  }

  ready(options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.confirmed(undefined, options);
  }

  confirmed(channel?: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.closed) return Promise.reject(new StateError(`cluster bus ${this.nodeId} is closed`));
    const target = channel === undefined ? this.#sent : (this.#subIds.get(channel) ?? 0);
    if (this.#up && this.#acked >= target) return Promise.resolve();
    // Down for good, or acks due: wait (bounded by the caller's signal, as for Redis).
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        if (this.#up && this.#acked >= target) done(resolve);
      };
      const abort = (): void => done(() => reject(options.signal?.reason ?? new Error("aborted")));
      const done = (settle: () => void): void => {
        this.#waiters.delete(check);
        options.signal?.removeEventListener("abort", abort);
        settle();
      };
      if (options.signal?.aborted) return abort();
      options.signal?.addEventListener("abort", abort, { once: true });
      this.#waiters.add(check);
    });
  }

  protected send(channel: string, payload: EncodedPayload): void {
    if (!this.#up || !this.#port.send({ sb: TAG, kind: "pub", channel, payload: toWire(payload) })) this.stats.dropped++;
  }

  protected channelAdded(channel: string): void {
    const id = ++this.#sent;
    this.#subIds.set(channel, id);
    if (this.#up) this.#port.send({ sb: TAG, kind: "sub", channel, id });
  }

  protected channelRemoved(channel: string): void {
    this.#subIds.delete(channel);
    if (this.#up) this.#port.send({ sb: TAG, kind: "unsub", channel });
  }

  protected async shutdown(): Promise<void> {
    for (const off of this.#offs) off();
    this.#waiters.clear();
  }

  #onMessage(message: unknown): void {
    if (!isBusMessage(message) || this.closed) return;
    if (message.kind === "ack") {
      if (typeof message.id === "number" && message.id > this.#acked) this.#acked = message.id;
      for (const check of [...this.#waiters]) check();
      return;
    }
    if (message.kind !== "msg" || !this.hasChannel(message.channel)) return;
    const payload = fromWire(message.payload);
    if (payload === undefined) {
      this.log.warn({ channel: message.channel }, "ignored a malformed bus message from the primary");
      return;
    }
    this.deliver(message.channel, message.from, decodeLocal(payload));
  }

  #down(): void {
    if (!this.#up) return;
    this.#up = false;
    this.stats.outages++;
    this.log.warn("the primary's IPC channel closed: the bus is down (local delivery only)");
    this.emitStatus("down");
  }
}

export interface IpcBusHubOptions {
  logger: Logger;
  maxPayloadBytes?: number;
  maxChannelLength?: number;
}

/** The primary's side: forwards each worker's publishes to the other workers subscribed. */
export class IpcBusHub {
  readonly stats = { workers: 0, forwarded: 0, refused: 0 };
  readonly #log: Logger;
  readonly #maxPayloadBytes: number;
  readonly #maxChannelLength: number;
  readonly #workers = new Map<IpcPort, { nodeId: string; channels: Set<string>; off: Array<() => void> }>();
  /** channel → the workers subscribed to it. */
  readonly #channels = new Map<string, Set<IpcPort>>();

  constructor(options: IpcBusHubOptions) {
    this.#log = options.logger;
    this.#maxPayloadBytes = options.maxPayloadBytes ?? limitDefault("busMaxPayloadBytes");
    this.#maxChannelLength = options.maxChannelLength ?? limitDefault("busMaxChannelLength");
  }

  add(port: IpcPort): void {
    if (this.#workers.has(port)) return;
    const worker = { nodeId: "", channels: new Set<string>(), off: [] as Array<() => void> };
    this.#workers.set(port, worker);
    let warned = false;
    worker.off.push(
      port.onMessage((message) => {
        if (!isBusMessage(message)) return;
        try {
          this.#handle(port, worker, message);
        } catch (err) {
          this.stats.refused++;
          if (!warned) this.#log.warn({ err, worker: worker.nodeId }, "bus hub: ignored a malformed message (logged once per worker)");
          warned = true;
        }
      }),
      port.onClose(() => this.remove(port)),
    );
  }

  remove(port: IpcPort): void {
    const worker = this.#workers.get(port);
    if (worker === undefined) return;
    this.#workers.delete(port);
    for (const off of worker.off) off();
    for (const channel of worker.channels) this.#unsubscribe(channel, port);
    if (worker.nodeId !== "") this.stats.workers--;
  }

  #handle(port: IpcPort, worker: { nodeId: string; channels: Set<string> }, message: BusMessage): void {
    if (message.kind === "hello") {
      if (worker.nodeId !== "") throw new TypeError("hello sent twice");
      worker.nodeId = checkNodeId(message.nodeId);
      this.stats.workers++;
      return;
    }
    if (worker.nodeId === "") throw new TypeError(`"${String(message.kind)}" before hello`);
    switch (message.kind) {
      case "sub": {
        const channel = checkChannel(message.channel, this.#maxChannelLength);
        worker.channels.add(channel);
        let set = this.#channels.get(channel);
        if (set === undefined) this.#channels.set(channel, (set = new Set()));
        set.add(port);
        port.send({ sb: TAG, kind: "ack", id: message.id });
        return;
      }
      case "unsub": {
        const channel = checkChannel(message.channel, this.#maxChannelLength);
        worker.channels.delete(channel);
        this.#unsubscribe(channel, port);
        return;
      }
      case "pub": {
        const channel = checkChannel(message.channel, this.#maxChannelLength);
        const payload = message.payload;
        if (fromWire(payload) === undefined) throw new TypeError("pub: malformed payload");
        // base64 is 4/3 of the bytes: bound what may cross before forwarding it.
        if (payload.body.length > Math.ceil(this.#maxPayloadBytes * 4 / 3) + 4) throw new TypeError("pub: payload over busMaxPayloadBytes");
        const targets = this.#channels.get(channel);
        if (targets === undefined) return;
        const out: BusMessage = { sb: TAG, kind: "msg", channel, from: worker.nodeId, payload };
        for (const target of targets) {
          if (target === port) continue;
          this.stats.forwarded++;
          target.send(out);
        }
        return;
      }
      default:
        throw new TypeError(`unknown kind "${String((message as { kind?: unknown }).kind)}"`);
    }
  }

  #unsubscribe(channel: string, port: IpcPort): void {
    const set = this.#channels.get(channel);
    if (set?.delete(port) && set.size === 0) this.#channels.delete(channel);
  }
}
