/**
 * Server: owns the HTTP listener, the endpoints and the heartbeat; start() and stop().
 * No protocol logic lives here: it wires the transport to the endpoints.
 */
import type { IncomingMessage } from "node:http";
import { createLogger, LevelFlags, setLoggerLevel, type LogLevelName, type Logger } from "./log.ts";
import { OptionError, StateError } from "./errors.ts";
import { CloseCode, isSendableCloseCode } from "./protocol/close-codes.ts";
import { resolveEndpointLimits, resolveServerOptions, limit, validateEndpointOptions, type EndpointOptions, type ResolvedServerOptions, type ServerOptions } from "./options.ts";
import { Endpoint, type EndpointStats } from "./endpoint/endpoint.ts";
import { ConnectionIds, prefixForPath } from "./endpoint/ids.ts";
import { HttpListener, type HttpHandler, type HttpMiddleware, type JsonPostHandler, type PostRouteOptions, type UpgradeRoute } from "./transport/http.ts";
import { limitDefault } from "./limits.ts";
import { mountOps, type OpsHost } from "./ops/index.ts";
import { serverContext } from "./control/server-context.ts";
import { WebSocketAcceptor, prepare } from "./transport/websocket.ts";
import { toHandshakeRequest } from "./transport/handshake-request.ts";
import { clientAddress } from "./transport/forwarded.ts";
import { loadTls, type CertificateInfo, type TlsMaterial, type TlsOptions } from "./transport/tls.ts";
import { Heartbeat } from "./endpoint/heartbeat.ts";
import { ServerServices, type ServiceGroup } from "./runtime/server-services.ts";
import type { Service } from "./runtime/service.ts";
import type { Supervisor } from "./runtime/supervisor.ts";
import type { InFlight } from "./runtime/inflight.ts";
import { Deadline } from "./runtime/deadline.ts";
import { withTimeout } from "./runtime/timers.ts";
import { App, type AppOptions } from "./app/app.ts";
import { CLIENT_BUNDLE_PATH, clientBundleHandler } from "./app/client-bundle.ts";
import { TcpListener, type TcpOptions, type TcpStats } from "./transport/tcp.ts";
import { UdpListener, type UdpOptions, type UdpStats } from "./transport/udp.ts";
import { ClusterService, type ClusterStats } from "./cluster/index.ts";
import { resolveMetricsOptions, type ResolvedMetricsOptions } from "./observe/metrics-options.ts";
import { ServerMetrics } from "./observe/metrics.ts";
import { MetricsListener, metricsHandler } from "./observe/metrics-http.ts";
import { readiness, type Readiness } from "./observe/readiness.ts";
import { ServerTaskObserver } from "./observe/task-observer.ts";

export interface StopOptions {
  /**
   * The stop deadline, counted from this call: work still running then is aborted and
   * connections are closed; what is open `stopGraceMs` later is destroyed. Default: `stopTimeoutMs`.
   */
  timeoutMs?: number;
  /** Close code sent to every client. Default 1001 Going Away. */
  code?: number;
  reason?: string;
}

export interface ServerStats {
  uptimeSeconds: number;
  connections: number;
  pendingHandshakes: number;
  endpoints: EndpointStats[];
  /** Raw TCP and UDP listeners (server.tcp / server.udp). */
  listeners: Array<TcpStats | UdpStats>;
  /** This node, the bus, and every live node with its connection count (docs/cluster.md). */
  cluster: ClusterStats;
  /** With `tls`: the certificate new handshakes get, and TLS handshakes that failed. */
  tls?: { certificate: CertificateInfo; clientErrors: number; refused: number };
}

type State = "new" | "starting" | "running" | "stopping" | "stopped";

export class Server {
  readonly options: ResolvedServerOptions;
  readonly log: Logger;
  /** The cluster bus (`say` / `subscribe`) and presence; in memory unless `cluster.redis` is set. */
  readonly cluster: ClusterService;
  readonly #ids: ConnectionIds;
  // Endpoints hold different data types; the registry only needs their common surface.
  readonly #endpoints = new Map<string, { endpoint: Endpoint<any>; route: UpgradeRoute }>();
  readonly #http: HttpListener;
  readonly #heartbeat: Heartbeat;
  /** runtime/: supervised services (the HTTP listener is one) and in-flight work. */
  readonly #services: ServerServices;
  readonly #apps: App[] = [];
  // Raw TCP / UDP listeners: services started after the HTTP listener, stopped with it.
  readonly #listeners: Array<TcpListener<any> | UdpListener> = [];
  #state: State = "new";
  /** Cached debug/trace checks for the per-connection and per-message log lines (log.ts). */
  readonly #levels: LevelFlags;
  /** observe/: undefined unless `metrics.enabled` (prom-client is loaded only then). */
  readonly #metrics: ServerMetrics | undefined;
  readonly #metricsOptions: ResolvedMetricsOptions | undefined;
  readonly #metricsListener: MetricsListener | undefined;
  #startedAt = 0;
  #stopped?: Promise<void>;
  /** `tls` as given (reloadTls() reads its files again) and what is in force now. */
  #tlsSource: TlsOptions | undefined;
  #tls: TlsMaterial | undefined;

  constructor(options: ServerOptions = {}) {
    this.options = resolveServerOptions(options);
    this.log = createLogger(options.logger);
    this.#levels = new LevelFlags(this.log);
    this.#metricsOptions = resolveMetricsOptions(options.metrics);
    this.cluster = new ClusterService(options.cluster ?? {}, { logger: this.log, countConnections: () => this.#allConnectionCount() });
    this.#tlsSource = options.tls;
    this.#tls = this.options.tls;
    this.#ids = new ConnectionIds(this.cluster.kind === "memory" ? undefined : this.cluster.nodeId);
    this.#http = new HttpListener({
      port: this.options.port,
      host: this.options.host,
      handshakeTimeoutMs: this.options.handshakeTimeoutMs,
      maxPendingHandshakes: this.options.maxPendingHandshakes,
      maxHeaderBytes: this.options.maxHeaderBytes,
      maxRequestBodyBytes: this.options.api?.maxRequestBodyBytes ?? limitDefault("maxRequestBodyBytes"),
      log: this.log.child({ component: "http" }),
      route: (path) => this.#endpoints.get(path)?.route,
      health: () => ({ status: this.#state === "running" ? "ok" : this.#state, ...this.#healthCounts(), cluster: this.cluster.stats() }),
      ready: () => this.readiness(),
      tls: this.options.tls?.context,
    });
    this.#heartbeat = new Heartbeat(this.options.heartbeatMs, () => this.#allConnections());
    this.#services = new ServerServices(this.log, () => void this.stop().catch((err: unknown) => this.log.error({ err }, "stop after a critical failure failed")), this.options.services);
    // The listener is a service like the others; a port in use fails start() at once.
    this.#services.add({ name: "http", critical: true, restartLimit: 0, start: () => this.#http.listen(), stop: () => this.#http.stopAccepting() }, "listener");
    // Up before the listeners (a bounded wait for Redis), down after them. Never restarted: a
    // Redis outage is handled inside (reconnect with backoff), not by the supervisor.
    this.#services.add({ name: "cluster", restartLimit: 0, start: () => this.cluster.start(), stop: () => this.cluster.close() }, "runtime");
    this.#mountOps();
    if (this.#metricsOptions !== undefined) {
      const metrics = new ServerMetrics(this.#metricsSource());
      this.#metrics = metrics;
      const handler = metricsHandler(metrics, this.#metricsOptions.token, this.log.child({ component: "metrics" }));
      if (this.#metricsOptions.port === undefined) this.#http.get(this.#metricsOptions.path, handler);
      else {
        const listener = new MetricsListener({
          host: this.options.host, port: this.#metricsOptions.port, path: this.#metricsOptions.path, handler,
          log: this.log.child({ component: "metrics" }), timeoutMs: this.options.handshakeTimeoutMs, ready: () => this.readiness(),
        });
        this.#metricsListener = listener;
        this.#services.add({ name: "metrics", critical: true, restartLimit: 0, start: () => listener.listen(), stop: () => listener.close() }, "listener");
      }
    }
  }

  /** ops/: the server API and the admin page; mounted only when `api` or `admin` is set. */
  #mountOps(): void {
    if (this.options.api === undefined) return;
    const server = this;
    const host: OpsHost = {
      get endpoints() {
        return server.endpoints;
      },
      apps: () => this.#apps,
      services: this.#services.supervisor,
      cluster: this.cluster,
      uptimeSeconds: () => (this.#startedAt === 0 ? 0 : (Date.now() - this.#startedAt) / 1000),
      pendingHandshakes: () => this.#http.pendingHandshakes,
      logLevel: () => this.logLevel,
      setLogLevel: (level) => this.setLogLevel(level),
      // Commands over HTTP get the control socket's context; a stop is refused before it gets here.
      controlContext: () => serverContext(this, { stop: () => Promise.reject(new StateError("stop is not run over HTTP")), setLogLevel: (level) => this.setLogLevel(level) }),
    };
    mountOps(this, host, this.options.api, this.options.adminToken, this.log.child({ component: "api" }));
  }

  /** The log level in force (the server's logger and, through it, every child that has no level of its own). */
  get logLevel(): string {
    return this.log.level;
  }

  /**
   * Change the log level at run time (control command `log-level`, the admin dashboard). Child
   * loggers read their level through their parent, so the change reaches every existing one;
   * the cached debug/trace checks follow through pino's level-change event.
   */
  setLogLevel(level: string): LogLevelName {
    return setLoggerLevel(this.log, level);
  }

  /** The port of the metrics listener (`metrics.port`), or undefined when metrics share the main port or are off. */
  get metricsPort(): number | undefined {
    return this.#metricsListener?.port;
  }

  /** What /readyz answers: ready only while running, with the cluster up and every service running. */
  readiness(): Readiness {
    const { kind, status } = this.cluster.stats();
    return readiness({ state: this.#state, cluster: { kind, status }, services: this.#services.supervisor.states() });
  }

  /**
   * Register a supervised service (runtime/service.ts): started in dependency order before the
   * listeners accept traffic, restarted with backoff when it dies, stopped in reverse order.
   */
  service<S extends Service>(name: string, svc: S | Omit<S, "name">, group: ServiceGroup = "app"): S {
    const named = svc as S & { name?: string };
    if (named.name !== undefined && named.name !== name) throw new OptionError("service", `name "${name}" differs from the service's own name "${named.name}"`);
    if (named.name === undefined) Object.defineProperty(named, "name", { value: name, enumerable: true });
    return this.#services.add(named as S, group);
  }

  /** A registered service, typed by the caller: `server.getService<typeof cache>("cache")`. */
  getService<S extends Service = Service>(name: string): S {
    // Once started the supervisor has them all, including any replaced since (services.replace()).
    return this.#services.supervisor.has(name) ? this.#services.supervisor.get<S>(name) : this.#services.get<S>(name);
  }

  /** The service manager: `states()`, `restart(name)`, and `state` / `fatal` events. */
  get services(): Supervisor {
    return this.#services.supervisor;
  }

  /** In-flight work a graceful stop waits for (app tasks run through `work.run(fn)`). */
  get work(): InFlight {
    return this.#services.work;
  }

  /** Mount a WebSocket endpoint at an exact path. */
  endpoint<D = Record<string, unknown>>(path: string, options: EndpointOptions<D> = {}): Endpoint<D> {
    validateEndpointOptions(path, options as EndpointOptions<never>);
    if (this.#endpoints.has(path)) throw new OptionError("path", `an endpoint is already mounted at ${path}`);
    if (this.#state === "stopping" || this.#state === "stopped") throw new StateError("cannot add an endpoint to a stopped server");
    const limits = resolveEndpointLimits(options, this.options);
    const endpoint = new Endpoint<D>(path, options, limits, limit(options, "maxConnections"), options.idPrefix ?? prefixForPath(path), {
      ids: this.#ids,
      log: this.log,
      prepare,
      stopping: () => this.#state === "stopping" || this.#state === "stopped",
      levels: this.#levels,
    });
    const acceptor = new WebSocketAcceptor({
      maxPayload: limits.maxPayload,
      maxFragments: limits.maxFragments,
      closeTimeoutMs: limits.closeTimeoutMs,
      perMessageDeflate: limits.perMessageDeflate,
      decide: (req: IncomingMessage) => endpoint.decide(toHandshakeRequest(req, limits.perMessageDeflate !== false, this.options.trustProxy)),
      abandoned: () => endpoint.release(),
      // Behind a trusted proxy, listings and logs show the client, not the proxy.
      ...(this.options.trustProxy === undefined ? {} : { remoteAddress: (req: IncomingMessage) => clientAddress(req.socket.remoteAddress, req.headers, this.options.trustProxy) }),
    });
    const route: UpgradeRoute = {
      handleUpgrade: (req, socket, head, done) =>
        acceptor.handleUpgrade(req, socket, head, (transportSocket, decision) => {
          done();
          const conn = endpoint.attach(transportSocket, decision);
          // Decided before unmount() took the endpoint away: it goes the way of the others.
          if (this.#endpoints.get(path)?.endpoint !== endpoint) conn.close(CloseCode.ServiceRestart, "service restart");
        }),
    };
    this.#endpoints.set(path, { endpoint, route });
    return endpoint;
  }

  /**
   * Take a plain endpoint (not an app's) off its path while the server runs: upgrades to the
   * path get 404 from now on and its open connections are closed with `code` (default 1012
   * Service Restart, so clients reconnect). The path can be mounted again at once
   * (`server.endpoint(path, newOptions)`): that is how `switchboard serve --watch` reloads an
   * endpoint file. Resolves when its connections are gone or after `stopGraceMs`, whichever
   * comes first (what is still open then is destroyed).
   */
  async unmount(path: string, options: { code?: number; reason?: string } = {}): Promise<void> {
    const entry = this.#endpoints.get(path);
    if (entry === undefined) throw new OptionError("path", `no endpoint is mounted at ${path}`);
    if (this.#apps.some((app) => app.path === path)) throw new OptionError("path", `${path} is an app: apps cannot be unmounted`);
    if (options.code !== undefined && !isSendableCloseCode(options.code)) throw new OptionError("code", `${String(options.code)} is not a close code a server may send`);
    this.#endpoints.delete(path);
    const { endpoint } = entry;
    endpoint.enabled = false; // an upgrade already routed here and not yet decided is refused (503)
    const closed = endpoint.closeAll(options.code ?? CloseCode.ServiceRestart, options.reason ?? "service restart");
    if (!(await withTimeout(closed, this.options.stopGraceMs))) endpoint.terminateAll();
  }

  /** Mount an app: an endpoint that speaks the JSON protocol of docs/protocol.md. */
  app(path: string, options: AppOptions = {}): App {
    const app = new App(path, options, this.log, this.cluster, this.work);
    app.observeTasks(new ServerTaskObserver(path, this.#metrics, this.#levels, this.log.child({ app: path })));
    app.attach(this.endpoint(path, app.endpointOptions()));
    // The first app also serves the browser client (built on the first request, cached).
    if (this.#apps.length === 0) this.get(CLIENT_BUNDLE_PATH, clientBundleHandler(this.log));
    this.#apps.push(app);
    return app;
  }

  /** A raw TCP listener: one handler per connection from `protocol()`. Host defaults to the server's. Add before start(). */
  tcp<D = unknown>(options: Omit<TcpOptions<D>, "logger" | "ids">): TcpListener<D> {
    return this.#addListener(new TcpListener<D>({ host: this.options.host, ...options, logger: this.log, ids: this.#ids }));
  }

  /** A UDP request/response listener. Add before start(). */
  udp(options: Omit<UdpOptions, "logger">): UdpListener {
    return this.#addListener(new UdpListener({ host: this.options.host, ...options, logger: this.log }));
  }

  #addListener<L extends TcpListener<any> | UdpListener>(listener: L): L {
    if (this.#state !== "new") throw new StateError(`add tcp/udp listeners before start(); the server is ${this.#state}`);
    this.#listeners.push(listener);
    // A supervised service like the HTTP listener: a port in use fails start() at once.
    const kind = listener instanceof TcpListener ? "tcp" : "udp";
    const name = `${kind}-${this.#listeners.filter((l) => (l instanceof TcpListener ? "tcp" : "udp") === kind).length}`;
    this.#services.add({ name, critical: true, restartLimit: 0, start: (signal) => listener.start(signal), stop: () => listener.stop() }, "listener");
    return listener;
  }

  /** The mounted endpoints, by path. */
  get endpoints(): ReadonlyMap<string, Endpoint<unknown>> {
    return new Map([...this.#endpoints].map(([path, entry]) => [path, entry.endpoint as Endpoint<unknown>]));
  }

  /** Answer plain HTTP GET/HEAD requests at an exact path. */
  get(path: string, handler: HttpHandler): void {
    this.#http.get(path, handler);
  }

  /** Answer POST requests with a JSON body at an exact path (413 / 415 / 400 / 405 answered for you). */
  post(path: string, handler: JsonPostHandler, options?: PostRouteOptions): void {
    this.#http.post(path, handler, options);
  }

  /** Add HTTP middleware, tried in order before the 404 (e.g. static files). */
  use(middleware: HttpMiddleware): void {
    this.#http.use(middleware);
  }

  /** The bound port (the real one after start() with port 0). */
  get port(): number {
    return this.#http.port;
  }

  /** A URL for a path on this server: ws:// for endpoints, http:// otherwise (wss:// and https:// with `tls`). */
  url(path = "/", scheme?: "ws" | "http"): string {
    const host = this.options.host.includes(":") ? `[${this.options.host}]` : this.options.host;
    const plain = scheme ?? (this.#endpoints.has(path) ? "ws" : "http");
    const chosen = this.#tls === undefined ? plain : `${plain}s`;
    return `${chosen}://${host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host}:${this.port}${path}`;
  }

  /** The certificate new TLS handshakes get; undefined without `tls`. */
  get tlsCertificate(): CertificateInfo | undefined {
    return this.#tls?.certificate;
  }

  /**
   * Load the TLS key and certificate again — from `options`, else by re-reading the files of
   * the `tls` option — and use them for new handshakes; open connections are not touched. On
   * any error (a missing file, not PEM, a key that does not match) the certificate in force
   * stays and the OptionError is thrown. Standalone: SIGHUP and `switchboard command reload-tls`.
   */
  reloadTls(options?: TlsOptions): CertificateInfo {
    if (this.#tlsSource === undefined) throw new StateError("reloadTls(): this server was created without the tls option");
    let material: TlsMaterial;
    try {
      material = loadTls(options ?? this.#tlsSource);
    } catch (err) {
      this.log.error({ err }, "TLS reload failed: the certificate in force stays");
      throw err;
    }
    this.#http.setSecureContext(material.context);
    if (options !== undefined) this.#tlsSource = options;
    this.#tls = material;
    this.log.info({ certificate: material.certificate }, "TLS certificate reloaded");
    return material.certificate;
  }

  get state(): State {
    return this.#state;
  }

  async start(): Promise<void> {
    if (this.#state !== "new") throw new StateError(`start() called on a server that is ${this.#state}`);
    this.#state = "starting";
    try {
      await this.#services.start();
    } catch (err) {
      if (this.#stopped !== undefined) throw err; // a stop() during start-up is cleaning up already
      // Clean up what did start, bounded like a stop: nothing here may hang the failed start().
      const cleanup = Promise.all([this.#http.stopAccepting(), ...this.#listeners.map((listener) => listener.terminate()), this.cluster.close()]);
      if (!(await withTimeout(cleanup, this.options.services.stopTimeoutMs))) this.log.error("cleanup after a failed start did not finish in time; left behind");
      this.#http.closeAll();
      this.#metrics?.close();
      this.#levels.dispose();
      this.#state = "stopped";
      throw err;
    }
    // stop() during start-up has stopped what started: this server does not run after all.
    if (this.#stopped !== undefined) throw new StateError("stop() was called while the server was starting");
    this.#startedAt = Date.now();
    this.#heartbeat.start();
    this.#state = "running";
    this.log.info({ port: this.port, host: this.options.host, endpoints: [...this.#endpoints.keys()] }, "listening");
  }

  /**
   * Graceful stop: stop accepting, let running work finish, close every connection with 1001,
   * wait for the closing handshakes, destroy what is left at the deadline, stop the services.
   * Resolves within stopTimeoutMs + stopGraceMs + serviceStopTimeoutMs whatever user code does.
   * Safe to call more than once: every call returns the first call's promise.
   */
  stop(options: StopOptions = {}): Promise<void> {
    if (this.#stopped === undefined) {
      const boundMs = (options.timeoutMs ?? this.options.stopTimeoutMs) + this.options.stopGraceMs + this.options.services.stopTimeoutMs;
      // The runtime's timers are unref'd; a stop in progress must still keep the process alive.
      const keepAlive = setTimeout(() => undefined, boundMs);
      this.#stopped = this.#stop(options).finally(() => clearTimeout(keepAlive));
    }
    return this.#stopped;
  }

  stats(): ServerStats {
    return {
      uptimeSeconds: this.#startedAt === 0 ? 0 : (Date.now() - this.#startedAt) / 1000,
      connections: this.#allConnectionCount(),
      pendingHandshakes: this.#http.pendingHandshakes,
      endpoints: [...this.#endpoints.values()].map(({ endpoint }) => endpoint.stats()),
      listeners: this.#listeners.map((listener) => listener.stats()),
      cluster: this.cluster.stats(),
      ...(this.#tls === undefined ? {} : { tls: { certificate: this.#tls.certificate, clientErrors: this.#http.tlsClientErrors, refused: this.#http.tlsRefused } }),
    };
  }

  /**
   * Every wait below has a deadline (docs/guide.md#stopping). Two of them: the traffic part
   * (work, closing handshakes, TCP/UDP drains) ends by `timeoutMs` + grace from the call; the
   * services then have `serviceStopTimeoutMs` all together.
   */
  async #stop(options: StopOptions): Promise<void> {
    const timeoutMs = options.timeoutMs ?? this.options.stopTimeoutMs;
    const graceMs = Math.min(this.options.stopGraceMs, timeoutMs);
    const deadline = new Deadline(timeoutMs);
    this.#state = "stopping";
    this.#heartbeat.stop();
    const listenerClosed = this.#http.stopAccepting();
    const rawStopped = Promise.all(this.#listeners.map((listener) => listener.stop()));

    // 1. Running tasks finish and their replies go out while the connections are still open.
    //    Requests arriving meanwhile are refused (overloaded). At the deadline their signals abort.
    const work = this.#services.work;
    work.close();
    const running = work.size;
    const cutOff = (await work.settled(deadline.remaining())) ? 0 : work.abortAll();
    for (const app of this.#apps) app.stop(); // anything still running sees its signal fire

    // 2. Close every connection with 1001. They have what is left of the deadline, and at least
    //    the grace when the work used it all; meanwhile TCP/UDP drain and aborted work may end.
    const drained = Promise.all([...this.#endpoints.values()].map(({ endpoint }) => endpoint.closeAll(options.code ?? CloseCode.GoingAway, options.reason ?? "server stopping")));
    await withTimeout(Promise.all([drained, rawStopped, work.idle()]), Math.max(deadline.remaining(), graceMs));

    // 3. The hard deadline: destroy what is still open; leave behind (and log) what still runs.
    if (cutOff > 0) {
      const abandoned = work.size;
      this.log.warn({ finished: running - cutOff, aborted: cutOff - abandoned, abandoned }, "stop deadline reached: in-flight work aborted");
    }
    const open = this.#allConnectionCount();
    if (open > 0) {
      this.log.warn({ open }, "stop deadline reached: destroying remaining connections");
      for (const { endpoint } of this.#endpoints.values()) endpoint.terminateAll();
    }
    for (const listener of this.#listeners) void listener.terminate(); // a no-op for a listener that has stopped
    this.#http.closeAll();

    // 4. The services, in reverse order, within serviceStopTimeoutMs all together; the sockets
    //    destroyed above finish closing meanwhile.
    const services = new Deadline(this.options.services.stopTimeoutMs);
    if (!(await withTimeout(Promise.all([drained, listenerClosed, rawStopped]), services.remaining()))) {
      this.log.error("sockets destroyed at the stop deadline have not closed; going on");
    }
    // The cluster (a runtime service) stops last: the connections' close hooks took them
    // out of the cluster's rooms first.
    for (const app of this.#apps) app.detach();
    await this.#services.stop(services.remaining());
    // Idempotent; also when the server never started (the bus exists from createServer).
    if (!(await withTimeout(this.cluster.close(), services.remaining()))) this.log.error("the cluster did not close in time; left behind");
    this.#metrics?.close();
    this.#levels.dispose();
    this.#state = "stopped";
    this.log.info("stopped");
  }

  *#allConnections() {
    for (const { endpoint } of this.#endpoints.values()) yield* endpoint.connections.values();
  }

  #allConnectionCount(): number {
    let n = 0;
    for (const { endpoint } of this.#endpoints.values()) n += endpoint.connections.size;
    return n;
  }

  #metricsSource() {
    return {
      endpoints: () => [...this.#endpoints.values()].map(({ endpoint }) => endpoint.stats()),
      listenerRefusals: () => this.#http.refusedByStatus,
      pendingHandshakes: () => this.#http.pendingHandshakes,
      apps: () => this.#apps.map((app) => ({ path: app.path, stats: app.stats(), members: app.rooms.list().reduce((n, room) => n + app.rooms.size(room), 0) })),
      cluster: () => this.cluster.stats(),
      services: () => this.#services.supervisor.states(),
    };
  }

  #healthCounts() {
    const endpoints: Record<string, number> = {};
    for (const [path, { endpoint }] of this.#endpoints) endpoints[path] = endpoint.connections.size;
    return { uptimeSeconds: this.#startedAt === 0 ? 0 : Math.round((Date.now() - this.#startedAt) / 1000), connections: this.#allConnectionCount(), endpoints };
  }
}

export function createServer(options: ServerOptions = {}): Server {
  return new Server(options);
}
