/**
 * What control commands may see and do on a running server. The Server implements it through
 * an adapter (control/server-context.ts); unit tests use a fake. Keeping commands against this
 * small interface means they never reach into the server's internals.
 */
import type { ServiceState, ServiceStatus } from "../runtime/supervisor.ts";
import type { BusStats, BusStatus, NodeInfo } from "../cluster/index.ts";

/** The cluster as this node sees it (`switchboard status`). */
export interface ClusterInfo {
  readonly nodeId: string;
  /** "memory": a one-node cluster (no Redis configured). */
  readonly kind: "memory" | "redis" | "ipc";
  readonly status: BusStatus;
  readonly bus: BusStats;
  /** Every live node with its connection count (this one always; the others while Redis answers). */
  readonly nodes: NodeInfo[];
}

export interface EndpointInfo {
  readonly path: string;
  readonly enabled: boolean;
  readonly connections: number;
  /** Set by app endpoints only. */
  readonly rooms?: number;
}

export interface ConnectionInfo {
  readonly id: string;
  readonly path: string;
  readonly protocol?: string;
  readonly remoteAddress?: string;
  readonly bufferedAmount?: number;
}

/** One room of an app on this node (`switchboard status`). */
export interface RoomInfo {
  /** The app's path, e.g. "/app". */
  readonly app: string;
  readonly room: string;
  /** This node's members. */
  readonly members: number;
}

export interface RoomsInfo {
  /** Rooms with members on this node, over every app. */
  readonly total: number;
  /** The rooms with the most members first, at most the limit asked for. */
  readonly rooms: RoomInfo[];
}

/** What `push` did: the push's position in the room's stream and this node's recipients. */
export interface PushInfo {
  readonly app: string;
  readonly room: string;
  readonly task: string;
  readonly offset: number;
  readonly epoch: string;
  /** Members on every node when the push was published. */
  readonly members: number;
}

export interface ControlContext {
  /** ms since the server started. */
  uptimeMs(): number;
  /** The cluster node id, if the server is in a cluster. */
  nodeId(): string | undefined;
  /** The cluster: status, bus counters, live nodes read now. */
  cluster(): Promise<ClusterInfo>;
  endpoints(): EndpointInfo[];
  /** Throws ControlError "not_found" for an unknown path. */
  setEndpointEnabled(path: string, enabled: boolean): void;
  /** Every connection, or those of one endpoint (not_found for an unknown path). */
  connections(path?: string): ConnectionInfo[];
  /** Close one connection; not_found for an unknown id. */
  kick(id: string, code: number, reason: string): void;
  /** Send a text message to every connection of an endpoint; returns how many got it. */
  broadcast(path: string, message: string): number;
  services(): ServiceStatus[];
  restartService(name: string): Promise<ServiceState>;
  /** The rooms of the server's apps (absent: the server has no app layer to ask). */
  rooms?(limit: number): RoomsInfo;
  /**
   * Publish a protocol push to a room of an app (its stream: offsets, history and the cluster
   * apply). not_found for an unknown app, or a room with no members on any node.
   */
  push?(app: string, room: string, task: string, data: unknown): Promise<PushInfo>;
  /** Returns the level now in force (throws OptionError on an unknown level). */
  setLogLevel(level: string): string;
  /** The level in force. */
  logLevel(): string;
  /**
   * Start a graceful stop. Resolves once everything but the control socket has stopped (so the
   * reply can still be sent); `progress` hears each phase.
   */
  stop(progress: (phase: string) => void): Promise<void>;
}
