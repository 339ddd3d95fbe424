/**
 * The kinds of handler file, one table entry each. An entry says where its files live, what
 * name a file serves, how to tell a good export from a wrong one, and how to mount it on the
 * server. The loader (directory.ts) knows nothing else about any kind.
 *
 * To add a kind: write its entry next to the others and add it to FILE_KINDS. Its folder is
 * taken out of the endpoint tree automatically.
 */
import type { Server } from "../server.ts";
import type { EndpointOptions } from "../options.ts";
import type { ScanKind } from "./scan.ts";
import type { App } from "../app/app.ts";
import type { TaskDefinition } from "../app/task.ts";
import type { WorkerPool } from "../app/worker-pool.ts";
import { validateService, type Service, type ServiceContext } from "../runtime/service.ts";
import { OptionError } from "../errors.ts";
import { validateEndpointOptions } from "../options.ts";
import type { ServedContext, ServedEndpointFactory } from "../config/define.ts";
import { servedContext } from "./served.ts";

/** Where the tasks of a handler directory's `tasks/` folder are served (the switchboard.v1 protocol). */
export const TASKS_APP_PATH = "/app";

/** Settings from the standalone config that mounted files inherit. */
export interface MountContext {
  /** Defaults for endpoint options a file does not set (limits.maxConnections). */
  readonly endpointDefaults: { maxConnections?: number };
  /** The app that task files are registered on, mounted at TASKS_APP_PATH on first use. */
  app(server: Server): App;
  /** The apps mounted so far, by path (what `served.app(path)` finds). */
  apps(): ReadonlyMap<string, App>;
}

/** A mount context whose task app is created on the first task (or service) file. */
export function mountContext(endpointDefaults: { maxConnections?: number } = {}): MountContext {
  let app: App | undefined;
  return {
    endpointDefaults,
    app: (server) => (app ??= server.app(TASKS_APP_PATH)),
    apps: () => new Map(app === undefined ? [] : [[TASKS_APP_PATH, app]]),
  };
}

export interface FileKind<T = unknown> extends ScanKind {
  /** What the default export must be, for error messages: `defineEndpoint({ … })`. */
  readonly expected: string;
  /** What is wrong with a default export, or undefined when it fits. */
  check(value: unknown): string | undefined;
  /**
   * Turn a checked default export into what `mount` takes, before anything is mounted (an
   * endpoint factory is called here); may throw, reported with the file's name like `check`.
   */
  prepare?(server: Server, value: T, context: MountContext): T;
  /** Put it on the server (may throw an OptionError; the loader adds the file name). */
  mount(server: Server, name: string, value: T, context: MountContext): void;
  /** The banner line's URL or label for one mounted file. */
  describe(server: Server, name: string): string;
  /**
   * While the server runs (`switchboard serve --watch`): put a changed file's new value in
   * place of `previous` (undefined: a new file). On a throw, what ran before still runs.
   * A kind without it is not reloaded (the watcher says a restart is needed).
   */
  reload?(server: Server, name: string, value: T, context: MountContext, previous: T | undefined): Promise<void>;
  /** While the server runs: take a deleted file's name off the server (`previous`: what it served). */
  remove?(server: Server, name: string, context: MountContext, previous: T): Promise<void>;
}

/** Endpoint files: the handler directory itself; `games/tetris.ts` → /games/tetris. */
export const ENDPOINT_FILES: FileKind<EndpointOptions | ServedEndpointFactory> = {
  kind: "endpoint",
  folder: "",
  expected: "defineEndpoint({ … })",
  name: (segments) => "/" + segments.join("/"),
  check(value) {
    if (typeof value === "function") return undefined; // a factory: (served) => defineEndpoint({ … }), checked when called
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return `the default export must be an object made with defineEndpoint({ … }), got ${describeValue(value)}`;
    }
    return misplaced(value); // the options themselves are checked by server.endpoint(), which names the option
  },
  prepare: (server, value, context) => (typeof value === "function" ? callFactory(value, servedContext(server, context)) : value),
  mount(server, name, value, context) {
    if (typeof value === "function") throw new OptionError("default", "internal: an endpoint factory reached mount() unprepared");
    server.endpoint(name, { ...context.endpointDefaults, ...value });
  },
  describe: (server, name) => server.url(name, "ws"),
  async reload(server, name, value, context, previous) {
    if (typeof value === "function") throw new OptionError("default", "internal: an endpoint factory reached reload() unprepared");
    const options = { ...context.endpointDefaults, ...value };
    validateEndpointOptions(name, options as EndpointOptions<never>); // before the old one goes: a bad option leaves it running
    // unmount() takes the path at once (its connections get 1012 and reconnect): mount the new
    // endpoint in the same tick, so no reconnect meets a 404.
    const closing = previous === undefined ? Promise.resolve() : server.unmount(name);
    server.endpoint(name, options);
    await closing;
  },
  remove: (server, name) => server.unmount(name),
};

/** Task files: `tasks/chat/say.ts` → task "chat.say", on the app at /app. The file name is the task name. */
export const TASK_FILES: FileKind<TaskDefinition<any, any, any>> = {
  kind: "task",
  folder: "tasks",
  expected: "defineTask({ name, handler })",
  name: (segments) => segments.join("."),
  check(value) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return `the default export must be an object made with defineTask({ … }), got ${describeValue(value)}`;
    }
    const task = value as Partial<TaskDefinition>;
    if (typeof task.handler !== "function" && task.worker === undefined) return "a task needs a handler function (or a worker)";
    if (task.name !== undefined && typeof task.name !== "string") return `"name" must be a string, got ${describeValue(task.name)}`;
    return undefined;
  },
  mount(server, name, value, context) {
    if (value.name !== undefined && value.name !== name) {
      throw new OptionError("name", `the file serves task "${name}" but its definition is named "${value.name}": rename the file or drop the name`);
    }
    context.app(server).task({ ...value, name });
  },
  describe: (server, name) => `task ${name} on ${server.url(TASKS_APP_PATH, "ws")}`,
  async reload(server, name, value, context, previous) {
    if (previous !== undefined) context.app(server).removeTask(name);
    try {
      this.mount(server, name, value, context);
    } catch (err) {
      if (previous !== undefined) this.mount(server, name, previous, context); // the old one keeps answering
      throw err;
    }
    if (previous?.worker !== undefined && previous.worker !== value.worker) await closePool(server, name, previous.worker);
  },
  async remove(server, name, context, previous) {
    context.app(server).removeTask(name);
    if (previous.worker !== undefined) await closePool(server, name, previous.worker);
  },
};

/** Service files: `services/ticker.ts` → service "ticker" (supervised, restarted when it dies). */
export const SERVICE_FILES: FileKind<Service> = {
  kind: "service",
  folder: "services",
  expected: "defineService({ start | main, stop })",
  name: (segments) => segments.join("."),
  check(value) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return `the default export must be an object made with defineService({ … }), got ${describeValue(value)}`;
    }
    try {
      validateService({ name: "file", ...(value as object) } as Service);
    } catch (err) {
      return (err as Error).message;
    }
    return undefined;
  },
  mount(server, name, value, context) {
    if (value.name !== undefined && value.name !== name) {
      throw new OptionError("name", `the file serves service "${name}" but its definition is named "${value.name}": rename the file or drop the name`);
    }
    // Services are what push to rooms from the server side, so the app at /app exists for them.
    context.app(server);
    server.service(name, withServed(value, name, servedContext(server, context)));
  },
  describe: (_server, name) => `service ${name}`,
  async reload(server, name, value, context) {
    if (value.name !== undefined && value.name !== name) {
      throw new OptionError("name", `the file serves service "${name}" but its definition is named "${value.name}": rename the file or drop the name`);
    }
    context.app(server);
    // The old run is stopped (its stop() called) and the new definition started, fresh crash history.
    await server.services.replace(withServed(value, name, servedContext(server, context)));
  },
  remove: (server, name) => server.services.remove(name),
};

export const FILE_KINDS: readonly FileKind<any>[] = [ENDPOINT_FILES, TASK_FILES, SERVICE_FILES];

/**
 * The service as the supervisor sees it: start() and main() get the supervisor's context with
 * `server` and `app()` added (ServedServiceContext). Built on the definition as prototype, so
 * its other fields and methods stay reachable (also through `ctx.get(name)`).
 */
function withServed(service: Service, name: string, served: ServedContext): Service {
  const extend = (ctx: ServiceContext): ServiceContext & ServedContext =>
    Object.create(ctx, { server: { value: served.server }, app: { value: served.app } }) as ServiceContext & ServedContext;
  const wrapped: Record<string, PropertyDescriptor> = { name: { value: name, enumerable: true } };
  if (service.start !== undefined) {
    const start = service.start;
    wrapped.start = { value(this: Service, signal: AbortSignal, ctx: ServiceContext) { return start.call(this, signal, extend(ctx)); } };
  }
  if (service.main !== undefined) {
    const main = service.main;
    wrapped.main = { value(this: Service, signal: AbortSignal, ctx: ServiceContext) { return main.call(this, signal, extend(ctx)); } };
  }
  return Object.create(service, wrapped) as Service;
}

/**
 * A replaced or deleted task's worker pool (made by the old module) is closed, or its threads
 * would stay for good; calls still running on it fail.
 */
async function closePool(server: Server, task: string, pool: WorkerPool): Promise<void> {
  try {
    await pool.close();
  } catch (err) {
    server.log.error({ err, task }, "closing the worker pool of a replaced task failed");
  }
}

/** An endpoint factory's options; what it throws is reported by the loader with the file's name. */
function callFactory(factory: ServedEndpointFactory, served: ServedContext): EndpointOptions {
  const options: unknown = factory(served);
  const expected = "the default export must be an object made with defineEndpoint({ … }) or a factory (served) => defineEndpoint({ … })";
  if (options instanceof Promise) {
    options.catch(() => undefined); // reported below; the rejection itself is not the answer
    throw new Error(`${expected}; got a function that returned a promise (a factory cannot be async)`);
  }
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new Error(`${expected}; got a function that returned ${describeValue(options)}`);
  }
  const wrong = misplaced(options);
  if (wrong !== undefined) throw new Error(wrong);
  return options as EndpointOptions;
}

/** A task or service definition in the endpoint tree: say where it belongs. */
function misplaced(value: object): string | undefined {
  const v = value as Record<string, unknown>;
  if (typeof v.handler === "function" || (v.worker !== undefined && typeof v.message !== "function")) {
    return "this is a task definition (defineTask), and only files under tasks/ are tasks: move it to tasks/ (tasks/chat/say.ts is task chat.say)";
  }
  if ((typeof v.start === "function" || typeof v.main === "function") && typeof v.message !== "function") {
    return "this is a service definition (defineService), and only files under services/ are services: move it to services/";
  }
  return undefined;
}

export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "function") return "a function";
  return typeof value === "object" ? "an object" : `${typeof value} ${JSON.stringify(value)}`;
}
