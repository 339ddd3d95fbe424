/**
 * Readable connection ids: `<prefix>-<n>` (pydvbcss's ConnectionIdGen), unique per server —
 * each prefix has its own counter, and every endpoint of a server shares one generator. In a
 * cluster over Redis the node id is appended (`<prefix>-<n>@<node>`): room members of every
 * node meet in one presence list, where `chat-1` of two nodes must not look like one client.
 */
export class ConnectionIds {
  readonly #counters = new Map<string, number>();
  readonly #suffix: string;

  constructor(node?: string) {
    this.#suffix = node === undefined ? "" : `@${node}`;
  }

  next(prefix: string): string {
    const n = (this.#counters.get(prefix) ?? 0) + 1;
    this.#counters.set(prefix, n);
    return `${prefix}-${n}${this.#suffix}`;
  }
}

/** The default prefix for an endpoint path: "/games/tetris" → "games-tetris", "/" → "root". */
export function prefixForPath(path: string): string {
  const cleaned = path.replace(/^\/+|\/+$/g, "").replace(/[^A-Za-z0-9_.]+/g, "-");
  return cleaned === "" ? "root" : cleaned;
}
