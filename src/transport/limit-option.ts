/**
 * Read a limit option: the given value, checked against its row in `limits.ts`, or the row's
 * default. A bad value throws an OptionError that names the option.
 */
import { OptionError } from "../errors.ts";
import { LIMITS, type LimitName } from "../limits.ts";

export function limitOption(name: LimitName, value: number | undefined): number {
  const spec = LIMITS[name];
  if (value === undefined) return spec.default;
  if (typeof value !== "number" || !Number.isInteger(value) || value < spec.min) {
    throw new OptionError(spec.name, `must be an integer >= ${spec.min} (${spec.unit}), got ${String(value)}`);
  }
  return value;
}

/** A TCP/UDP port option: an integer 0–65535 (0 = any free port). */
export function portOption(value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 65535) {
    throw new OptionError("port", `must be an integer 0–65535, got ${String(value)}`);
  }
  return value;
}
