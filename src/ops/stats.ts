/**
 * The stats snapshot the dashboard polls (GET /api/stats): server-side aggregates of counters
 * that already exist (endpoint, router and push counters), so nothing is added to the
 * per-message path. Rates are the differences between two snapshots (the page computes them).
 */
import type { OpsHost } from "./actions.ts";
import type { ServiceStatus } from "../runtime/supervisor.ts";
import type { NodeInfo } from "../cluster/index.ts";
import type { EndpointStats } from "../endpoint/endpoint.ts";

/** The endpoint's own counters the page shows (EndpointStats is the one source of their meaning). */
export interface EndpointSnapshot extends Pick<EndpointStats, "path" | "enabled" | "connections" | "maxConnections" | "accepted" | "rejected"> {
  /** App endpoints only: rooms with members on this node, task calls answered, pushes written. */
  app?: { rooms: number; tasks: number; failed: number; pushes: number; dropped: number };
}

export interface StatsSnapshot {
  /** ms since the epoch when taken: the page divides counter differences by time differences. */
  at: number;
  uptimeSeconds: number;
  connections: number;
  pendingHandshakes: number;
  rooms: number;
  /** Totals since start: task calls answered (ok or failed), pushes written, connections accepted. */
  totals: { tasks: number; pushes: number; accepted: number };
  endpoints: EndpointSnapshot[];
  services: ServiceStatus[];
  cluster: { nodeId: string; kind: "memory" | "redis" | "ipc"; status: string; nodes: NodeInfo[] };
  memory: { rss: number; heapUsed: number };
  logLevel: string;
}

export function statsSnapshot(host: OpsHost): StatsSnapshot {
  const apps = new Map(host.apps().map((app) => [app.path, app]));
  const totals = { tasks: 0, pushes: 0, accepted: 0 };
  let connections = 0;
  let rooms = 0;
  const endpoints: EndpointSnapshot[] = [];
  for (const endpoint of host.endpoints.values()) {
    const s = endpoint.stats();
    connections += s.connections;
    totals.accepted += s.accepted;
    const item: EndpointSnapshot = { path: s.path, enabled: s.enabled, connections: s.connections, maxConnections: s.maxConnections, accepted: s.accepted, rejected: s.rejected };
    const app = apps.get(s.path);
    if (app !== undefined) {
      const a = app.stats();
      const failed = Object.values(a.failed).reduce((n, v) => n + v, 0);
      item.app = { rooms: a.rooms, tasks: a.ok + failed, failed, pushes: a.pushes.sent, dropped: a.pushes.dropped };
      totals.tasks += a.ok + failed;
      totals.pushes += a.pushes.sent;
      rooms += a.rooms;
    }
    endpoints.push(item);
  }
  const cluster = host.cluster.stats();
  const { rss, heapUsed } = process.memoryUsage();
  return {
    at: Date.now(),
    uptimeSeconds: Math.round(host.uptimeSeconds()),
    connections,
    pendingHandshakes: host.pendingHandshakes(),
    rooms,
    totals,
    endpoints,
    services: host.services.states(),
    cluster: { nodeId: cluster.nodeId, kind: cluster.kind, status: cluster.status, nodes: cluster.nodes },
    memory: { rss, heapUsed },
    logLevel: host.logLevel(),
  };
}
