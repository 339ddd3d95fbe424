/**
 * UDP request/response: pydvbcss's UdpRequestServer on Node's event loop. Every datagram is
 * handed to `handle(message, from, peer)`; what it returns (or resolves to) is sent back to the
 * sender. Bad input never reaches user code unguarded and never stops the listener:
 * - a datagram over `maxDatagramBytes` is dropped before `handle` sees it (counted "oversize");
 * - while `maxPendingDatagrams` handlers are still running, new datagrams are dropped ("busy");
 * - `handle` throwing MalformedDatagram drops it quietly (counted "malformed");
 * - `handle` throwing anything else, or returning what is not a datagram, is logged and the
 *   datagram dropped (counted "handlerError");
 * - a reply that cannot be sent (refused by the kernel, not a datagram, the listener stopped) is
 *   logged and counted ("sendError"), also from a `reply.send()` whose promise nobody awaits;
 * - stop() waits `drainTimeoutMs` at most for running handlers; the ones still running are
 *   left behind (stats().abandoned) and their late replies are not sent.
 *
 * A UdpListener is a runtime service: start(signal) / stop().
 */
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { isIPv6 } from "node:net";
import { MalformedDatagram, OptionError, StateError } from "../errors.ts";
import { asError } from "../hooks.ts";
import { createLogger, type Logger, type LogOptions } from "../log.ts";
import { readLimit, readPort } from "../limits.ts";

export type Datagram = Buffer | Uint8Array | string;

export interface UdpPeer {
  readonly address: string;
  readonly port: number;
  readonly family: "IPv4" | "IPv6";
}

export interface UdpReplyContext {
  /**
   * Send a datagram to the sender now, before `handle` returns (e.g. a response that a
   * follow-up will come after). Resolves once the kernel has taken it.
   */
  send(data: Datagram): Promise<void>;
}

export type UdpHandle = (
  message: Buffer,
  from: UdpPeer,
  reply: UdpReplyContext,
) => Datagram | undefined | void | Promise<Datagram | undefined | void>;

export interface UdpOptions {
  port: number;
  /** Interface to bind. Default "127.0.0.1"; "0.0.0.0" or "::" to serve other machines. */
  host?: string;
  handle: UdpHandle;
  maxDatagramBytes?: number;
  /** Most `handle` calls running at once; datagrams beyond are dropped ("busy"). */
  maxPendingDatagrams?: number;
  /** How long stop() waits for running `handle` calls before it leaves them behind ("abandoned"). */
  drainTimeoutMs?: number;
  logger?: Logger | LogOptions;
}

export interface UdpDropped {
  oversize: number;
  busy: number;
  malformed: number;
  handlerError: number;
  sendError: number;
}

export interface UdpStats {
  readonly kind: "udp";
  readonly port: number;
  readonly received: number;
  readonly replied: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  readonly dropped: Readonly<UdpDropped>;
  /** `handle` calls still running when stop() gave up waiting for them (`drainTimeoutMs`, or the Server's deadline). */
  readonly abandoned: number;
}

export class UdpListener {
  readonly #options: UdpOptions;
  readonly #maxDatagramBytes: number;
  readonly #maxPending: number;
  readonly #drainTimeoutMs: number;
  readonly #log: Logger;
  readonly #counters = { received: 0, replied: 0, bytesIn: 0, bytesOut: 0, abandoned: 0 };
  readonly #dropped: UdpDropped = { oversize: 0, busy: 0, malformed: 0, handlerError: 0, sendError: 0 };
  #socket: Socket | undefined;
  #stopping: Promise<void> | undefined;
  #boundPort: number | undefined;
  #inFlight = 0;
  #idle: (() => void) | undefined;
  /** Ends stop()'s wait for running handlers early (terminate()). */
  #cutShort: (() => void) | undefined;
  /** Set once stop() stops waiting: handlers finishing later send nothing. */
  #closed = false;

  constructor(options: UdpOptions) {
    readPort(options.port);
    if (typeof options.handle !== "function") throw new OptionError("handle", "must be a function (message, from) => reply | undefined");
    this.#options = options;
    this.#maxDatagramBytes = readLimit("maxDatagramBytes", options.maxDatagramBytes);
    this.#maxPending = readLimit("maxPendingDatagrams", options.maxPendingDatagrams);
    this.#drainTimeoutMs = readLimit("drainTimeoutMs", options.drainTimeoutMs);
    this.#log = createLogger(options.logger).child({ component: "udp" });
  }

  /** The bound port (after start()); the configured one before. */
  get port(): number {
    return this.#boundPort ?? this.#options.port;
  }

  stats(): UdpStats {
    return { kind: "udp", port: this.port, ...this.#counters, dropped: { ...this.#dropped } };
  }

  async start(signal?: AbortSignal): Promise<void> {
    if (this.#socket !== undefined) throw new StateError("UdpListener already started");
    const host = this.#options.host ?? "127.0.0.1";
    const socket = createSocket(isIPv6(host) ? "udp6" : "udp4");
    this.#socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(this.#options.port, host, () => {
        socket.off("error", reject);
        this.#boundPort = socket.address().port;
        resolve();
      });
    });
    socket.on("error", (err) => this.#log.error({ err }, "udp socket error"));
    socket.on("message", (message, rinfo) => this.#onMessage(socket, message, rinfo));
    this.#log.info({ port: this.port }, "udp listening");
    if (signal?.aborted) await this.stop();
    else signal?.addEventListener("abort", () => void this.stop(), { once: true });
  }

  /**
   * Stop receiving; wait for handlers already running (their replies are still sent), at most
   * `drainTimeoutMs`; leave behind the ones still running; close the socket.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  /** The owner's stop deadline is here: stop waiting for running handlers now. Starts stop() if needed. */
  terminate(): Promise<void> {
    const stopping = this.stop();
    this.#cutShort?.();
    return stopping;
  }

  async #shutdown(): Promise<void> {
    const socket = this.#socket;
    if (socket === undefined) return;
    socket.removeAllListeners("message");
    if (this.#inFlight > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#idle = resolve;
        this.#cutShort = resolve;
        timer = setTimeout(resolve, this.#drainTimeoutMs);
      });
      clearTimeout(timer);
    }
    this.#closed = true;
    if (this.#inFlight > 0) {
      this.#counters.abandoned += this.#inFlight;
      this.#log.warn({ port: this.port, abandoned: this.#inFlight }, "udp stop: handlers still running left behind; their replies will not be sent");
    }
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    this.#log.info({ port: this.port }, "udp stopped");
  }

  #onMessage(socket: Socket, message: Buffer, rinfo: RemoteInfo): void {
    this.#counters.received += 1;
    this.#counters.bytesIn += message.length;
    if (message.length > this.#maxDatagramBytes) {
      this.#dropped.oversize += 1;
      return;
    }
    // Slow async handlers under a flood must not pile up without bound.
    if (this.#inFlight >= this.#maxPending) {
      this.#dropped.busy += 1;
      this.#log.debug({ from: rinfo.address, port: rinfo.port }, "udp busy: datagram dropped");
      return;
    }
    const from: UdpPeer = { address: rinfo.address, port: rinfo.port, family: rinfo.family === "IPv6" ? "IPv6" : "IPv4" };
    const reply: UdpReplyContext = { send: (data) => this.#replySend(socket, data, from) };
    this.#inFlight += 1;
    void this.#run(message, from, reply).finally(() => {
      this.#inFlight -= 1;
      if (this.#inFlight === 0) this.#idle?.();
    });
  }

  async #run(message: Buffer, from: UdpPeer, reply: UdpReplyContext): Promise<void> {
    let answer: Datagram | undefined | void;
    try {
      answer = await this.#options.handle(message, from, reply);
    } catch (err) {
      if (err instanceof MalformedDatagram) {
        this.#dropped.malformed += 1;
        this.#log.debug({ from, reason: err.message }, "malformed datagram dropped");
      } else {
        this.#dropped.handlerError += 1;
        this.#log.error({ err: asError(err), from }, "udp handler threw; datagram dropped");
      }
      return;
    }
    if (answer === undefined) return;
    if (!isDatagram(answer)) {
      this.#dropped.handlerError += 1;
      this.#log.error({ from, got: typeof answer }, "udp handler returned something that is not a datagram (Buffer, Uint8Array or string); dropped");
      return;
    }
    if (this.#closed) {
      this.#log.debug({ from }, "udp handler finished after stop gave up on it: reply not sent");
      return;
    }
    try {
      await this.#send(this.#socket!, answer, from);
    } catch (err) {
      // #send already counted it; the socket may be closing.
      this.#log.warn({ err: asError(err), from }, "udp reply not sent");
    }
  }

  /** reply.send() for user code: the same send, but a rejection nobody awaits is logged, never unhandled. */
  #replySend(socket: Socket, data: Datagram, to: UdpPeer): Promise<void> {
    const sent = this.#send(socket, data, to);
    sent.catch((err: unknown) => this.#log.warn({ err: asError(err), from: to }, "udp reply.send() failed"));
    return sent;
  }

  /** Send one datagram; every failure (bad data, stopped, kernel refusal) rejects and is counted once. */
  #send(socket: Socket, data: Datagram, to: UdpPeer): Promise<void> {
    if (!isDatagram(data)) {
      this.#dropped.sendError += 1;
      return Promise.reject(new TypeError(`a UDP reply must be a Buffer, Uint8Array or string, got ${typeof data}`));
    }
    if (this.#closed) {
      this.#dropped.sendError += 1;
      return Promise.reject(new StateError("the UDP listener has stopped"));
    }
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    return new Promise((resolve, reject) => {
      const failed = (err: Error): void => {
        this.#dropped.sendError += 1;
        reject(err);
      };
      try {
        socket.send(bytes, to.port, to.address, (err) => {
          if (err) {
            failed(err);
            return;
          }
          this.#counters.replied += 1;
          this.#counters.bytesOut += bytes.byteLength;
          resolve();
        });
      } catch (err) {
        failed(asError(err)); // thrown at once (e.g. the socket is already closed): counted the same way
      }
    });
  }
}

function isDatagram(value: unknown): value is Datagram {
  return typeof value === "string" || value instanceof Uint8Array;
}
