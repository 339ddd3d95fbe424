/**
 * The operations layer (at the level of server.ts; nothing below imports it): the actions on
 * a running server and their two front ends, the server API (/api/…) and the admin page
 * (/admin), which calls the same API. `mountOps()` is what the Server calls when `api` or
 * `admin` is set.
 */
import type { Logger } from "../log.ts";
import type { ResolvedApiOptions } from "../options.ts";
import { createCommandTable } from "../control/builtin-commands.ts";
import { Operations, type OpsHost } from "./actions.ts";
import { mountApi, type RouteTable } from "./api.ts";
import { mountAdmin, ADMIN_PATH } from "./admin.ts";
import { BearerKeys } from "../transport/bearer.ts";

export { Operations, type OpsHost, type ConnectionItem, type RoomItem, type ConnectionQuery } from "./actions.ts";
export type { StatsSnapshot, EndpointSnapshot } from "./stats.ts";
export type { Page } from "./paging.ts";
export { ApiError, API_ERRORS, type ApiErrorCode } from "./errors.ts";
export { ADMIN_PATH };

export function mountOps(routes: RouteTable, host: OpsHost, api: ResolvedApiOptions, adminToken: string | undefined, log: Logger): Operations {
  const ops = new Operations(host, { commands: api.commands ?? createCommandTable(), maxPageSize: api.maxPageSize });
  mountApi(routes, ops, new BearerKeys(api.keys), log);
  if (adminToken !== undefined) mountAdmin(routes);
  return ops;
}
