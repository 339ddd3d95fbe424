/**
 * The service manager: starts services in dependency order, restarts one that dies (with
 * exponential backoff, up to `serviceRestartLimit` crashes in `serviceRestartWindowMs`), marks
 * it `failed` after that (and emits `fatal` if it is critical), and stops them in reverse order.
 *
 * Each run of a service gets its own AbortController and a generation number; a late
 * settlement from an older run (a main loop that returns after a restart) is ignored.
 */
import { EventEmitter } from "node:events";
import { StateError, SwitchboardError } from "../errors.ts";
import { asError } from "../endpoint/hooks.ts";
import { limitDefault } from "../limits.ts";
import { createLogger, type Logger } from "../log.ts";
import { startOrder } from "./order.ts";
import { validateService, type Service, type ServiceContext } from "./service.ts";
import { realTimers, withTimeout, type Timers } from "./timers.ts";
import { Deadline } from "./deadline.ts";

export type ServiceState = "stopped" | "starting" | "running" | "stopping" | "failed" | "restarting";

export interface StateChange {
  readonly name: string;
  readonly from: ServiceState;
  readonly to: ServiceState;
  readonly error?: Error;
  /** On `restarting`: how long until the next start. */
  readonly delayMs?: number;
}

export interface ServiceStatus {
  readonly name: string;
  readonly state: ServiceState;
  readonly critical: boolean;
  readonly dependsOn: readonly string[];
  /** Restarts after crashes since the supervisor was created. */
  readonly restarts: number;
  readonly lastError?: string;
  /** When the service entered its state (ms since epoch, from the timers' clock). */
  readonly since: number;
}

export interface SupervisorOptions {
  logger?: Logger;
  restartLimit?: number;
  restartWindowMs?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  stopTimeoutMs?: number;
  /** Injected clock and timers (tests use a fake one to skip backoff waits). */
  timers?: Timers;
}

export class ServiceFailedError extends SwitchboardError {
  readonly service: string;
  constructor(service: string, cause: Error | undefined) {
    super("service_failed", `critical service "${service}" failed${cause ? `: ${cause.message}` : ""}`, { cause });
    this.service = service;
  }
}

interface Entry {
  readonly svc: Service;
  state: ServiceState;
  since: number;
  gen: number;
  controller?: AbortController;
  /** The current run's start() + main() work, awaited on stop. */
  work: Promise<unknown>[];
  crashes: number[];
  restarts: number;
  lastError?: Error;
  timer?: unknown;
}

type Events = { state: [StateChange]; fatal: [{ name: string; error: Error }] };

export class Supervisor extends EventEmitter<Events> {
  readonly #entries = new Map<string, Entry>();
  readonly #log: Logger;
  readonly #timers: Timers;
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #stopTimeoutMs: number;
  #order: string[] = [];
  #phase: "idle" | "starting" | "started" | "stopping" | "stopped" = "idle";

  constructor(options: SupervisorOptions = {}) {
    super();
    this.#log = (options.logger ?? createLogger({ level: "silent" })).child({ component: "services" });
    this.#timers = options.timers ?? realTimers;
    this.#limit = options.restartLimit ?? limitDefault("serviceRestartLimit");
    this.#windowMs = options.restartWindowMs ?? limitDefault("serviceRestartWindowMs");
    this.#baseMs = options.backoffBaseMs ?? limitDefault("serviceBackoffBaseMs");
    this.#maxMs = options.backoffMaxMs ?? limitDefault("serviceBackoffMaxMs");
    this.#stopTimeoutMs = options.stopTimeoutMs ?? limitDefault("serviceStopTimeoutMs");
  }

  /** Register a service (before startAll). Returns it, with its own type. */
  add<S extends Service>(svc: S): S {
    validateService(svc);
    if (this.#phase !== "idle") throw new StateError(`service "${svc.name}" added after the services were started`);
    if (this.#entries.has(svc.name)) throw new StateError(`a service named "${svc.name}" is already registered`);
    this.#entries.set(svc.name, { svc, state: "stopped", since: this.#timers.now(), gen: 0, work: [], crashes: [], restarts: 0 });
    return svc;
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /** The service object registered under `name`, typed by the caller: `get<typeof db>("db")`. */
  get<S extends Service = Service>(name: string): S {
    return this.#entry(name).svc as S;
  }

  state(name: string): ServiceState {
    return this.#entry(name).state;
  }

  /** A snapshot of every service, in start order (registration order before start). */
  states(): ServiceStatus[] {
    const names = this.#order.length > 0 ? this.#order : [...this.#entries.keys()];
    return names.map((name) => {
      const e = this.#entry(name);
      return {
        name, state: e.state, critical: e.svc.critical === true, dependsOn: e.svc.dependsOn ?? [],
        restarts: e.restarts, since: e.since, ...(e.lastError ? { lastError: e.lastError.message } : {}),
      };
    });
  }

  /**
   * Start every service in dependency order, each once its dependencies run. Resolves when each
   * is running or failed; rejects (after stopping what started) if a critical one failed, or
   * at once if the dependencies are unknown or circular.
   */
  async startAll(): Promise<void> {
    if (this.#phase !== "idle") throw new StateError("services were already started");
    this.#order = startOrder([...this.#entries.values()].map((e) => e.svc));
    this.#phase = "starting";
    for (const name of this.#order) {
      if (this.#phase !== "starting") break; // a critical failure or a stop interrupted start-up
      const entry = this.#entry(name);
      const down = (entry.svc.dependsOn ?? []).find((dep) => this.#entry(dep).state !== "running");
      if (down !== undefined) {
        this.#fail(entry, new Error(`dependency "${down}" is not running`));
        continue;
      }
      await this.#startAndSettle(entry);
    }
    const fatal = this.#order.map((n) => this.#entry(n)).find((e) => e.state === "failed" && e.svc.critical);
    if (fatal !== undefined) {
      await this.stopAll();
      throw new ServiceFailedError(fatal.svc.name, fatal.lastError);
    }
    if (this.#phase === "starting") this.#phase = "started";
  }

  /**
   * Stop every service in reverse start order, all of them within `budgetMs` (default
   * `stopTimeoutMs`): each waits only for what is left of it, and once it is spent the rest are
   * still asked to stop, without a wait. Safe to call twice; the second call waits for the first.
   */
  async stopAll(budgetMs: number = this.#stopTimeoutMs): Promise<void> {
    if (this.#phase === "stopping" || this.#phase === "stopped") return this.#stopped;
    this.#phase = "stopping";
    const deadline = new Deadline(budgetMs, this.#timers);
    this.#stopped = (async () => {
      for (const name of [...this.#order].reverse()) await this.#stopEntry(this.#entry(name), deadline.remaining());
      this.#phase = "stopped";
    })();
    return this.#stopped;
  }
  #stopped: Promise<void> = Promise.resolve();

  /** Stop one service and start it again (operator command). Its crash history is forgotten. */
  async restart(name: string): Promise<ServiceState> {
    const entry = this.#entry(name);
    if (this.#phase !== "started") throw new StateError(`services are ${this.#phase}; restart "${name}" only while the server runs`);
    // Listeners and the control socket cannot come back once stopped (and the control socket
    // would cut off the very request asking for it): restartLimit 0 means no restart at all.
    if (entry.svc.restartLimit === 0) throw new StateError(`service "${name}" is not restartable (restartLimit 0)`);
    await this.#stopEntry(entry);
    entry.crashes = [];
    await this.#startAndSettle(entry);
    return entry.state;
  }

  /**
   * While the services run: stop the service of this name (if any) and start `svc` in its
   * place, with a fresh crash history; a new name is added at the end of the order (stopped
   * first). `switchboard serve --watch` uses it when a service file changes.
   */
  async replace(svc: Service): Promise<ServiceState> {
    validateService(svc);
    if (this.#phase !== "started") throw new StateError(`services are ${this.#phase}; replace "${svc.name}" only while the server runs`);
    const old = this.#entries.get(svc.name);
    if (old !== undefined) {
      if (old.svc.restartLimit === 0) throw new StateError(`service "${svc.name}" is not replaceable (restartLimit 0)`);
      await this.#stopEntry(old);
    } else {
      this.#order.push(svc.name);
    }
    const entry: Entry = { svc, state: "stopped", since: this.#timers.now(), gen: 0, work: [], crashes: [], restarts: old === undefined ? 0 : old.restarts + 1 };
    this.#entries.set(svc.name, entry);
    if (this.#phase !== "started") return entry.state; // a server stop began while the old one stopped
    const down = (svc.dependsOn ?? []).find((dep) => this.#entries.get(dep)?.state !== "running");
    if (down !== undefined) this.#fail(entry, new Error(`dependency "${down}" is not running`));
    else await this.#startAndSettle(entry);
    return entry.state;
  }

  /** While the services run: stop a service and forget it (its file was deleted under --watch). */
  async remove(name: string): Promise<void> {
    const entry = this.#entry(name);
    if (this.#phase !== "started") throw new StateError(`services are ${this.#phase}; remove "${name}" only while the server runs`);
    if (entry.svc.restartLimit === 0) throw new StateError(`service "${name}" is not removable (restartLimit 0)`);
    await this.#stopEntry(entry);
    if (this.#phase !== "started") return; // a server stop has begun and walks the order: leave it stopped in place
    this.#entries.delete(name);
    this.#order = this.#order.filter((n) => n !== name);
  }

  #entry(name: string): Entry {
    const entry = this.#entries.get(name);
    if (entry === undefined) {
      throw new StateError(`no service named "${name}" (known: ${[...this.#entries.keys()].join(", ") || "none"})`);
    }
    return entry;
  }

  #setState(entry: Entry, to: ServiceState, error?: Error, delayMs?: number): void {
    const from = entry.state;
    if (from === to) return;
    entry.state = to;
    entry.since = this.#timers.now();
    this.#log.debug({ service: entry.svc.name, from, to, err: error }, "service state");
    this.emit("state", { name: entry.svc.name, from, to, ...(error ? { error } : {}), ...(delayMs !== undefined ? { delayMs } : {}) });
  }

  async #startAndSettle(entry: Entry): Promise<void> {
    const settled = new Promise<void>((resolve) => {
      const onState = (change: StateChange): void => {
        if (change.name !== entry.svc.name) return;
        if (change.to === "running" || change.to === "failed" || change.to === "stopped") {
          this.off("state", onState);
          resolve();
        }
      };
      this.on("state", onState);
    });
    this.#launch(entry);
    await settled;
  }

  #launch(entry: Entry): void {
    const gen = ++entry.gen;
    const controller = new AbortController();
    entry.controller = controller;
    entry.timer = undefined;
    entry.work = [];
    const current = (): boolean => entry.gen === gen;
    const ctx = this.#context(entry, current);
    this.#setState(entry, "starting");
    const run = (async () => {
      try {
        await entry.svc.start?.(controller.signal, ctx);
      } catch (err) {
        if (current()) this.#crash(entry, asError(err));
        return;
      }
      if (!current()) return;
      this.#setState(entry, "running");
      if (entry.svc.main === undefined) return;
      try {
        await entry.svc.main(controller.signal, ctx);
        if (current()) this.#crash(entry, new Error("main loop returned without being asked to stop"));
      } catch (err) {
        if (current()) this.#crash(entry, asError(err));
      }
    })();
    entry.work.push(run);
  }

  #context(entry: Entry, current: () => boolean): ServiceContext {
    const log = this.#log.child({ service: entry.svc.name });
    return {
      log,
      fail: (err) => {
        if (current() && (entry.state === "running" || entry.state === "starting")) this.#crash(entry, asError(err));
      },
      get: <S extends Service>(name: string) => this.get<S>(name),
    };
  }

  /**
   * A run died: `stopping` while its stop() cleans up, then `restarting` (the change carries
   * the backoff delay) and a timer, or `failed` once the restart limit is hit.
   */
  #crash(entry: Entry, error: Error): void {
    entry.gen++; // whatever the dead run does from now on is ignored
    const gen = entry.gen;
    entry.lastError = error;
    entry.controller?.abort(error);
    const now = this.#timers.now();
    entry.crashes = entry.crashes.filter((t) => t > now - this.#windowMs);
    entry.crashes.push(now);
    const name = entry.svc.name;
    const giveUp = entry.crashes.length > (entry.svc.restartLimit ?? this.#limit) || this.#phase === "stopping" || this.#phase === "stopped";
    this.#setState(entry, "stopping", error);
    void this.#callStop(entry, "after a crash").then(() => {
      if (entry.gen !== gen) return; // stopped or restarted by hand meanwhile
      if (giveUp) {
        this.#log.error({ service: name, err: error, crashes: entry.crashes.length }, "service failed; not restarting");
        this.#fail(entry, error);
        return;
      }
      const delayMs = Math.min(this.#baseMs * 2 ** (entry.crashes.length - 1), this.#maxMs);
      this.#log.warn({ service: name, err: error, delayMs, attempt: entry.crashes.length }, "service crashed; restarting");
      entry.timer = this.#timers.setTimeout(() => {
        entry.timer = undefined;
        if (entry.gen !== gen || entry.state !== "restarting") return;
        entry.restarts++;
        this.#launch(entry);
      }, delayMs);
      this.#setState(entry, "restarting", error, delayMs);
    });
  }

  #fail(entry: Entry, error: Error): void {
    entry.lastError = error;
    this.#setState(entry, "failed", error);
    if (entry.svc.critical) {
      if (this.#phase === "starting") this.#phase = "started"; // startAll sees the failure and stops
      this.emit("fatal", { name: entry.svc.name, error });
    }
  }

  /** Call stop() and wait for the run's work, at most `waitMs` (default stopTimeoutMs); errors are logged. */
  async #callStop(entry: Entry, why: string, waitMs: number = this.#stopTimeoutMs): Promise<void> {
    const name = entry.svc.name;
    const stop = (async () => {
      try {
        await entry.svc.stop?.();
      } catch (err) {
        this.#log.error({ service: name, err }, `service stop() threw ${why}`);
      }
    })();
    const finished = await withTimeout(Promise.all([stop, ...entry.work]), waitMs, this.#timers);
    if (!finished) this.#log.error({ service: name, timeoutMs: waitMs }, `service did not stop in time ${why}; left behind`);
  }

  async #stopEntry(entry: Entry, waitMs: number = this.#stopTimeoutMs): Promise<void> {
    if (entry.timer !== undefined) this.#timers.clearTimeout(entry.timer);
    entry.timer = undefined;
    const was = entry.state;
    entry.gen++;
    if (was === "stopped" || was === "failed") return;
    if (was === "restarting") {
      this.#setState(entry, "stopped");
      return;
    }
    this.#setState(entry, "stopping");
    entry.controller?.abort(new Error("service stopping"));
    await this.#callStop(entry, "on stop", waitMs);
    this.#setState(entry, "stopped");
  }
}
