/**
 * The primary's side of the IPC engine (ipc-engine.ts): one MemoryEngineHub for every worker
 * of the machine. Each worker's channel becomes a node of the hub; the hub answers its
 * requests and sends it the pushes of the rooms it subscribed to, in the hub's order (one
 * ordered channel per worker). A worker whose channel closes (it exited, was killed) is
 * detached at once: its members leave every room, so members() never shows the dead.
 *
 * The hub trusts no message: a request of the wrong shape is answered with an error and logged
 * once per worker (user code in a worker may use process.send too; messages without our tag
 * are not ours and are ignored).
 */
import type { Logger } from "../log.ts";
import { OptionError } from "../errors.ts";
import type { IncomingPush } from "./local-rooms.ts";
import { MemoryEngineHub, type HubNode } from "./memory-engine.ts";
import type { IpcPort } from "../cluster/ipc-port.ts";
import { IPC_TAG, isEngineMessage, type EngineMessage, type EngineRequest } from "./ipc-messages.ts";
import { checkPayload, checkRoomName, type HistoryPolicy } from "./options.ts";

export interface IpcHubOptions {
  logger: Logger;
  /** Longest room name and largest payload the hub accepts (the workers check them first). */
  maxRoomLength: number;
  maxPayloadBytes: number;
  /** Injected clock (tests). */
  now?: () => number;
}

export interface IpcHubStats {
  workers: number;
  requests: number;
  /** Pushes sent to workers (one per subscribed worker per push). */
  deliveries: number;
  /** Requests refused as malformed. */
  refused: number;
}

/** One worker as a node of the hub. */
class WorkerNode implements HubNode {
  nodeId = "";
  constructor(private readonly port: IpcPort, private readonly stats: IpcHubStats) {}

  receive(push: IncomingPush): void {
    this.stats.deliveries += 1;
    this.port.send({ sb: IPC_TAG, kind: "push", push });
  }
}

export class IpcEngineHub {
  readonly hub: MemoryEngineHub;
  readonly stats: IpcHubStats = { workers: 0, requests: 0, deliveries: 0, refused: 0 };
  readonly #options: IpcHubOptions;
  readonly #ports = new Map<IpcPort, { node: WorkerNode; off: Array<() => void> }>();

  constructor(options: IpcHubOptions) {
    this.#options = options;
    this.hub = new MemoryEngineHub(options.now);
  }

  /** Serve one worker's channel until it closes. */
  add(port: IpcPort): void {
    if (this.#ports.has(port)) return;
    const node = new WorkerNode(port, this.stats);
    let warned = false;
    const off = [
      port.onMessage((message) => {
        if (!isEngineMessage(message) || message.kind !== "req") return;
        this.stats.requests += 1;
        let reply: EngineMessage;
        try {
          reply = { sb: IPC_TAG, kind: "res", id: message.id, ok: true, value: this.#handle(node, message.req) };
        } catch (err) {
          const error = err instanceof Error ? err : new Error(String(err));
          if (!(err instanceof OptionError)) {
            this.stats.refused += 1;
            if (!warned) this.#options.logger.warn({ err, worker: node.nodeId }, "engine hub: refused a malformed request (logged once per worker)");
            warned = true;
          }
          reply = { sb: IPC_TAG, kind: "res", id: message.id, ok: false, error: { name: error.name, message: error.message } };
        }
        port.send(reply);
      }),
      port.onClose(() => this.remove(port)),
    ];
    this.#ports.set(port, { node, off });
  }

  /** The worker is gone: its members leave, its subscriptions end. */
  remove(port: IpcPort): void {
    const entry = this.#ports.get(port);
    if (entry === undefined) return;
    this.#ports.delete(port);
    for (const off of entry.off) off();
    if (entry.node.nodeId !== "") {
      this.hub.detach(entry.node);
      this.stats.workers -= 1;
    }
  }

  #handle(node: WorkerNode, req: EngineRequest): unknown {
    if (typeof req !== "object" || req === null) throw new TypeError("a request must be an object");
    if (req.op === "hello") {
      if (node.nodeId !== "") throw new TypeError("hello sent twice");
      if (typeof req.nodeId !== "string" || req.nodeId.length === 0 || req.nodeId.length > 256) throw new TypeError("hello: nodeId must be a string of 1-256 characters");
      node.nodeId = req.nodeId;
      try {
        this.hub.attach(node); // an OptionError for an id already in use
      } catch (err) {
        node.nodeId = "";
        throw err;
      }
      this.stats.workers += 1;
      return null;
    }
    if (node.nodeId === "") throw new TypeError(`"${String((req as { op?: unknown }).op)}" before hello`);
    const room = checkRoomName((req as { room?: unknown }).room, this.#options.maxRoomLength);
    switch (req.op) {
      case "subscribe":
        this.hub.subscribe(room, node);
        return null;
      case "unsubscribe":
        this.hub.unsubscribe(room, node);
        return null;
      case "publish":
        return this.hub.publish(room, checkPayload(req.payload, this.#options.maxPayloadBytes), {
          except: optionalString(req.except, "except"), idempotencyKey: optionalString(req.idempotencyKey, "idempotencyKey"),
        }, policy(req.policy), { windowMs: positive(req.windowMs, "windowMs"), maxKeys: positive(req.maxKeys, "maxKeys") });
      case "announce":
        this.hub.announce(room, checkPayload(req.payload, this.#options.maxPayloadBytes), optionalString(req.except, "except"));
        return null;
      case "read":
        return this.hub.read(room, policy(req.policy));
      case "add":
        if (typeof req.id !== "string" || req.id.length === 0) throw new TypeError("add: id must be a non-empty string");
        this.hub.addMember(room, req.data === undefined ? { id: req.id, node: node.nodeId } : { id: req.id, node: node.nodeId, data: req.data });
        return null;
      case "remove":
        if (typeof req.id !== "string") throw new TypeError("remove: id must be a string");
        this.hub.removeMember(room, node.nodeId, req.id);
        return null;
      case "members":
        return this.hub.members(room);
      default:
        throw new TypeError(`unknown op "${String((req as { op?: unknown }).op)}"`);
    }
  }
}

function optionalString(value: unknown, name: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw new TypeError(`${name} must be a string`);
  return value;
}

function positive(value: unknown, name: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) throw new TypeError(`${name} must be a positive integer`);
  return value;
}

function policy(value: unknown): HistoryPolicy {
  const p = value as HistoryPolicy | undefined;
  if (typeof p !== "object" || p === null || !Number.isInteger(p.maxCount) || p.maxCount < 0 || !Number.isInteger(p.maxAgeMs) || p.maxAgeMs < 1) {
    throw new TypeError("policy must be { maxCount >= 0, maxAgeMs >= 1 }");
  }
  return { maxCount: p.maxCount, maxAgeMs: p.maxAgeMs };
}
