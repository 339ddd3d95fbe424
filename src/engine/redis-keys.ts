/**
 * Redis key and channel names of the engine. Every name of one room carries the same hash tag,
 * `{<length>:<room>}`: Redis Cluster then puts a room's keys and its sharded channel in one slot
 * (a Lua script may only touch one slot), and the length in front means the tag is never empty
 * and no room name can end it early in a way that differs between the room's keys.
 *
 *   P r{T}:meta     HASH   e = epoch, s = latest offset            PX metaTtlMs
 *   P r{T}:h        STREAM id "<offset>-0", d = payload, t = ms     MAXLEN maxCount, PX maxAgeMs
 *   P r{T}:i:<key>  STRING "<offset>:<epoch>" of the first publish PX idempotencyWindowMs
 *   P r{T}:m        HASH   "<node>\n<memberId>" → member data JSON  PX presenceTtlMs
 *   P r{T}          the room's (sharded) pub/sub channel
 *   P n:<node>      STRING liveness of a node                      PX presenceTtlMs
 */
export class RoomKeys {
  constructor(readonly prefix: string) {}

  channel(room: string): string {
    return `${this.prefix}r{${room.length}:${room}}`;
  }

  meta(room: string): string {
    return `${this.channel(room)}:meta`;
  }

  stream(room: string): string {
    return `${this.channel(room)}:h`;
  }

  idempotency(room: string, key: string): string {
    return `${this.channel(room)}:i:${key}`;
  }

  members(room: string): string {
    return `${this.channel(room)}:m`;
  }

  node(nodeId: string): string {
    return `${this.prefix}n:${nodeId}`;
  }
}
