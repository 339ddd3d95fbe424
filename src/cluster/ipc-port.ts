/**
 * The wire between a worker and its primary on one machine (issue 18: workers share rooms and
 * the bus without Redis, as socket.io's cluster adapter does over Node's IPC). A port carries
 * plain JSON-able messages in order; Node's `process.send` / `child.send` are one
 * implementation, an in-process pair (tests) another. Users of a port tag their messages
 * (`sb: "engine"`, `sb: "bus"`) so each ignores the others' and user code's traffic.
 */
import type { ChildProcess } from "node:child_process";
import type { Worker } from "node:cluster";

export interface IpcPort {
  /** Send in order; false when the other side is gone (the message is dropped). */
  send(message: object): boolean;
  /** Every message that arrives (ours and others': filter by tag). Returns an unsubscribe. */
  onMessage(handler: (message: unknown) => void): () => void;
  /** The other side is gone (disconnect / exit). */
  onClose(handler: () => void): () => void;
}

/** A worker's port to its primary (this process's IPC channel). */
export function processPort(proc: NodeJS.Process = process): IpcPort {
  return {
    send: (message) => {
      if (proc.send === undefined || !proc.connected) return false;
      proc.send(message);
      return true;
    },
    onMessage: (handler) => {
      proc.on("message", handler);
      return () => void proc.off("message", handler);
    },
    onClose: (handler) => {
      proc.on("disconnect", handler);
      return () => void proc.off("disconnect", handler);
    },
  };
}

/** The primary's port to one worker (a cluster Worker or a forked ChildProcess). */
export function childPort(child: Worker | ChildProcess): IpcPort {
  const proc: ChildProcess = "process" in child ? child.process : child;
  return {
    send: (message) => {
      if (!proc.connected) return false;
      // With a callback, a failed write (the child died after the check) is not an 'error'
      // event on the ChildProcess; the child's 'exit' (onClose) is what cleans up after it.
      proc.send(message, () => undefined);
      return true;
    },
    onMessage: (handler) => {
      proc.on("message", handler);
      return () => void proc.off("message", handler);
    },
    onClose: (handler) => {
      const once = (): void => handler();
      proc.once("disconnect", once);
      proc.once("exit", once);
      return () => {
        proc.off("disconnect", once);
        proc.off("exit", once);
      };
    },
  };
}

/**
 * Two connected ports in one process (tests, and workers as threads): messages are copied
 * (structuredClone: what survives is what Node's IPC would carry) and delivered in order, later.
 */
export function portPair(): [IpcPort, IpcPort] {
  const make = (): { port: IpcPort; deliver: (m: unknown) => void; close: () => void; peer?: { deliver: (m: unknown) => void } } => {
    const handlers = new Set<(message: unknown) => void>();
    const closers = new Set<() => void>();
    let closed = false;
    const side: { port: IpcPort; deliver: (m: unknown) => void; close: () => void; peer?: { deliver: (m: unknown) => void } } = {
      deliver: (message) => {
        if (closed) return;
        for (const handler of handlers) handler(message);
      },
      close: () => {
        if (closed) return;
        closed = true;
        for (const closer of closers) closer();
      },
      port: {
        send: (message) => {
          if (closed || side.peer === undefined) return false;
          const copy = structuredClone(message);
          const peer = side.peer;
          setImmediate(() => peer.deliver(copy));
          return true;
        },
        onMessage: (handler) => {
          handlers.add(handler);
          return () => void handlers.delete(handler);
        },
        onClose: (handler) => {
          closers.add(handler);
          return () => void closers.delete(handler);
        },
      },
    };
    return side;
  };
  const a = make();
  const b = make();
  a.peer = b;
  b.peer = a;
  // Closing one side (portPairClose) closes both, as a process exit does.
  const both = (): void => {
    a.close();
    b.close();
  };
  closers.set(a.port, both);
  closers.set(b.port, both);
  return [a.port, b.port];
}

const closers = new WeakMap<IpcPort, () => void>();

/** Cut an in-process pair (as if the worker died): both sides see onClose. */
export function closePortPair(port: IpcPort): void {
  closers.get(port)?.();
}
