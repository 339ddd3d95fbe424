/** A ControlContext with two endpoints and a few connections, recording what commands did. */
import type { ClusterInfo, ControlContext, ConnectionInfo, EndpointInfo } from "../../src/control/context.ts";
import { ControlError } from "../../src/control/protocol.ts";
import type { ServiceState, ServiceStatus } from "../../src/runtime/supervisor.ts";
import { checkLogLevel as checkLevel } from "../../src/log.ts";

export class FakeContext implements ControlContext {
  readonly calls: string[] = [];
  level = "info";
  eps: { path: string; enabled: boolean; connections: number; rooms?: number; conns: string[] }[] = [
    { path: "/echo", enabled: true, connections: 2, conns: ["echo-1", "echo-2"] },
    { path: "/app", enabled: true, connections: 1, rooms: 3, conns: ["app-1"] },
  ];
  svc: ServiceStatus[] = [
    { name: "http", state: "running", critical: true, dependsOn: [], restarts: 0, since: 0 },
    { name: "ticker", state: "running", critical: false, dependsOn: ["http"], restarts: 2, since: 0, lastError: "boom" },
  ];
  /** Resolve to let a stop finish. */
  stopGate: Promise<void> = Promise.resolve();

  uptimeMs(): number { return 65_000; }
  nodeId(): string | undefined { return "node-a"; }
  async cluster(): Promise<ClusterInfo> {
    return {
      nodeId: "node-a", kind: "redis", status: "up", bus: { published: 5, delivered: 7, dropped: 0, outages: 1 },
      nodes: [{ nodeId: "node-a", connections: 3, lastSeen: 0 }, { nodeId: "node-b", connections: 4, lastSeen: 0 }],
    };
  }
  endpoints(): EndpointInfo[] { return this.eps.map(({ conns: _c, ...e }) => e); }
  #ep(path: string) {
    const ep = this.eps.find((e) => e.path === path);
    if (!ep) throw new ControlError("not_found", `no endpoint at "${path}"`);
    return ep;
  }
  setEndpointEnabled(path: string, enabled: boolean): void {
    this.#ep(path).enabled = enabled;
    this.calls.push(`${enabled ? "enable" : "disable"} ${path}`);
  }
  connections(path?: string): ConnectionInfo[] {
    const eps = path === undefined ? this.eps : [this.#ep(path)];
    return eps.flatMap((e) => e.conns.map((id) => ({ id, path: e.path, remoteAddress: "127.0.0.1" })));
  }
  kick(id: string, code: number, reason: string): void {
    if (!this.eps.some((e) => e.conns.includes(id))) throw new ControlError("not_found", `no connection "${id}"`);
    this.calls.push(`kick ${id} ${code} ${reason}`);
  }
  broadcast(path: string, message: string): number {
    const ep = this.#ep(path);
    this.calls.push(`broadcast ${path} ${message}`);
    return ep.conns.length;
  }
  services(): ServiceStatus[] { return this.svc; }
  async restartService(name: string): Promise<ServiceState> {
    this.calls.push(`restart ${name}`);
    return "running";
  }
  setLogLevel(level: string): string {
    this.level = checkLevel(level, "level");
    return this.level;
  }
  logLevel(): string {
    return this.level;
  }
  async stop(progress: (phase: string) => void): Promise<void> {
    progress("closing connections");
    await this.stopGate;
    progress("stopping services");
    this.calls.push("stop");
  }
}
