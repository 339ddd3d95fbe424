/**
 * The in-memory bus: the default, needs nothing installed. Alone it is a one-node cluster
 * (only includeSelf subscribers ever hear anything). Several MemoryBus instances made from one
 * MemoryBusHub behave like the nodes of one cluster, with the same guarantees as the Redis bus:
 * receivers get a decoded copy, delivery is asynchronous, and one publisher's messages keep
 * their order (the hub delivers in one FIFO of microtasks).
 */
import { createLogger, type Logger } from "../log.ts";
import { OptionError, StateError } from "../errors.ts";
import type { BusStatus } from "./bus.ts";
import { BaseBus } from "./base-bus.ts";
import { decodeLocal, type EncodedPayload } from "./codec.ts";
import { MemoryPresenceState } from "./memory-presence.ts";

/** The "network" shared by the in-process nodes of one cluster. */
export class MemoryBusHub {
  readonly #nodes = new Map<string, MemoryBus>();
  /** Presence of every node of this hub (see MemoryPresence). */
  readonly presence = new MemoryPresenceState();

  attach(bus: MemoryBus): void {
    if (this.#nodes.has(bus.nodeId)) {
      throw new OptionError("nodeId", `"${bus.nodeId}" is already a node of this MemoryBusHub`);
    }
    this.#nodes.set(bus.nodeId, bus);
  }

  detach(bus: MemoryBus): void {
    if (this.#nodes.get(bus.nodeId) === bus) this.#nodes.delete(bus.nodeId);
  }

  nodeIds(): string[] {
    return [...this.#nodes.keys()];
  }

  send(from: MemoryBus, channel: string, payload: EncodedPayload): void {
    queueMicrotask(() => {
      for (const node of this.#nodes.values()) {
        if (node !== from) node.receive(channel, from.nodeId, payload);
      }
    });
  }
}

export interface MemoryBusOptions {
  /** Share one hub between buses to make a cluster of them; default: a private hub (one node). */
  hub?: MemoryBusHub;
  nodeId?: string;
  logger?: Logger;
  maxPayloadBytes?: number;
  maxChannelLength?: number;
}

export class MemoryBus extends BaseBus {
  readonly hub: MemoryBusHub;

  constructor(options: MemoryBusOptions = {}) {
    super({ ...options, logger: createLogger(options.logger).child({ component: "cluster" }) });
    this.hub = options.hub ?? new MemoryBusHub();
    this.hub.attach(this);
  }

  get status(): BusStatus {
    return "up";
  }

  async ready(): Promise<void> {
    if (this.closed) throw new StateError(`cluster bus ${this.nodeId} is closed`);
  }

  /** Every subscription is in force at once: the hub asks each node on delivery. */
  async confirmed(): Promise<void> {
    await this.ready();
  }

  /** Called by the hub: decode (a copy per node, as over a network) only if someone listens. */
  receive(channel: string, from: string, payload: EncodedPayload): void {
    if (this.closed || !this.hasChannel(channel)) return;
    this.deliver(channel, from, decodeLocal(payload));
  }

  protected send(channel: string, payload: EncodedPayload): void {
    this.hub.send(this, channel, payload);
  }

  protected channelAdded(): void {
    // Nothing to tell anyone: the hub asks each node on delivery.
  }

  protected channelRemoved(): void {
    // As above.
  }

  protected async shutdown(): Promise<void> {
    this.hub.detach(this);
  }
}
