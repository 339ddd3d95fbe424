/**
 * What a position means against a room's stored history: pure functions, no I/O, shared by
 * every engine. An engine reads a room's whole (bounded) history once — `RoomLog` — and every
 * history() call and joining member of that room is answered from that one read.
 */
import type { HistoryOptions, HistoryResult, Push, StreamPosition } from "./engine.ts";

/** A room's history as one read returns it: what is kept (oldest first) and the latest position. */
export interface RoomLog {
  readonly pushes: readonly Push[];
  readonly epoch: string;
  /** Latest offset assigned in this epoch (0: none); pushes may have been trimmed since. */
  readonly offset: number;
}

/** Does the log hold every push after `since`? */
export function covers(log: RoomLog, since: StreamPosition): boolean {
  if (since.epoch !== log.epoch) return false;
  if (!Number.isInteger(since.offset) || since.offset < 0 || since.offset > log.offset) return false;
  if (since.offset === log.offset) return true; // nothing missed
  const oldest = log.pushes[0];
  return oldest !== undefined && oldest.offset <= since.offset + 1;
}

export function sliceHistory(log: RoomLog, options: HistoryOptions): HistoryResult {
  const limit = options.limit;
  const base = { epoch: log.epoch, offset: log.offset };
  if (options.since === undefined) {
    return { ...base, pushes: limit <= 0 ? [] : log.pushes.slice(-limit), recovered: true };
  }
  if (!covers(log, options.since)) return { ...base, pushes: [], recovered: false };
  const after = options.since.offset;
  const missed = log.pushes.filter((push) => push.offset > after);
  return { ...base, pushes: missed.slice(0, Math.max(0, limit)), recovered: true };
}
