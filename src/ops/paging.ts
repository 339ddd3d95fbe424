/**
 * Server-side paging for the API's listings: offset + limit over an ordered iteration (no
 * sort per request), limit bounded by `apiMaxPageSize`. A page costs O(offset + limit) when
 * the total is known up front, O(n) with a filter (one cheap test per item, no copy).
 */
import { badRequest } from "./errors.ts";

export interface Page<T> {
  /** Matching items in all (this node). */
  total: number;
  offset: number;
  limit: number;
  items: T[];
}

/** The page the dashboard and a caller without `limit` get (at most the configured maximum). */
export const DEFAULT_PAGE_SIZE = 50;

/** Read `offset` and `limit` (numbers or query-string text); bad values are bad_request. */
export function paging(query: { offset?: unknown; limit?: unknown }, maxPageSize: number): { offset: number; limit: number } {
  const offset = integerParam("offset", query.offset, 0, Number.MAX_SAFE_INTEGER) ?? 0;
  const limit = integerParam("limit", query.limit, 1, maxPageSize) ?? Math.min(DEFAULT_PAGE_SIZE, maxPageSize);
  return { offset, limit };
}

function integerParam(name: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = typeof value === "number" ? value : typeof value === "string" && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw badRequest(`${name}: must be an integer from ${min} to ${max}${name === "limit" ? " (apiMaxPageSize)" : ""}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * One page of `source`: the items passing `keep`, from `offset`, at most `limit`, mapped by
 * `view` (only the page's items are mapped). With `total` known the walk stops after the page.
 */
export function pageOf<S, T>(
  source: Iterable<S>,
  keep: (item: S) => boolean,
  view: (item: S) => T,
  options: { offset: number; limit: number; total: number | undefined },
): Page<T> {
  const { offset, limit } = options;
  const items: T[] = [];
  let seen = 0;
  for (const item of source) {
    if (!keep(item)) continue;
    if (seen >= offset && items.length < limit) items.push(view(item));
    seen++;
    if (options.total !== undefined && items.length === limit) break;
  }
  return { total: options.total ?? seen, offset, limit, items };
}
