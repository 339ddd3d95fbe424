/**
 * `/readyz`: whether a load balancer should send this node traffic. Ready only while the
 * server is running, its cluster bus is connected and every supervised service (the
 * listeners, the cluster, the user's services) is running; otherwise 503 with the reasons.
 * `/healthz` stays the liveness answer (the process is up and answering).
 */
import type { ServiceStatus } from "../runtime/supervisor.ts";

export interface ReadinessSource {
  /** The server's state: "new", "starting", "running", "stopping" (draining) or "stopped". */
  state: string;
  cluster: { kind: "memory" | "redis" | "ipc"; status: "up" | "down" };
  services: readonly ServiceStatus[];
}

export interface Readiness {
  ready: boolean;
  state: string;
  /** Empty when ready; else one line per reason. */
  reasons: string[];
}

export function readiness(source: ReadinessSource): Readiness {
  const reasons: string[] = [];
  if (source.state !== "running") reasons.push(source.state === "stopping" ? "server is draining (stopping)" : `server is ${source.state}`);
  if (source.cluster.status !== "up") reasons.push(`cluster outage: the ${source.cluster.kind} bus is down`);
  for (const service of source.services) {
    if (service.state !== "running") reasons.push(`service ${service.name} is ${service.state}`);
  }
  return { ready: reasons.length === 0, state: source.state, reasons };
}
