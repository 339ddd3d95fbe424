/**
 * The Server's runtime part: its services in three groups, started in this order and stopped
 * in reverse (dependencies reorder within what `dependsOn` asks):
 *
 *   runtime   the control socket, the cluster bus: up first, down last (so `switchboard stop`
 *             can still be answered while everything else stops)
 *   app       `server.service(name, svc)` and services/ files
 *   listener  HTTP, TCP, UDP: accept traffic only once the app's services run; stop first
 *
 * Plus the in-flight work tracker a graceful stop drains.
 */
import type { Logger } from "../log.ts";
import { StateError } from "../errors.ts";
import { InFlight } from "./inflight.ts";
import type { Service } from "./service.ts";
import { ServiceFailedError, Supervisor, type SupervisorOptions } from "./supervisor.ts";

export type ServiceGroup = "runtime" | "app" | "listener";
const GROUPS: readonly ServiceGroup[] = ["runtime", "app", "listener"];

export class ServerServices {
  readonly supervisor: Supervisor;
  readonly work = new InFlight();
  readonly #groups = new Map<ServiceGroup, Service[]>(GROUPS.map((g) => [g, []]));
  readonly #byName = new Map<string, Service>();
  #committed = false;

  /** `onFatal` runs when a critical service fails for good after start-up (the Server stops). */
  constructor(log: Logger, onFatal: (name: string, error: Error) => void, options: Omit<SupervisorOptions, "logger"> = {}) {
    this.supervisor = new Supervisor({ ...options, logger: log });
    this.supervisor.on("fatal", ({ name, error }) => {
      if (!this.#committed) return;
      log.fatal({ service: name, err: error }, "critical service failed: stopping the server");
      onFatal(name, error);
    });
  }

  add<S extends Service>(svc: S, group: ServiceGroup = "app"): S {
    if (this.#committed) throw new StateError(`service "${svc.name}" added after the server started`);
    if (this.#byName.has(svc.name)) throw new StateError(`a service named "${svc.name}" is already registered`);
    this.#byName.set(svc.name, svc);
    this.#groups.get(group)?.push(svc);
    return svc;
  }

  get<S extends Service = Service>(name: string): S {
    const svc = this.#byName.get(name);
    if (svc === undefined) throw new StateError(`no service named "${name}" (known: ${[...this.#byName.keys()].join(", ") || "none"})`);
    return svc as S;
  }

  /** Hand every service to the supervisor in group order and start them. */
  async start(): Promise<void> {
    for (const group of GROUPS) for (const svc of this.#groups.get(group) ?? []) this.supervisor.add(svc);
    try {
      await this.supervisor.startAll();
    } catch (err) {
      // A listener or the control socket failing says it best itself (EADDRINUSE, "another
      // server is using …"): rethrow that error, with its code, rather than the wrapper.
      if (err instanceof ServiceFailedError && err.cause instanceof Error && this.#groupOf(err.service) !== "app") throw err.cause;
      throw err;
    } finally {
      this.#committed = true;
    }
  }

  #groupOf(name: string): ServiceGroup | undefined {
    return GROUPS.find((g) => this.#groups.get(g)?.some((svc) => svc.name === name));
  }

  /** Stop every service in reverse order, all within `budgetMs` (default: serviceStopTimeoutMs). */
  stop(budgetMs?: number): Promise<void> {
    return this.supervisor.stopAll(budgetMs);
  }
}
