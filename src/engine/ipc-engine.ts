/**
 * The IPC engine: a worker's room engine when several workers of one machine share rooms
 * without Redis (issue 18). The store is the primary's MemoryEngineHub (ipc-hub.ts); each
 * operation is one request over the worker's IPC channel, and the hub sends this worker the
 * pushes of the rooms it has members in. Same guarantees as every engine (one conformance
 * suite): offsets are assigned by the one hub, so they are ordered across the workers.
 *
 * Every request has a deadline (`ipcRequestTimeoutMs`); when the primary goes away, every
 * request waiting fails at once and later ones fail fast (the worker is about to be stopped).
 */
import { createLogger, type Logger } from "../log.ts";
import { StateError, UnavailableError } from "../errors.ts";
import { limitDefault } from "../limits.ts";
import { defaultNodeId } from "../cluster/base-bus.ts";
import type { EngineMember, PublishOptions, PublishResult, RoomMember } from "./engine.ts";
import type { RoomLog } from "./history.ts";
import { BaseEngine } from "./base-engine.ts";
import type { EngineOptions } from "./options.ts";
import { processPort, type IpcPort } from "../cluster/ipc-port.ts";
import { IPC_TAG, isEngineMessage, type EngineRequest } from "./ipc-messages.ts";

export const IPC_REQUEST_TIMEOUT_MS = limitDefault("ipcRequestTimeoutMs");

export interface IpcEngineOptions extends EngineOptions {
  /** The channel to the hub; default: this process's IPC channel (a cluster worker's). */
  port?: IpcPort;
  logger?: Logger;
  /** A request the hub has not answered in this time fails. */
  requestTimeoutMs?: number;
}

interface Waiting {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class IpcEngine extends BaseEngine {
  readonly #port: IpcPort;
  readonly #timeoutMs: number;
  /** Requests sent and not answered: bounded by the deadline of each. */
  readonly #waiting = new Map<number, Waiting>();
  readonly #offs: Array<() => void>;
  readonly #hello: Promise<unknown>;
  #nextId = 1;
  #gone = false;

  constructor(options: IpcEngineOptions = {}) {
    super(options.nodeId ?? defaultNodeId(), options, createLogger(options.logger).child({ component: "engine" }));
    this.#port = options.port ?? processPort();
    this.#timeoutMs = options.requestTimeoutMs ?? IPC_REQUEST_TIMEOUT_MS;
    this.#offs = [
      this.#port.onMessage((message) => this.#onMessage(message)),
      this.#port.onClose(() => this.#hubGone("the primary's IPC channel closed")),
    ];
    // Every later request follows the hello on the same ordered channel; a refused hello
    // (a node id already in use) fails them too.
    this.#hello = this.#request({ op: "hello", nodeId: this.nodeId });
    this.#hello.catch((err: unknown) => this.log.error({ err }, "the engine hub refused this worker"));
  }

  /** Resolves when the hub has taken this node (its id is unique); rejects if it refused. */
  ready(): Promise<void> {
    return this.#hello.then(() => undefined);
  }

  protected async subscribeRoom(room: string): Promise<void> {
    if (this.hasLocalRoom(room)) await this.#request({ op: "subscribe", room });
  }

  protected async unsubscribeRoom(room: string): Promise<void> {
    if (!this.hasLocalRoom(room)) await this.#request({ op: "unsubscribe", room });
  }

  protected async append(room: string, payload: string, options: PublishOptions): Promise<PublishResult> {
    return (await this.#request({
      op: "publish", room, payload, except: options.except, idempotencyKey: options.idempotencyKey,
      policy: this.options.history(room), windowMs: this.options.idempotencyWindowMs, maxKeys: this.options.idempotencyMaxKeys,
    })) as PublishResult;
  }

  protected async transmit(room: string, payload: string, except: string | undefined): Promise<void> {
    await this.#request({ op: "announce", room, payload, except });
  }

  protected async readLog(room: string): Promise<RoomLog> {
    return (await this.#request({ op: "read", room, policy: this.options.history(room) })) as RoomLog;
  }

  protected async addPresence(room: string, member: EngineMember): Promise<void> {
    await this.#request({ op: "add", room, id: member.id, data: member.data });
  }

  protected async removePresence(room: string, memberId: string): Promise<void> {
    await this.#request({ op: "remove", room, id: memberId });
  }

  async members(room: string): Promise<RoomMember[]> {
    this.assertOpen("members");
    return (await this.#request({ op: "members", room })) as RoomMember[];
  }

  protected async shutdown(): Promise<void> {
    // The hub forgets this node when its channel closes (the worker exits); a worker that
    // closes its engine and lives on is detached by the hub on the channel's close too.
    for (const off of this.#offs) off();
    this.#hubGone("the engine is closed");
  }

  #request(req: EngineRequest): Promise<unknown> {
    if (this.#gone) return Promise.reject(new UnavailableError("the engine hub (primary) is gone"));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new UnavailableError(`the engine hub did not answer "${req.op}" within ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      timer.unref();
      this.#waiting.set(id, { resolve, reject, timer });
      if (!this.#port.send({ sb: IPC_TAG, kind: "req", id, req })) {
        clearTimeout(timer);
        this.#waiting.delete(id);
        reject(new UnavailableError("the engine hub (primary) is gone"));
      }
    });
  }

  #onMessage(message: unknown): void {
    if (!isEngineMessage(message)) return; // someone else's message on the same channel
    if (message.kind === "push") {
      this.received(message.push);
      return;
    }
    if (message.kind !== "res") return;
    const waiting = this.#waiting.get(message.id);
    if (waiting === undefined) return; // answered after its deadline: already failed
    this.#waiting.delete(message.id);
    clearTimeout(waiting.timer);
    if (message.ok) waiting.resolve(message.value);
    else waiting.reject(remoteError(message.error));
  }

  #hubGone(why: string): void {
    if (this.#gone) return;
    this.#gone = true;
    for (const [id, waiting] of this.#waiting) {
      clearTimeout(waiting.timer);
      waiting.reject(new UnavailableError(why));
      this.#waiting.delete(id);
    }
  }
}

/** The hub's error, with its class name kept (OptionError, StateError, …) for the caller's checks. */
function remoteError(error: { name: string; message: string }): Error {
  const err = error.name === "StateError" ? new StateError(error.message) : new Error(error.message);
  err.name = error.name;
  return err;
}
