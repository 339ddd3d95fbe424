/**
 * Cluster-wide presence: who is in which room on which node, and which nodes are alive with how
 * many connections. In Redis every node's entries carry an expiry that the node refreshes on a
 * heartbeat, so a crashed node's members vanish within presenceTtlMs (limits.ts).
 *
 * Each node keeps its own members in a local mirror (NodeRooms). It is the truth for this node:
 * Redis is rewritten from it after an outage, and it is what members() returns while Redis is
 * unreachable (only this node's members then; see docs/cluster.md).
 */
import { OptionError } from "../errors.ts";
import { limitDefault, readLimit } from "../limits.ts";

/** One connection in a room. Any extra fields must be JSON-serialisable. */
export interface PresenceMember {
  connId: string;
  user?: string;
  [field: string]: unknown;
}

/** A member as the cluster sees it: with the node that holds its connection. */
export interface PresenceEntry extends PresenceMember {
  node: string;
}

export interface NodeInfo {
  nodeId: string;
  connections: number;
  /** Epoch ms of its last heartbeat (now, for this node). */
  lastSeen: number;
}

export interface PresenceStore {
  readonly nodeId: string;
  join(room: string, member: PresenceMember): Promise<void>;
  leave(room: string, connId: string): Promise<void>;
  /** Remove a connection from every room (call it when the connection closes). */
  leaveAll(connId: string): Promise<void>;
  members(room: string): Promise<PresenceEntry[]>;
  nodes(): Promise<NodeInfo[]>;
  /** Stop heartbeats and remove this node's entries. */
  close(): Promise<void>;
}

export interface PresenceOptions {
  /** This node's connection count for nodes(); default: distinct connIds in its rooms. */
  countConnections?: () => number;
  heartbeatMs?: number;
  ttlMs?: number;
  maxRoomLength?: number;
}

export function presenceTiming(options: PresenceOptions): { heartbeatMs: number; ttlMs: number } {
  const heartbeatMs = readLimit("presenceHeartbeatMs", options.heartbeatMs);
  const ttlMs = readLimit("presenceTtlMs", options.ttlMs);
  if (ttlMs <= heartbeatMs) {
    throw new OptionError("presenceTtlMs", `must be above presenceHeartbeatMs (${heartbeatMs}), got ${ttlMs}`);
  }
  return { heartbeatMs, ttlMs };
}

export function checkRoom(room: unknown, maxLength = limitDefault("busMaxChannelLength")): string {
  if (typeof room !== "string" || room.length === 0 || room.length > maxLength) {
    throw new OptionError("room", `must be a non-empty string of at most ${maxLength} characters`);
  }
  return room;
}

/** Validate a member and serialise it once (what is stored, in memory or in Redis). */
export function encodeMember(member: unknown): { connId: string; json: string } {
  if (typeof member !== "object" || member === null || Array.isArray(member)) {
    throw new OptionError("member", "must be an object with a connId");
  }
  const { connId, user } = member as PresenceMember;
  if (typeof connId !== "string" || connId.length === 0) throw new OptionError("member.connId", "must be a non-empty string");
  if (user !== undefined && typeof user !== "string") throw new OptionError("member.user", "must be a string when given");
  let json: string;
  try {
    json = JSON.stringify(member);
  } catch (err) {
    throw new OptionError("member", `is not JSON-serialisable (${(err as Error).message})`);
  }
  return { connId, json };
}

export function decodeMember(json: string, node: string): PresenceEntry | undefined {
  try {
    const value = JSON.parse(json) as PresenceMember;
    return { ...value, node };
  } catch {
    return undefined; // written by something else under our prefix: not a member
  }
}

/** This node's rooms: room → connId → member JSON. */
export class NodeRooms {
  readonly rooms = new Map<string, Map<string, string>>();

  join(room: string, connId: string, json: string): void {
    let members = this.rooms.get(room);
    if (members === undefined) {
      members = new Map();
      this.rooms.set(room, members);
    }
    members.set(connId, json);
  }

  /** Returns whether the room is now empty on this node. */
  leave(room: string, connId: string): boolean {
    const members = this.rooms.get(room);
    if (members === undefined) return false;
    members.delete(connId);
    if (members.size > 0) return false;
    this.rooms.delete(room);
    return true;
  }

  /** The rooms the connection was in. */
  roomsOf(connId: string): string[] {
    const found: string[] = [];
    for (const [room, members] of this.rooms) if (members.has(connId)) found.push(room);
    return found;
  }

  entries(room: string, node: string): PresenceEntry[] {
    const members = this.rooms.get(room);
    if (members === undefined) return [];
    const out: PresenceEntry[] = [];
    for (const json of members.values()) {
      const entry = decodeMember(json, node);
      if (entry !== undefined) out.push(entry);
    }
    return out;
  }

  connectionCount(): number {
    const ids = new Set<string>();
    for (const members of this.rooms.values()) for (const id of members.keys()) ids.add(id);
    return ids.size;
  }
}
