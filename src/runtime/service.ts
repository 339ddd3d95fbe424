/**
 * A service: anything long-lived that the supervisor starts, watches, restarts and stops.
 *
 * Two shapes, told apart by which methods exist (no guessing from promise timing):
 *
 * - `start(signal, ctx)` only: a *resource* (a listener, a connection pool). The service is
 *   `running` once `start` resolves. If it dies later (a listener's `error` event), it
 *   reports that with `ctx.fail(err)` and the supervisor restarts it.
 * - `main(signal, ctx)` (with or without a `start` first): a *loop*. The service is `running`
 *   once `start` (if any) resolved and `main` was called; `main`'s promise settling while
 *   nobody asked the service to stop means it died (resolve = ended, reject = crashed), and
 *   it is restarted. `main` must return when `signal` aborts.
 *
 * `stop()` is called on a stop (after `signal` aborted) and also to clean up after a crash,
 * before a restart. It should be idempotent.
 */
import type { Logger } from "../log.ts";
import { OptionError } from "../errors.ts";

export interface ServiceContext {
  /** A child logger with `service: name`. */
  readonly log: Logger;
  /** Report that the service died after it started (restarted like a crash). */
  fail(err: Error): void;
  /** Another service of the same supervisor (declare it in `dependsOn` to be sure it runs). */
  get<S extends Service = Service>(name: string): S;
}

export interface Service {
  readonly name: string;
  /** Services that must be running before this one starts (and stop after it). */
  readonly dependsOn?: readonly string[];
  /** If it fails for good (restart limit hit), the whole server stops. */
  readonly critical?: boolean;
  /** Override the supervisor's `serviceRestartLimit` for this service (0 = never restart). */
  readonly restartLimit?: number;
  start?(signal: AbortSignal, ctx: ServiceContext): void | Promise<void>;
  main?(signal: AbortSignal, ctx: ServiceContext): void | Promise<void>;
  stop?(): void | Promise<void>;
}

const NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * Check a service definition and return it with its own type kept, so extra methods and
 * fields stay typed for `supervisor.get<typeof svc>(name)`. The name may be left out where
 * something else names the service: `server.service(name, svc)`, or a `services/` file of
 * `switchboard serve` (named by its file).
 */
export function defineService<S extends ServiceDefinition>(service: S): S {
  validateService(service, { nameOptional: true });
  return service;
}

/** What defineService takes: a Service whose name may be given later. */
export type ServiceDefinition = Omit<Service, "name"> & { readonly name?: string };

export function validateService(service: Service | ServiceDefinition, options: { nameOptional?: boolean } = {}): void {
  if (typeof service !== "object" || service === null) throw new OptionError("service", "must be an object");
  const unnamed = service.name === undefined && options.nameOptional === true;
  if (!unnamed && (typeof service.name !== "string" || !NAME.test(service.name))) {
    throw new OptionError("service.name", `must be 1–64 characters of A–Z a–z 0–9 _ . : - (got ${JSON.stringify(service.name)})`);
  }
  const where = unnamed ? "service" : `service "${service.name}"`;
  if (service.start === undefined && service.main === undefined) {
    throw new OptionError(`${where}.start`, "a service needs start() or main() (or both)");
  }
  for (const key of ["start", "main", "stop"] as const) {
    if (service[key] !== undefined && typeof service[key] !== "function") {
      throw new OptionError(`${where}.${key}`, "must be a function");
    }
  }
  if (service.dependsOn !== undefined) {
    if (!Array.isArray(service.dependsOn) || !service.dependsOn.every((d) => typeof d === "string")) {
      throw new OptionError(`${where}.dependsOn`, "must be an array of service names");
    }
    if (service.name !== undefined && service.dependsOn.includes(service.name)) throw new OptionError(`${where}.dependsOn`, "a service cannot depend on itself");
  }
  if (service.restartLimit !== undefined && (!Number.isInteger(service.restartLimit) || service.restartLimit < 0)) {
    throw new OptionError(`${where}.restartLimit`, "must be an integer >= 0");
  }
  if (service.critical !== undefined && typeof service.critical !== "boolean") {
    throw new OptionError(`${where}.critical`, "must be true or false");
  }
}
