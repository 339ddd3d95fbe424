/**
 * What a workers primary (workers-primary.ts) answers to `status`: the single-process status
 * shape with the workers' endpoints summed, a row per worker, and the totals (the sums of the
 * rows that answered). `switchboard status` prints it as a table (cli/control-commands.ts).
 */
import type { StatusResult } from "../control/builtin-commands.ts";
import type { EndpointInfo } from "../control/context.ts";

export interface WorkerRow {
  readonly index: number;
  readonly pid: number | null;
  readonly state: "running" | "starting" | "restarting" | "down";
  readonly restarts: number;
  /** The worker's own status (pid, nodeId, endpoints, rooms, tasks, …); null when it did not answer. */
  readonly status: (StatusResult & { tasks: number }) | null;
  readonly error?: string;
}

/** `status` of a primary: the single-process shape (totals over the workers) plus the rows. */
export interface WorkersStatus extends StatusResult {
  readonly workers: WorkerRow[];
  readonly totals: { workers: number; connections: number; rooms: number; tasks: number };
}

/** The primary's status: the single-process shape with the workers' endpoints summed, the rows, and the totals. */
export function aggregateStatus(rows: WorkerRow[], started: number): WorkersStatus {
  const answered = rows.flatMap((r) => (r.status === null ? [] : [r.status]));
  const endpoints = new Map<string, EndpointInfo>();
  for (const e of answered.flatMap((s) => s.endpoints)) {
    const seen = endpoints.get(e.path);
    endpoints.set(e.path, seen === undefined ? { ...e } : {
      ...seen, connections: seen.connections + e.connections,
      ...(e.rooms === undefined && seen.rooms === undefined ? {} : { rooms: (seen.rooms ?? 0) + (e.rooms ?? 0) }),
    });
  }
  const totals = {
    workers: answered.length,
    connections: answered.reduce((n, s) => n + s.endpoints.reduce((m, e) => m + e.connections, 0), 0),
    // Each worker counts the rooms it has members in: a room spanning two workers counts twice.
    rooms: answered.reduce((n, s) => n + (s.rooms ?? 0), 0),
    tasks: answered.reduce((n, s) => n + s.tasks, 0),
  };
  const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
  const first = answered[0];
  return {
    pid: process.pid,
    nodeId: null,
    uptimeMs: Date.now() - started,
    memory: { rss, heapUsed, heapTotal, external },
    endpoints: [...endpoints.values()],
    rooms: answered.some((s) => s.rooms !== null) ? totals.rooms : null,
    roomList: null,
    services: [],
    // The nodes table of `switchboard status` lists the workers (each answered just now).
    cluster: {
      ...(first?.cluster ?? { kind: "ipc", status: "down", bus: { published: 0, delivered: 0, dropped: 0, outages: 0 } }),
      nodeId: "primary",
      nodes: answered.map((s) => ({ nodeId: s.nodeId ?? `pid ${s.pid}`, connections: s.endpoints.reduce((m, e) => m + e.connections, 0), lastSeen: Date.now() })),
    },
    workers: rows,
    totals,
  };
}
