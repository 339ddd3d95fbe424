/**
 * What a workers primary (runtime/workers-primary.ts, under `serve --workers` and runWorkers())
 * and its workers (runtime/worker-control.ts, runtime/run-workers.ts) say to each other over the IPC channel, tagged `sb: "ctl"` so that the engine's and the bus's
 * traffic (`sb: "engine"`, `sb: "bus"`) and user code's process.send pass by untouched.
 *
 *   worker → primary  { sb: "ctl", kind: "ready", port, banner }   once, after it listens
 *   worker → primary  { sb: "ctl", kind: "failed", name, error }   its start threw (runWorkers); it exits next
 *   primary → worker  { sb: "ctl", kind: "printed" }               the banner is out: write the held log lines
 *   primary → worker  { sb: "ctl", kind: "stop" }                  stop gracefully (rather than SIGTERM: see workers-primary.ts)
 *   primary → worker  { sb: "ctl", kind: "req", id, op: "status" | "command", args }
 *   worker → primary  { sb: "ctl", kind: "res", id, ok, value | error }
 */
export const CTL_TAG = "ctl";

/** The environment marker that makes `switchboard serve` a worker (its slot, 0-based). */
export const WORKER_INDEX_ENV = "SWITCHBOARD_WORKER_INDEX";

/** "status": the worker's status row; "command": one control request, run by the worker's command table. */
export type WorkerOp = "status" | "command";

export type CtlMessage =
  | { sb: typeof CTL_TAG; kind: "ready"; port: number; banner: string[] }
  | { sb: typeof CTL_TAG; kind: "failed"; name: string; error: string }
  | { sb: typeof CTL_TAG; kind: "printed" }
  | { sb: typeof CTL_TAG; kind: "stop" }
  | { sb: typeof CTL_TAG; kind: "req"; id: number; op: WorkerOp; args: unknown[] }
  | { sb: typeof CTL_TAG; kind: "res"; id: number; ok: true; value: unknown }
  | { sb: typeof CTL_TAG; kind: "res"; id: number; ok: false; error: string };

export function isCtlMessage(message: unknown): message is CtlMessage {
  if (typeof message !== "object" || message === null) return false;
  const m = message as { sb?: unknown; kind?: unknown };
  return m.sb === CTL_TAG && (m.kind === "ready" || m.kind === "failed" || m.kind === "printed" || m.kind === "stop" || m.kind === "req" || m.kind === "res");
}

/** This process's worker slot when `switchboard serve` runs as a worker, else undefined. */
export function workerIndex(env: Record<string, string | undefined>): number | undefined {
  const text = env[WORKER_INDEX_ENV];
  if (text === undefined || !/^\d+$/.test(text) || process.send === undefined) return undefined;
  return Number(text);
}
