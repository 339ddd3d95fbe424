/**
 * Presence without Redis. Each MemoryBusHub holds one MemoryPresenceState shared by the
 * MemoryPresence of each of its nodes, so in-process "nodes" see each other's members. Nothing
 * expires here: an in-process node cannot crash without the whole process; close() removes it.
 */
import { StateError } from "../errors.ts";
import {
  NodeRooms, checkRoom, encodeMember, presenceTiming, type NodeInfo, type PresenceEntry, type PresenceMember,
  type PresenceOptions, type PresenceStore,
} from "./presence.ts";

interface NodeEntry {
  readonly rooms: NodeRooms;
  readonly countConnections: () => number;
}

export class MemoryPresenceState {
  readonly nodes = new Map<string, NodeEntry>();
}

export class MemoryPresence implements PresenceStore {
  readonly nodeId: string;
  readonly #state: MemoryPresenceState;
  readonly #rooms = new NodeRooms();
  readonly #maxRoomLength: number | undefined;
  #closed = false;

  constructor(nodeId: string, state: MemoryPresenceState = new MemoryPresenceState(), options: PresenceOptions = {}) {
    presenceTiming(options); // checked here too, so a config error does not wait for Redis to show
    if (state.nodes.has(nodeId)) throw new StateError(`node "${nodeId}" already has a presence store in this hub`);
    this.nodeId = nodeId;
    this.#state = state;
    this.#maxRoomLength = options.maxRoomLength;
    const rooms = this.#rooms;
    state.nodes.set(nodeId, { rooms, countConnections: options.countConnections ?? (() => rooms.connectionCount()) });
  }

  async join(room: string, member: PresenceMember): Promise<void> {
    this.#assertOpen();
    checkRoom(room, this.#maxRoomLength);
    const { connId, json } = encodeMember(member);
    this.#rooms.join(room, connId, json);
  }

  async leave(room: string, connId: string): Promise<void> {
    this.#assertOpen();
    checkRoom(room, this.#maxRoomLength);
    this.#rooms.leave(room, connId);
  }

  async leaveAll(connId: string): Promise<void> {
    this.#assertOpen();
    for (const room of this.#rooms.roomsOf(connId)) this.#rooms.leave(room, connId);
  }

  async members(room: string): Promise<PresenceEntry[]> {
    this.#assertOpen();
    checkRoom(room, this.#maxRoomLength);
    const out: PresenceEntry[] = [];
    for (const [nodeId, entry] of this.#state.nodes) out.push(...entry.rooms.entries(room, nodeId));
    return out;
  }

  async nodes(): Promise<NodeInfo[]> {
    this.#assertOpen();
    const now = Date.now();
    return [...this.#state.nodes].map(([nodeId, entry]) => ({ nodeId, connections: entry.countConnections(), lastSeen: now }));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#state.nodes.get(this.nodeId)?.rooms === this.#rooms) this.#state.nodes.delete(this.nodeId);
  }

  #assertOpen(): void {
    if (this.#closed) throw new StateError(`presence store of node "${this.nodeId}" is closed`);
  }
}
