/**
 * The server API over HTTP (docs/api.md): `POST /api/<action>` with a JSON body and the
 * read-only listings the admin page uses (`GET /api/stats`, `/api/connections`, `/api/rooms`,
 * `/api/services`). Every route needs `Authorization: Bearer <key>` (401 otherwise, checked
 * before a body is read). Answers are JSON; errors are `{ "error": { "code", "message" } }`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { HttpHandler, HttpMiddleware, JsonPostHandler, PostRouteOptions } from "../transport/http.ts";
import type { Logger } from "../log.ts";
import { SwitchboardError } from "../errors.ts";
import { ApiError, type ApiErrorCode } from "./errors.ts";
import type { BearerKeys } from "../transport/bearer.ts";
import type { Operations } from "./actions.ts";

/** Where the routes go (the Server's HTTP listener). */
export interface RouteTable {
  get(path: string, handler: HttpHandler): void;
  post(path: string, handler: JsonPostHandler, options?: PostRouteOptions): void;
  use(middleware: HttpMiddleware): void;
}

export const API_PREFIX = "/api/";

type Action = (ops: Operations, body: unknown) => unknown;

/** POST routes: path → action. One line each; the actions validate their bodies. */
const POST_ACTIONS: Record<string, Action> = {
  "/api/publish": (ops, body) => ops.publish(body),
  "/api/broadcast": (ops, body) => ops.broadcast(body),
  "/api/disconnect": (ops, body) => ops.disconnect(body),
  "/api/disconnect-user": (ops, body) => ops.disconnectUser(body),
  "/api/presence": (ops, body) => ops.presence(body),
  "/api/command": (ops, body) => ops.command(body),
  "/api/endpoint": (ops, body) => ops.setEndpointEnabled(body),
  "/api/service/restart": (ops, body) => ops.restartService(body),
  "/api/log-level": (ops, body) => ops.setLogLevel(body),
};

type Query = URLSearchParams;
const opt = (query: Query, name: string): string | undefined => query.get(name) ?? undefined;

const GET_ACTIONS: Record<string, (ops: Operations, query: Query) => unknown> = {
  "/api/stats": (ops) => ops.stats(),
  "/api/services": (ops) => ({ services: ops.services() }),
  "/api/connections": (ops, q) => ops.connections({ offset: opt(q, "offset"), limit: opt(q, "limit"), id: opt(q, "id"), endpoint: opt(q, "endpoint"), room: opt(q, "room"), user: opt(q, "user") }),
  "/api/rooms": (ops, q) => ops.rooms({ app: opt(q, "app"), q: opt(q, "q"), offset: opt(q, "offset"), limit: opt(q, "limit") }),
};

export function mountApi(routes: RouteTable, ops: Operations, keys: BearerKeys, log: Logger): void {
  const admit = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (keys.admits(req)) return true;
    sendError(res, new ApiError("unauthorized", "send the API key: Authorization: Bearer <key>"), { "WWW-Authenticate": 'Bearer realm="switchboard"' });
    return false;
  };
  const refuse: PostRouteOptions["refuse"] = (res, status, code, message, headers) => {
    sendJson(res, status, { error: { code, message } }, headers);
  };
  for (const [path, action] of Object.entries(POST_ACTIONS)) {
    routes.post(path, async (req, res, body) => {
      log.info({ route: path, remote: req.socket.remoteAddress }, "server API call");
      await answer(res, log, () => action(ops, body));
    }, { admit, refuse });
  }
  for (const [path, action] of Object.entries(GET_ACTIONS)) {
    routes.get(path, async (req, res) => {
      if (!admit(req, res)) return;
      const query = new URL(req.url ?? "/", "http://x").searchParams;
      await answer(res, log, () => action(ops, query));
    });
  }
  // Any other /api/ path: a JSON 404 (after the key check, so it tells nothing to a stranger).
  routes.use((req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0]!;
    if (!path.startsWith(API_PREFIX)) return false;
    if (admit(req, res)) sendError(res, new ApiError("not_found", `no API route ${req.method ?? ""} ${path} (docs/api.md)`));
    return true;
  });
}

async function answer(res: ServerResponse, log: Logger, run: () => unknown): Promise<void> {
  try {
    sendJson(res, 200, await run());
  } catch (err) {
    if (err instanceof ApiError) return sendError(res, err);
    if (err instanceof SwitchboardError) return sendError(res, new ApiError("bad_request", err.message));
    log.error({ err }, "server API action failed");
    sendError(res, new ApiError("internal", "internal error (logged)"));
  }
}

function sendError(res: ServerResponse, err: ApiError, headers: Record<string, string> = {}): void {
  sendJson(res, err.status, { error: { code: err.code as ApiErrorCode, message: err.message } }, headers);
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value ?? null);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    ...headers,
  });
  res.end(body);
}
