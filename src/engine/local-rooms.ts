/**
 * This node's members of each room, and the live/replay handover of the ones still joining.
 *
 * A joining member is "pending": live pushes for it go to its own buffer (bounded), not to the
 * delivery handler. Its join reads the history only after the room's subscription is in force,
 * so every push is either in that read or arrives live (or both: the overlap is dropped by
 * offset). resume() hands over: buffered pushes above the replay's last offset are delivered,
 * then the member gets live pushes like the others. No gap, no duplicate, one order.
 *
 * After resume() a member keeps a "floor" (the last offset it was handed) until the first live
 * push above it: the history read and the live pushes come over different connections, so a
 * push already in the replay may still arrive live after the handover, and must be skipped.
 */
import type { EngineMember, Push } from "./engine.ts";

/** A push as it arrives from the store, with the member it must skip. */
export interface IncomingPush extends Push {
  readonly except?: string | undefined;
}

interface Pending {
  readonly buffer: IncomingPush[];
  /** Set when the buffer overflowed: the handover cannot be exact any more. */
  lost: boolean;
}

interface LocalMember {
  readonly member: EngineMember;
  pending: Pending | undefined;
  /** Live pushes at or below this position were in the member's replay. */
  floor: { offset: number; epoch: string } | undefined;
}

class LocalRoom {
  readonly members = new Map<string, LocalMember>();
  /** The live members as an array, rebuilt only after a change (the delivery path reuses it). */
  #live: EngineMember[] | undefined;
  #pendingCount = 0;
  /** Members with a floor: while there are any, deliveries are filtered per member. */
  floors = 0;

  get pendingCount(): number {
    return this.#pendingCount;
  }

  changed(pendingDelta: number): void {
    this.#live = undefined;
    this.#pendingCount += pendingDelta;
  }

  live(): EngineMember[] {
    if (this.#live === undefined) {
      this.#live = [];
      for (const entry of this.members.values()) if (entry.pending === undefined) this.#live.push(entry.member);
    }
    return this.#live;
  }
}

export type Deliver = (push: Push, recipients: readonly EngineMember[]) => void;

export class LocalRooms {
  readonly #rooms = new Map<string, LocalRoom>();

  constructor(private readonly deliver: Deliver, private readonly handoverMaxPushes: number) {}

  /** Adds (or replaces) a member, pending its handover. Returns true if it is the room's first. */
  addPending(room: string, member: EngineMember): boolean {
    let entry = this.#rooms.get(room);
    const first = entry === undefined;
    if (entry === undefined) this.#rooms.set(room, (entry = new LocalRoom()));
    const old = entry.members.get(member.id);
    entry.members.set(member.id, { member, pending: { buffer: [], lost: false }, floor: undefined });
    if (old?.floor !== undefined) entry.floors--;
    entry.changed(old?.pending === undefined ? 1 : 0);
    return first;
  }

  /** Removes a member. Returns true if the room has no local member left. */
  remove(room: string, memberId: string): boolean {
    const entry = this.#rooms.get(room);
    if (entry === undefined) return false;
    const old = entry.members.get(memberId);
    if (old === undefined) return false;
    entry.members.delete(memberId);
    if (old.floor !== undefined) entry.floors--;
    entry.changed(old.pending === undefined ? 0 : -1);
    if (entry.members.size > 0) return false;
    this.#rooms.delete(room);
    return true;
  }

  has(room: string): boolean {
    return this.#rooms.has(room);
  }

  isPending(room: string, member: EngineMember): boolean {
    const entry = this.#rooms.get(room)?.members.get(member.id);
    return entry !== undefined && entry.member === member && entry.pending !== undefined;
  }

  /**
   * Ends a member's handover: delivers its buffered pushes above `afterOffset` (same epoch) and
   * makes it live. Returns false if pushes were lost (overflow, epoch change, member gone).
   */
  resume(room: string, member: EngineMember, after: { offset: number; epoch: string }): boolean {
    const entry = this.#rooms.get(room);
    const local = entry?.members.get(member.id);
    if (entry === undefined || local === undefined || local.member !== member) return false;
    const pending = local.pending;
    if (pending === undefined) return true; // resumed already
    local.pending = undefined;
    entry.changed(-1);
    let exact = !pending.lost;
    let next = after.offset + 1;
    for (const push of pending.buffer) {
      if (push.epoch !== after.epoch) {
        exact = false; // the store lost its history meanwhile
        continue;
      }
      if (push.offset < next) continue; // already in the replay
      if (push.offset !== next) exact = false;
      next = push.offset + 1;
      if (push.except !== member.id) this.deliver(strip(push), [member]);
    }
    local.floor = { offset: next - 1, epoch: after.epoch };
    entry.floors++;
    return exact;
  }

  /** A push from the store: to the live members (minus `except`), into the pending buffers. */
  receive(push: IncomingPush): void {
    const entry = this.#rooms.get(push.room);
    if (entry === undefined) return;
    if (entry.pendingCount > 0) {
      for (const local of entry.members.values()) {
        const pending = local.pending;
        if (pending === undefined || pending.lost) continue;
        if (pending.buffer.length >= this.handoverMaxPushes) {
          pending.lost = true;
          pending.buffer.length = 0;
        } else {
          pending.buffer.push(push);
        }
      }
    }
    const live = entry.floors > 0 ? this.#passFloors(entry, push) : entry.live();
    if (live.length === 0) return;
    const except = push.except;
    const recipients = except === undefined ? live : live.filter((m) => m.id !== except);
    if (recipients.length > 0) this.deliver(strip(push), recipients);
  }

  /** An announcement (offset 0, not in the stream): to every member, joining ones too, minus `except`. */
  announce(push: IncomingPush): void {
    const entry = this.#rooms.get(push.room);
    if (entry === undefined) return;
    const recipients: EngineMember[] = [];
    for (const local of entry.members.values()) if (local.member.id !== push.except) recipients.push(local.member);
    if (recipients.length > 0) this.deliver(strip(push), recipients);
  }

  /** The live members that have not had this push in their replay; floors passed are dropped. */
  #passFloors(entry: LocalRoom, push: IncomingPush): EngineMember[] {
    const out: EngineMember[] = [];
    for (const local of entry.members.values()) {
      if (local.pending !== undefined) continue;
      const floor = local.floor;
      if (floor !== undefined) {
        if (floor.epoch === push.epoch && push.offset <= floor.offset) continue; // in its replay
        local.floor = undefined;
        entry.floors--;
      }
      out.push(local.member);
    }
    return out;
  }

  members(room: string): readonly EngineMember[] {
    const entry = this.#rooms.get(room);
    return entry === undefined ? [] : [...entry.members.values()].map((local) => local.member);
  }

  rooms(): string[] {
    return [...this.#rooms.keys()];
  }
}

function strip(push: IncomingPush): Push {
  if (push.except === undefined) return push;
  return { room: push.room, offset: push.offset, epoch: push.epoch, payload: push.payload };
}
