/**
 * The served handle (ServedContext, config/define.ts): what an endpoint factory and a service
 * of a served folder get besides their own definition. `app()` finds the apps the loader
 * mounted; the tasks app at /app is created on first use while the folder loads (before
 * start), never after, so what is mounted is fixed once the server runs.
 */
import type { Server } from "../server.ts";
import type { App } from "../app/app.ts";
import { SwitchboardError } from "../errors.ts";
import type { ServedContext } from "../config/define.ts";
import { TASKS_APP_PATH, type MountContext } from "./kinds.ts";

export function servedContext(server: Server, context: MountContext): ServedContext {
  return {
    server,
    app(path: string = TASKS_APP_PATH): App {
      const found = context.apps().get(path);
      if (found !== undefined) return found;
      if (path === TASKS_APP_PATH && server.state === "new") return context.app(server);
      const known = [...context.apps().keys()];
      throw new SwitchboardError("not_found",
        `no app at ${JSON.stringify(path)} (apps: ${known.join(", ") || "none"}); the app at ${TASKS_APP_PATH} exists when the folder has tasks/ or services/ files, or when an endpoint factory calls app() while it loads`);
    },
  };
}
