/**
 * CSS-CII messages (ETSI TS 103 286-2 clause 5.6): one JSON object whose properties are all
 * optional. A property that is present with `null` means "no value"; one that is absent means
 * "unchanged" (after the first message). Pure: no sockets.
 *
 * Rules kept from the spec as pydvbcss implements them:
 * - the first message to a client carries every property that has a value, protocolVersion "1.1" first;
 * - later messages carry at least every property whose value changed (here: exactly those);
 * - a message that carries contentId also carries contentIdStatus;
 * - nothing is sent when nothing changed.
 */
export const CII_PROTOCOL_VERSION = "1.1";

export interface TimelineOption {
  timelineSelector: string;
  timelineProperties: { unitsPerTick: number; unitsPerSecond: number; accuracy?: number };
  private?: PrivateData[];
}

export interface PrivateData {
  type: string;
  [key: string]: unknown;
}

export interface Cii {
  protocolVersion?: "1.1" | null;
  mrsUrl?: string | null;
  contentId?: string | null;
  contentIdStatus?: "partial" | "final" | null;
  /** Space-separated: a primary term ("okay", "transitioning", "fault" or other) then optional extra terms. */
  presentationStatus?: string | null;
  wcUrl?: string | null;
  tsUrl?: string | null;
  teUrl?: string | null;
  timelines?: TimelineOption[] | null;
  private?: PrivateData[] | null;
}

/** Every CII property, in the order they are written. */
export const CII_PROPERTIES = [
  "protocolVersion", "mrsUrl", "contentId", "contentIdStatus", "presentationStatus",
  "wcUrl", "tsUrl", "teUrl", "timelines", "private",
] as const satisfies ReadonlyArray<keyof Cii>;

/** The properties of `next` that differ from `previous` (absent in `next` = unchanged). */
export function diffCii(previous: Cii, next: Cii): Cii {
  const changes: Record<string, unknown> = {};
  for (const name of CII_PROPERTIES) {
    if (!(name in next) || next[name] === undefined) continue;
    if (!sameJson(previous[name], next[name])) changes[name] = next[name];
  }
  const diff = changes as Cii;
  if ("contentId" in diff && next.contentIdStatus !== undefined) diff.contentIdStatus = next.contentIdStatus;
  return ordered(diff);
}

/** `state` with `changes` applied. */
export function mergeCii(state: Cii, changes: Cii): Cii {
  const merged: Record<string, unknown> = { ...state };
  for (const name of CII_PROPERTIES) if (changes[name] !== undefined) merged[name] = changes[name];
  return ordered(merged as Cii);
}

export function isEmptyCii(cii: Cii): boolean {
  return CII_PROPERTIES.every((name) => cii[name] === undefined);
}

export class CiiMessageError extends Error {}

/** Check a CII state before it is sent; throws with the property name on a bad value. */
export function validateCii(cii: Cii): void {
  for (const key of Object.keys(cii)) {
    if (!(CII_PROPERTIES as readonly string[]).includes(key)) throw new TypeError(`CII: unknown property "${key}"`);
  }
  const problem = ciiProblem(cii);
  if (problem !== undefined) throw new TypeError(problem);
}

/**
 * A CII message as a client receives it: one JSON object whose known properties have the
 * spec's shapes. Unknown properties are left out (a later protocol version may add some).
 * Throws CiiMessageError naming what is wrong.
 */
export function parseCiiMessage(text: string): Cii {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CiiMessageError("CII message: not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new CiiMessageError("CII message: not a JSON object");
  const known: Record<string, unknown> = {};
  for (const name of CII_PROPERTIES) if (name in value) known[name] = (value as Record<string, unknown>)[name];
  const problem = ciiProblem(known as Cii);
  if (problem !== undefined) throw new CiiMessageError(`CII message: ${problem.replace(/^CII /, "")}`);
  return ordered(known as Cii);
}

/** What is wrong with the known properties of `cii`, or undefined. */
function ciiProblem(cii: Cii): string | undefined {
  const problems: string[] = [];
  const check = (name: keyof Cii, ok: (v: unknown) => boolean, what: string): void => {
    const value = cii[name];
    // undefined is "absent"; JSON cannot carry it, so a received message never has it.
    if (value !== undefined && value !== null && !ok(value)) problems.push(`CII ${name}: must be ${what} or null`);
  };
  const isString = (v: unknown): boolean => typeof v === "string";
  check("protocolVersion", (v) => v === CII_PROTOCOL_VERSION, `"${CII_PROTOCOL_VERSION}"`);
  check("contentIdStatus", (v) => v === "partial" || v === "final", `"partial" or "final"`);
  check("presentationStatus", (v) => typeof v === "string" && /^[^ ]+( [^ ]+)*$/.test(v), "space-separated terms");
  for (const name of ["mrsUrl", "contentId"] as const) check(name, isString, "a URI string");
  check("wcUrl", (v) => typeof v === "string" && WC_URL.test(v), "udp://<host>:<port>");
  for (const name of ["tsUrl", "teUrl"] as const) check(name, (v) => typeof v === "string" && WS_URL.test(v), "a ws:// or wss:// URL");
  check("timelines", (v) => Array.isArray(v) && v.every(isTimelineOption), "a list of timeline options");
  check("private", isPrivate, "a list of objects with a \"type\" URI");
  return problems[0];
}

const WC_URL = /^udp:\/\/(\[[0-9A-Fa-f:.]+\]|[^\s/:[\]]+):\d{1,5}\/?$/;
const WS_URL = /^wss?:\/\/[^\s/]+(\/\S*)?$/;

function isTimelineOption(v: unknown): boolean {
  if (typeof v !== "object" || v === null) return false;
  const t = v as TimelineOption;
  const p = t.timelineProperties as TimelineOption["timelineProperties"] | undefined;
  return typeof t.timelineSelector === "string" && typeof p === "object" && p !== null &&
    Number.isInteger(p.unitsPerTick) && Number.isInteger(p.unitsPerSecond) &&
    (p.accuracy === undefined || typeof p.accuracy === "number") &&
    (t.private === undefined || isPrivate(t.private));
}

export function isPrivate(v: unknown): boolean {
  return Array.isArray(v) && v.every((item) => typeof item === "object" && item !== null && typeof (item as PrivateData).type === "string");
}

function ordered(cii: Cii): Cii {
  const out: Record<string, unknown> = {};
  for (const name of CII_PROPERTIES) if (cii[name] !== undefined) out[name] = cii[name];
  return out as Cii;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
