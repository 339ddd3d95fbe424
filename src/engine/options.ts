/**
 * Engine options: history bounds (with a per-room override), the idempotency window and the
 * handover buffer. Every number here is a limit: its default is a row of src/limits.ts.
 */
import { OptionError } from "../errors.ts";
import { limitDefault } from "../limits.ts";

export interface HistoryPolicy {
  /** Pushes kept per room (0: no history for the room). */
  maxCount: number;
  /** Age after which a push leaves the history. */
  maxAgeMs: number;
}

export interface EngineOptions {
  nodeId?: string;
  history?: Partial<HistoryPolicy> & {
    /** Per-room override: return the bounds for one room (or undefined for the defaults). */
    forRoom?(room: string): Partial<HistoryPolicy> | undefined;
  };
  /** How long an idempotency key is remembered. */
  idempotencyWindowMs?: number;
  /** Idempotency keys remembered per room at most (memory engine; Redis keys expire). */
  idempotencyMaxKeys?: number;
  /** Live pushes buffered per joining member before resume(); past it the handover reports a loss. */
  handoverMaxPushes?: number;
  /** Longest room name, in characters. */
  maxRoomLength?: number;
  /** Largest payload, in bytes. */
  maxPayloadBytes?: number;
}

/** The defaults are rows of src/limits.ts ("cluster" section). */
export const ENGINE_DEFAULTS = {
  historyMaxCount: limitDefault("historyMaxCount"),
  historyMaxAgeMs: limitDefault("historyMaxAgeMs"),
  idempotencyWindowMs: limitDefault("idempotencyWindowMs"),
  idempotencyMaxKeys: limitDefault("idempotencyMaxKeys"),
  handoverMaxPushes: limitDefault("handoverMaxPushes"),
} as const;

export interface ResolvedEngineOptions {
  readonly history: (room: string) => HistoryPolicy;
  readonly idempotencyWindowMs: number;
  readonly idempotencyMaxKeys: number;
  readonly handoverMaxPushes: number;
  readonly maxRoomLength: number;
  readonly maxPayloadBytes: number;
}

export function resolveEngineOptions(options: EngineOptions): ResolvedEngineOptions {
  const base: HistoryPolicy = {
    maxCount: count("history.maxCount", options.history?.maxCount ?? ENGINE_DEFAULTS.historyMaxCount, 0),
    maxAgeMs: count("history.maxAgeMs", options.history?.maxAgeMs ?? ENGINE_DEFAULTS.historyMaxAgeMs, 1),
  };
  const forRoom = options.history?.forRoom;
  if (forRoom !== undefined && typeof forRoom !== "function") throw new OptionError("history.forRoom", "must be a function");
  return {
    history: forRoom === undefined ? () => base : (room) => {
      const own = forRoom(room);
      if (own === undefined) return base;
      return {
        maxCount: count("history.forRoom().maxCount", own.maxCount ?? base.maxCount, 0),
        maxAgeMs: count("history.forRoom().maxAgeMs", own.maxAgeMs ?? base.maxAgeMs, 1),
      };
    },
    idempotencyWindowMs: count("idempotencyWindowMs", options.idempotencyWindowMs ?? ENGINE_DEFAULTS.idempotencyWindowMs, 1),
    idempotencyMaxKeys: count("idempotencyMaxKeys", options.idempotencyMaxKeys ?? ENGINE_DEFAULTS.idempotencyMaxKeys, 1),
    handoverMaxPushes: count("handoverMaxPushes", options.handoverMaxPushes ?? ENGINE_DEFAULTS.handoverMaxPushes, 1),
    maxRoomLength: count("maxRoomLength", options.maxRoomLength ?? limitDefault("busMaxChannelLength"), 1),
    maxPayloadBytes: count("maxPayloadBytes", options.maxPayloadBytes ?? limitDefault("busMaxPayloadBytes"), 1),
  };
}

function count(name: string, value: unknown, min: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new OptionError(name, `must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function checkRoomName(room: unknown, maxLength: number): string {
  if (typeof room !== "string" || room.length === 0) throw new OptionError("room", "must be a non-empty string");
  if (room.length > maxLength) throw new OptionError("room", `is ${room.length} characters, more than ${maxLength}`);
  return room;
}

export function checkPayload(payload: unknown, maxBytes: number): string {
  if (typeof payload !== "string") throw new OptionError("payload", "must be a string (a serialised push)");
  // A UTF-16 unit is at most 3 UTF-8 bytes: measure only strings that could be over.
  if (payload.length * 3 > maxBytes && Buffer.byteLength(payload) > maxBytes) {
    throw new OptionError("payload", `is more than ${maxBytes} bytes`);
  }
  return payload;
}
