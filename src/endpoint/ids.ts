/**
 * Readable connection ids: `<prefix>-<n>` (pydvbcss's ConnectionIdGen), unique per server —
 * each prefix has its own counter, and every endpoint of a server shares one generator.
 */
export class ConnectionIds {
  readonly #counters = new Map<string, number>();

  next(prefix: string): string {
    const n = (this.#counters.get(prefix) ?? 0) + 1;
    this.#counters.set(prefix, n);
    return `${prefix}-${n}`;
  }
}

/** The default prefix for an endpoint path: "/games/tetris" → "games-tetris", "/" → "root". */
export function prefixForPath(path: string): string {
  const cleaned = path.replace(/^\/+|\/+$/g, "").replace(/[^A-Za-z0-9_.]+/g, "-");
  return cleaned === "" ? "root" : cleaned;
}
