/**
 * CSS-TS messages (ETSI TS 103 286-2 clause 5.7), JSON over WebSocket. Pure: no sockets.
 *
 * - setup-data (client → server, first message): {"contentIdStem": string, "timelineSelector": string, "private"?: [...]}
 * - Control Timestamp (server → client): {"contentTime": "<int>" | null, "wallClockTime": "<int>",
 *   "timelineSpeedMultiplier": number | null}. The two times are 64-bit integers carried as
 *   decimal strings (JSON numbers lose precision past 2^53); contentTime and speed are null
 *   together when the timeline is unavailable.
 * - Actual, Earliest and Latest Presentation Timestamp (client → server, optional): each part
 *   {"contentTime": "<int>", "wallClockTime": "<int>" | "plusinfinity" | "minusinfinity"}.
 */
import { isPrivate, type PrivateData } from "./cii.ts";

export interface SetupData {
  contentIdStem: string;
  timelineSelector: string;
  private?: PrivateData[];
}

export interface ControlTimestamp {
  /** Ticks on the timeline, or null: timeline unavailable. */
  contentTime: bigint | null;
  /** Wall clock nanoseconds. */
  wallClockTime: bigint;
  /** null exactly when contentTime is null. */
  timelineSpeedMultiplier: number | null;
}

export interface PresentationTimestamp {
  contentTime: bigint;
  wallClockTime: bigint | "plusinfinity" | "minusinfinity";
}

export interface AptEptLpt {
  actual?: PresentationTimestamp;
  earliest: PresentationTimestamp;
  latest: PresentationTimestamp;
}

const INT_STRING = /^(0|-?[1-9][0-9]*)$/;

export class TsMessageError extends Error {}

function parseObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TsMessageError(`${what}: not JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new TsMessageError(`${what}: not a JSON object`);
  return value as Record<string, unknown>;
}

export function parseSetupData(text: string): SetupData {
  const obj = parseObject(text, "setup-data");
  if (typeof obj.contentIdStem !== "string") throw new TsMessageError("setup-data: contentIdStem must be a string");
  if (typeof obj.timelineSelector !== "string" || obj.timelineSelector === "") {
    throw new TsMessageError("setup-data: timelineSelector must be a non-empty string");
  }
  if (obj.private !== undefined && !isPrivate(obj.private)) throw new TsMessageError("setup-data: private must be a list of objects with a \"type\"");
  const setup: SetupData = { contentIdStem: obj.contentIdStem, timelineSelector: obj.timelineSelector };
  if (obj.private !== undefined) setup.private = obj.private as PrivateData[];
  return setup;
}

export function encodeSetupData(setup: SetupData): string {
  return JSON.stringify(setup);
}

export function encodeControlTimestamp(ct: ControlTimestamp): string {
  return JSON.stringify({
    contentTime: ct.contentTime === null ? null : ct.contentTime.toString(),
    wallClockTime: ct.wallClockTime.toString(),
    timelineSpeedMultiplier: ct.timelineSpeedMultiplier,
  });
}

export function parseControlTimestamp(text: string): ControlTimestamp {
  const obj = parseObject(text, "Control Timestamp");
  const { contentTime, wallClockTime, timelineSpeedMultiplier: speed } = obj;
  if (contentTime !== null && !(typeof contentTime === "string" && INT_STRING.test(contentTime))) {
    throw new TsMessageError("Control Timestamp: contentTime must be an integer string or null");
  }
  if (!(typeof wallClockTime === "string" && INT_STRING.test(wallClockTime))) throw new TsMessageError("Control Timestamp: wallClockTime must be an integer string");
  if (speed !== null && typeof speed !== "number") throw new TsMessageError("Control Timestamp: timelineSpeedMultiplier must be a number or null");
  if ((contentTime === null) !== (speed === null)) throw new TsMessageError("Control Timestamp: contentTime and timelineSpeedMultiplier are null together or not at all");
  return { contentTime: contentTime === null ? null : BigInt(contentTime), wallClockTime: BigInt(wallClockTime), timelineSpeedMultiplier: speed };
}

export function parseAptEptLpt(text: string): AptEptLpt {
  const obj = parseObject(text, "AptEptLpt");
  const part = (name: string, infinity: "plusinfinity" | "minusinfinity" | undefined): PresentationTimestamp => {
    const p = obj[name] as Record<string, unknown> | undefined;
    if (typeof p !== "object" || p === null) throw new TsMessageError(`AptEptLpt: ${name} missing`);
    if (!(typeof p.contentTime === "string" && INT_STRING.test(p.contentTime))) throw new TsMessageError(`AptEptLpt: ${name}.contentTime must be an integer string`);
    const wc = p.wallClockTime;
    if (infinity !== undefined && wc === infinity) return { contentTime: BigInt(p.contentTime), wallClockTime: infinity };
    if (!(typeof wc === "string" && INT_STRING.test(wc))) throw new TsMessageError(`AptEptLpt: ${name}.wallClockTime must be an integer string`);
    return { contentTime: BigInt(p.contentTime), wallClockTime: BigInt(wc) };
  };
  const message: AptEptLpt = { earliest: part("earliest", "minusinfinity"), latest: part("latest", "plusinfinity") };
  if (obj.actual !== undefined) message.actual = part("actual", undefined);
  return message;
}

/** pydvbcss's rule: send a new Control Timestamp only when a property changed; two "unavailable" ones are equal. */
export function controlTimestampChanged(previous: ControlTimestamp | undefined, next: ControlTimestamp): boolean {
  if (previous === undefined) return true;
  if (previous.contentTime === null && next.contentTime === null) return false;
  return previous.contentTime !== next.contentTime || previous.wallClockTime !== next.wallClockTime ||
    previous.timelineSpeedMultiplier !== next.timelineSpeedMultiplier;
}

/** Does a content id stem match the content id (the stem is its left-hand part)? */
export function stemMatches(contentId: string | null | undefined, stem: string): boolean {
  return typeof contentId === "string" && contentId.startsWith(stem);
}
