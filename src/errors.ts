/**
 * The one place where Switchboard's errors are defined and mapped to what goes on the wire:
 * an HTTP status before the upgrade, a close code after it.
 */
import { CloseCode } from "./protocol/close-codes.ts";

/** Base class: every error Switchboard throws has a stable `code`. */
export class SwitchboardError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A bad option passed to createServer, endpoint(), … The message names the option. */
export class OptionError extends SwitchboardError {
  readonly option: string;
  constructor(option: string, message: string) {
    super("bad_option", `option "${option}": ${message}`);
    this.option = option;
  }
}

/** A WebSocket upgrade refused before any WebSocket exists: answered with an HTTP status. */
export class HandshakeRejection extends SwitchboardError {
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string) {
    super("handshake_rejected", `handshake rejected: ${status} ${reason}`);
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw new OptionError("status", `a rejection needs a 4xx or 5xx HTTP status, got ${status}`);
    }
    this.status = status;
    this.reason = reason;
  }
}

/** Build a handshake rejection; return it (or throw it) from a `handshake` hook. */
export function reject(status: number, reason: string): HandshakeRejection {
  return new HandshakeRejection(status, reason);
}

/** The server is in a state where the call is not allowed (start twice, endpoint after start, …). */
export class StateError extends SwitchboardError {
  constructor(message: string) {
    super("bad_state", message);
  }
}

/** A store the server depends on is away (the IPC engine's hub, its primary): the call failed, the caller may retry later. */
export class UnavailableError extends SwitchboardError {
  constructor(message: string) {
    super("unavailable", message);
  }
}

/** A worker's `start` failed: its own error's name and message, as the worker reported them over IPC. */
export class WorkerStartError extends SwitchboardError {
  readonly worker: number;
  readonly workerError: { readonly name: string; readonly message: string };
  constructor(worker: number, workerError: { name: string; message: string }) {
    super("worker_start_failed", `worker ${worker} failed to start: ${workerError.name}: ${workerError.message}`);
    this.worker = worker;
    this.workerError = workerError;
  }
}

/** HTTP status for an error raised while an upgrade is being decided. */
export function toHttpStatus(err: unknown): number {
  if (err instanceof HandshakeRejection) return err.status;
  return 500;
}

/** Close code for an error that ends an open connection: framing over its limit → 1009, anything else (a handler threw) → 1011. */
export function toCloseCode(err: unknown): number {
  return err instanceof FramingError ? CloseCode.MessageTooBig : CloseCode.InternalError;
}

/** TCP framing broke (a line or a length-prefixed frame over its limit). Closes the connection with 1009. */
export class FramingError extends SwitchboardError {
  constructor(code: "line_too_long" | "frame_too_big", message: string) {
    super(code, message);
  }
}

/** Throw from a UDP `handle` for a datagram that is not of the protocol: dropped and counted as malformed, not logged as a handler error. */
export class MalformedDatagram extends SwitchboardError {
  constructor(message: string) {
    super("malformed_datagram", message);
  }
}

/** One file of a handler directory and what is wrong with it. */
export interface LoadProblem {
  /** The file, relative to the handler directory. */
  readonly rel: string;
  readonly problem: string;
}

/** A handler directory that cannot be served: every bad file, each named, in one error. */
export class LoadError extends SwitchboardError {
  readonly dir: string;
  readonly problems: readonly LoadProblem[];
  constructor(dir: string, problems: readonly LoadProblem[]) {
    const lines = problems.map((p) => `  ${p.rel}: ${p.problem.replace(/\n/g, "\n    ")}`);
    super("load_failed", `cannot load handler directory ${dir}:\n${lines.join("\n")}`);
    this.dir = dir;
    this.problems = problems;
  }
}
