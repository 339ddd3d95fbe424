/**
 * The worker's side of a workers primary (runtime/workers-primary.ts, under `serve --workers`
 * and runWorkers()): tell the primary once the server listens (its port and banner), answer
 * its `status` requests and the control commands it forwards, and stop gracefully when the IPC channel to the primary goes away (the
 * primary died): a worker never outlives its primary as an orphan holding the port.
 */
import type { Server } from "../server.ts";
import type { App } from "../app/app.ts";
import { status, DEFAULT_STATUS_ROOMS, MAX_STATUS_ROOMS } from "../control/builtin-commands.ts";
import { serverContext } from "../control/server-context.ts";
import type { ShutdownHandle, ShutdownSignal, SignalSource } from "./shutdown.ts";
import { CTL_TAG, isCtlMessage, type CtlMessage } from "./worker-messages.ts";
import type { Dispatch } from "../control/protocol.ts";

export interface WorkerControlOptions {
  server: Server;
  shutdown: ShutdownHandle;
  banner: string[];
  apps?: () => ReadonlyMap<string, App>;
  /** The worker's control commands (its command table's dispatcher): what the primary forwards (`op: "command"`). */
  dispatch?: Dispatch;
  /** Write the held start-up log lines: called when the primary has printed the banner (so it comes first), or has gone. */
  releaseLogs?: () => void;
  /** Injected for tests: this process by default. */
  proc?: NodeJS.Process;
}

/** A worker's status row: the single-process status plus its in-flight task count. */
export async function workerStatus(options: WorkerControlOptions, maxRooms: number): Promise<unknown> {
  const { server, shutdown } = options;
  const ctx = serverContext(server, {
    stop: async () => void (await shutdown.trigger("primary asked")),
    ...(options.apps ? { apps: options.apps } : {}),
  });
  return { ...(await status(ctx, maxRooms)), tasks: server.work.size };
}

const statusRooms = (arg: unknown): number => (typeof arg === "number" ? Math.min(MAX_STATUS_ROOMS, Math.max(0, arg)) : DEFAULT_STATUS_ROOMS);

export function startWorkerControl(options: WorkerControlOptions): () => void {
  const proc = options.proc ?? process;
  const send = (message: CtlMessage): void => {
    if (proc.send !== undefined && proc.connected) proc.send(message, undefined, undefined, (err: Error | null) => {
      // The channel closed under us: the 'disconnect' handler below stops the worker.
      if (err !== null) options.server.log.debug({ err }, "worker: reply to the primary not sent");
    });
  };
  const onMessage = (message: unknown): void => {
    if (!isCtlMessage(message)) return;
    if (message.kind === "printed") {
      options.releaseLogs?.();
      return;
    }
    if (message.kind === "stop") {
      // Same path as SIGTERM; a stop already under way (Ctrl+C reached this worker too) just goes on.
      void options.shutdown.trigger("primary asked");
      return;
    }
    if (message.kind !== "req") return;
    answer(message.id, message.op === "command" ? runCommand(message.args) : workerStatus(options, statusRooms(message.args[0])));
  };
  const answer = (id: number, value: Promise<unknown>): void => {
    value.then(
      (result) => send({ sb: CTL_TAG, kind: "res", id, ok: true, value: result }),
      (err: unknown) => send({ sb: CTL_TAG, kind: "res", id, ok: false, error: String((err as Error)?.message ?? err) }),
    );
  };
  /** A forwarded control request: [command, ...args], answered with the ControlReply (progress lines are the primary's to write). */
  const runCommand = async (args: unknown[]): Promise<unknown> => {
    if (options.dispatch === undefined) throw new Error("this worker runs no control commands");
    const [command, ...rest] = args;
    return options.dispatch({ id: null, command: String(command), args: rest }, { progress: () => undefined });
  };
  const onDisconnect = (): void => {
    options.releaseLogs?.();
    options.server.log.warn("worker: the primary is gone; stopping");
    void options.shutdown.trigger("primary gone");
  };
  proc.on("message", onMessage);
  proc.once("disconnect", onDisconnect);
  send({ sb: CTL_TAG, kind: "ready", port: options.server.port, banner: options.banner });
  return () => {
    proc.off("message", onMessage);
    proc.off("disconnect", onDisconnect);
  };
}

/**
 * The signals a worker's graceful stop listens to: SIGTERM only. Ctrl+C sends SIGINT to the
 * whole process group, and the primary, which gets it too, asks every worker to stop; a worker
 * acting on SIGINT as well would take whichever came second as the "second signal" and exit at
 * once, cutting its tasks off. SIGINT is still caught (and ignored), so it does not kill the
 * worker by Node's default either. Pass it as installShutdown's / runStandalone's `process`.
 */
export function workerSignalSource(proc: NodeJS.Process = process): SignalSource {
  const ignored = new Map<() => void, () => void>();
  return {
    on(signal: ShutdownSignal, listener: () => void) {
      if (signal !== "SIGINT") return proc.on(signal, listener);
      const ignore = (): void => undefined;
      ignored.set(listener, ignore);
      return proc.on(signal, ignore);
    },
    off(signal: ShutdownSignal, listener: () => void) {
      if (signal !== "SIGINT") return proc.off(signal, listener);
      const ignore = ignored.get(listener);
      ignored.delete(listener);
      return ignore === undefined ? proc : proc.off(signal, ignore);
    },
  };
}
