/**
 * An endpoint: a path, its hooks and limits, and the registry of its live connections
 * (pydvbcss's WSServerBase). It decides upgrades, wires each accepted socket to the hooks,
 * and broadcasts. It sees the transport only through the TransportSocket seam.
 */
import type { Logger } from "../log.ts";
import { HandshakeRejection, toCloseCode, toHttpStatus } from "../errors.ts";
import type { EndpointOptions, ResolvedEndpointLimits } from "../options.ts";
import type { PrepareMessage, TransportSocket, TransportSocketEvents } from "../transport/socket.ts";
import { broadcastPrepared, type BroadcastOptions, type BroadcastResult } from "./broadcast.ts";
import { Connection, type SendPolicy, type SlowConsumerPolicy } from "./connection.ts";
import { chooseProtocol, type HandshakeDecision, type HandshakeRequest, type HandshakeResult } from "./handshake.ts";
import { asError, runHook } from "../hooks.ts";
import type { ConnectionIds } from "./ids.ts";

export interface EndpointStats {
  path: string;
  enabled: boolean;
  connections: number;
  maxConnections: number;
  accepted: number;
  rejected: number;
  /** Upgrades past the limits that hold a `maxConnections` slot and are not open yet (a hook running, the 101 being written). */
  reserved: number;
  /** Upgrades whose client went away while its async handshake hook ran (its slot was given back at once). */
  abandoned: number;
  /** Sends refused because the connection was a slow consumer. */
  slowConsumerDrops: number;
  slowConsumerCloses: number;
  /** Messages received and their payload bytes. */
  messagesIn: number;
  bytesIn: number;
  /** Messages written (replies, pushes, broadcast deliveries) and their payload bytes (text: UTF-16 units). */
  messagesOut: number;
  bytesOut: number;
  /** Connections that got an `endpoint.broadcast()` message. */
  broadcastDeliveries: number;
  /** Upgrades refused by this endpoint, by HTTP status (limits, subprotocol, the handshake hook). */
  refusedByStatus: Record<number, number>;
  /** Closed connections by close code (1005: none given, 1006: no close frame). */
  closesByCode: Record<number, number>;
}

export interface EndpointContext {
  readonly ids: ConnectionIds;
  readonly log: Logger;
  readonly prepare: PrepareMessage;
  /** True while the server is stopping: upgrades are refused with 503. */
  readonly stopping: () => boolean;
  /** Cached level checks (log.ts LevelFlags): debug logs connections and refusals, trace message sizes. */
  readonly levels: { readonly debug: boolean; readonly trace: boolean };
}

/** The decision for a client that left while its hook ran: a refusal, since no socket is left to answer. */
const CLIENT_GONE: HandshakeDecision = { ok: false, status: 400, reason: "client went away" };

export class Endpoint<D = Record<string, unknown>> {
  readonly path: string;
  /** Accept upgrades; while false they get 503 and open connections stay. */
  enabled: boolean;
  readonly maxConnections: number;
  readonly idPrefix: string;
  readonly limits: ResolvedEndpointLimits;
  readonly #options: EndpointOptions<D>;
  readonly #context: EndpointContext;
  readonly #log: Logger;
  readonly #connections = new Map<string, Connection<D>>();
  readonly #policy: SendPolicy;
  /** Shared by every connection: a hook that throws closes its connection with 1011. */
  // Typed with Connection<unknown>, not <D>: D in a parameter here would make Endpoint<D> invariant.
  readonly #onHookError = (err: Error, conn: Connection<unknown>): void => this.#hookError(conn as Connection<D>, err);
  readonly #socketEvents: TransportSocketEvents<Connection<unknown>>;
  /** When each connection opened, kept only while debug logging is on (the close line's durationMs). */
  readonly #openedAt = new WeakMap<Connection<unknown>, number>();
  /**
   * Upgrades past the limits whose sockets are not open yet: they count against maxConnections.
   * Each is given back exactly once, by the one outcome it has: a refusal (#settle), the
   * client leaving while an async hook runs (#settleLater), the socket opening (attach), or an
   * accepted decision whose socket went away before it opened (release, from the transport).
   */
  #reserved = 0;
  readonly #counters = { accepted: 0, rejected: 0, abandoned: 0, slowConsumerDrops: 0, slowConsumerCloses: 0, messagesIn: 0, bytesIn: 0, broadcastDeliveries: 0 };
  readonly #sent = { messagesOut: 0, bytesOut: 0 };
  // Keyed by status / close code: both are bounded ranges (100–599, 1000–4999), so are these tables.
  readonly #refusedByStatus: Record<number, number> = {};
  readonly #closesByCode: Record<number, number> = {};
  #closed?: { resolve: () => void; promise: Promise<void> };

  constructor(path: string, options: EndpointOptions<D>, limits: ResolvedEndpointLimits, maxConnections: number, idPrefix: string, context: EndpointContext) {
    this.path = path;
    this.#options = options;
    this.limits = limits;
    this.maxConnections = maxConnections;
    this.idPrefix = idPrefix;
    this.enabled = options.enabled ?? true;
    this.#context = context;
    this.#log = context.log.child({ endpoint: path });
    this.#policy = {
      maxBufferedBytes: limits.maxBufferedBytes,
      slowConsumer: limits.slowConsumer,
      onRefused: (conn, policy) => this.#countRefusal(conn, policy),
      sent: this.#sent,
      levels: context.levels,
      traceSend: (conn, bytes) => this.#log.trace({ conn: conn.id, bytes }, "message out"),
    };
    this.#socketEvents = this.#makeSocketEvents();
  }

  /** The live connections, by id. */
  get connections(): ReadonlyMap<string, Connection<D>> {
    return this.#connections;
  }

  /** Frame a message once, to send it to many connections with `conn.sendPrepared()`. */
  prepare(data: string | Buffer | Uint8Array, isBinary?: boolean) {
    return this.#context.prepare(data, isBinary);
  }

  /** Send one message to every connection (but `except`), framed once. */
  broadcast(data: string | Buffer | Uint8Array, options: BroadcastOptions<Connection<D>> & { isBinary?: boolean } = {}): BroadcastResult {
    const result = broadcastPrepared(this.#connections.values(), this.#context.prepare(data, options.isBinary), options);
    this.#counters.broadcastDeliveries += result.sent;
    return result;
  }

  stats(): EndpointStats {
    return {
      path: this.path, enabled: this.enabled, connections: this.#connections.size, maxConnections: this.maxConnections, reserved: this.#reserved,
      ...this.#counters, ...this.#sent, refusedByStatus: { ...this.#refusedByStatus }, closesByCode: { ...this.#closesByCode },
    };
  }

  /**
   * @internal Decide an upgrade: limits, enabled flag, subprotocol, then the user's hook.
   * Synchronous unless the hook returns a promise: most upgrades are decided in one call.
   */
  decide(req: HandshakeRequest): HandshakeDecision | Promise<HandshakeDecision> {
    const refusal = this.#refusal(req);
    if (refusal !== undefined) {
      this.#counters.rejected++;
      this.#refused(refusal);
      return refusal;
    }
    this.#reserved++;
    let decision: HandshakeDecision | Promise<HandshakeDecision>;
    try {
      decision = this.#runHandshakeHook(req);
    } catch (err) {
      decision = this.#hookFailure(err);
    }
    if (decision instanceof Promise) return this.#settleLater(req, decision);
    return this.#settle(decision);
  }

  /**
   * An async hook: its slot is given back as soon as the client has gone, not when the hook
   * settles (which may be much later); the decision is then a refusal nobody will read.
   */
  #settleLater(req: HandshakeRequest, pending: Promise<HandshakeDecision>): Promise<HandshakeDecision> {
    let gone = false;
    const stopWatching = req.onClientGone(() => {
      gone = true;
      this.#reserved--;
      this.#counters.abandoned++;
    });
    return pending.then(undefined, (err: unknown) => this.#hookFailure(err)).then((decision) => {
      stopWatching();
      return gone ? CLIENT_GONE : this.#settle(decision);
    });
  }

  #settle(decision: HandshakeDecision): HandshakeDecision {
    if (!decision.ok) {
      this.#reserved--;
      this.#counters.rejected++;
      this.#refused(decision);
    }
    return decision;
  }

  #refused(decision: HandshakeDecision): void {
    if (decision.ok) return;
    this.#refusedByStatus[decision.status] = (this.#refusedByStatus[decision.status] ?? 0) + 1;
    if (this.#context.levels.debug) this.#log.debug({ status: decision.status, reason: decision.reason }, "handshake refused");
  }

  /** @internal An accepted upgrade that did not become a socket (the client went away). */
  release(): void {
    this.#reserved--;
  }

  /** @internal Wire an upgraded socket to this endpoint's hooks. */
  attach(socket: TransportSocket, decision: HandshakeDecision & { ok: true }): Connection<D> {
    this.#reserved--;
    this.#counters.accepted++;
    const conn = new Connection<D>(this.#context.ids.next(this.idPrefix), this, decision.data as D, socket, this.#policy);
    this.#connections.set(conn.id, conn);
    if (this.#context.levels.debug) {
      this.#openedAt.set(conn, Date.now());
      this.#log.debug({ conn: conn.id, protocol: conn.protocol }, "connection open");
    }
    socket.listen(this.#socketEvents, conn as Connection<unknown>);
    runHook(this.#options.open, [conn], this.#onHookError, conn as Connection<unknown>);
    return conn;
  }

  /** The socket events of every connection of this endpoint (the connection comes first). */
  #makeSocketEvents(): TransportSocketEvents<Connection<unknown>> {
    const { message, close, error } = this.#options as EndpointOptions<unknown>;
    const counters = this.#counters;
    const levels = this.#context.levels;
    const onHookError = this.#onHookError;
    return {
      message: (conn, data, isBinary) => {
        conn.alive = true;
        counters.messagesIn++;
        counters.bytesIn += data.length;
        if (levels.trace) this.#log.trace({ conn: conn.id, bytes: data.length, binary: isBinary }, "message in");
        runHook(message, [conn, data, isBinary], onHookError, conn);
      },
      close: (conn, code, reason) => {
        this.#connections.delete(conn.id);
        this.#closesByCode[code] = (this.#closesByCode[code] ?? 0) + 1;
        if (levels.debug) {
          const openedAt = this.#openedAt.get(conn);
          const durationMs = openedAt === undefined ? undefined : Date.now() - openedAt;
          this.#log.debug({ conn: conn.id, code, reason, durationMs }, "connection closed");
        }
        runHook(close, [conn, code, reason], (err) => this.#log.error({ err, conn: conn.id }, "close hook threw"));
        if (this.#connections.size === 0) this.#closed?.resolve();
      },
      pong: (conn) => {
        conn.alive = true;
      },
      error: (conn, err) => {
        // ws reports protocol errors (bad UTF-8, oversize, bad frames) here, then closes with the RFC code.
        this.#log.debug({ err, conn: conn.id }, "connection error");
        runHook(error, [conn, err], (hookErr) => this.#log.error({ err: hookErr, conn: conn.id }, "error hook threw"));
      },
    };
  }

  /** @internal Close every connection and resolve when all are gone (or immediately if none). */
  closeAll(code: number, reason: string): Promise<void> {
    if (this.#connections.size === 0) return Promise.resolve();
    if (this.#closed === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#closed = { resolve, promise };
    }
    for (const conn of this.#connections.values()) conn.close(code, reason);
    return this.#closed.promise;
  }

  /** @internal Destroy every connection at once. */
  terminateAll(): void {
    for (const conn of this.#connections.values()) conn.terminate();
  }

  #refusal(req: HandshakeRequest): HandshakeDecision | undefined {
    if (this.#context.stopping()) return { ok: false, status: 503, reason: "server is stopping" };
    if (!this.enabled) return { ok: false, status: 503, reason: "endpoint disabled" };
    if (this.#connections.size + this.#reserved >= this.maxConnections) return { ok: false, status: 503, reason: "too many connections" };
    return undefined;
  }

  #runHandshakeHook(req: HandshakeRequest): HandshakeDecision | Promise<HandshakeDecision> {
    const options = this.#options;
    const chosen = chooseProtocol(options.protocols, req.protocols);
    if (chosen === undefined && options.protocolMismatch !== "accept") {
      return { ok: false, status: 400, reason: `no supported subprotocol (supported: ${options.protocols!.join(", ")})` };
    }
    const protocol = chosen ?? "";
    const base = options.defaultData ? options.defaultData() : ({} as D);
    if (options.handshake === undefined) return { ok: true, protocol, data: base };
    req.protocol = protocol; // the hook sees the endpoint's choice
    const result = options.handshake(req);
    return result instanceof Promise
      ? result.then((settled) => this.#applyHookResult(req, protocol, base, settled))
      : this.#applyHookResult(req, protocol, base, result);
  }

  #applyHookResult(req: HandshakeRequest, protocol: string, base: D, result: HandshakeResult<D>): HandshakeDecision {
    if (result === undefined || result === null) return { ok: true, protocol, data: base };
    if (result instanceof HandshakeRejection) return { ok: false, status: result.status, reason: result.reason };
    const finalProtocol = result.protocol ?? protocol;
    if (finalProtocol !== "" && !req.protocols.includes(finalProtocol)) {
      throw new Error(`handshake hook chose subprotocol ${JSON.stringify(finalProtocol)}, which the client did not offer`);
    }
    // Without defaultData there is nothing to merge over: the hook's object is kept as it is, not
    // copied into a second one that the connection would carry for its life.
    const data = result.data === undefined ? base
      : this.#options.defaultData !== undefined && typeof base === "object" && base !== null ? { ...base, ...result.data } : (result.data as D);
    return { ok: true, protocol: finalProtocol, data };
  }

  #hookFailure(err: unknown): HandshakeDecision {
    if (err instanceof HandshakeRejection) return { ok: false, status: toHttpStatus(err), reason: err.reason };
    this.#log.error({ err: asError(err) }, "handshake hook threw");
    return { ok: false, status: toHttpStatus(err), reason: "Internal Server Error" };
  }

  #hookError(conn: Connection<D>, err: Error): void {
    this.#log.error({ err, conn: conn.id }, "handler threw; closing its connection with 1011");
    runHook(this.#options.error, [conn, err], (hookErr) => this.#log.error({ err: hookErr, conn: conn.id }, "error hook threw"));
    if (conn.isOpen) conn.close(toCloseCode(err), "internal error");
  }

  #countRefusal(conn: Connection<unknown>, policy: SlowConsumerPolicy): void {
    if (policy === "close") {
      this.#counters.slowConsumerCloses++;
      this.#log.warn({ conn: conn.id, bufferedAmount: conn.bufferedAmount }, "slow consumer closed (4000)");
    } else {
      this.#counters.slowConsumerDrops++;
    }
  }
}
