/**
 * Run a Server as a standalone process (what `switchboard serve` does once the server is
 * built): take the lock file, add the control socket as a runtime service, install signal
 * handlers, start. It ends in one place: a graceful stop (signal, `switchboard stop`, or a
 * critical service failing), the lock released, and the exit code.
 */
import type { Server } from "../server.ts";
import type { App } from "../app/app.ts";
import { createCommandTable, type TlsReloadContext } from "../control/builtin-commands.ts";
import type { CommandTable } from "../control/commands.ts";
import type { Dispatch } from "../control/protocol.ts";
import { ControlServer, controlService, DEFAULT_CONTROL_SOCKET, type ControlServerOptions } from "../control/server.ts";
import { serverContext } from "../control/server-context.ts";
import { acquireLock, DEFAULT_LOCK_FILE, type Lock } from "./lockfile.ts";
import { ExitCode, installShutdown, type ShutdownHandle, type SignalSource } from "./shutdown.ts";
import type { StateChange } from "./supervisor.ts";

export const CONTROL_SERVICE = "control";

export interface StandaloneOptions {
  /** Lock file path; default `switchboard.lock` in the working directory; false: no lock. */
  lockFile?: string | false;
  /** Control socket path; default `switchboard.sock` in the working directory; false: none. */
  controlSocket?: string | false;
  /** The control socket's limits (controlMaxLineBytes, …); default: each limit's default. */
  control?: Pick<ControlServerOptions, "maxLineBytes" | "maxConnections" | "maxBufferedBytes" | "stopGraceMs">;
  /** Command table with the app's own commands registered; default: the built-ins. */
  commands?: CommandTable;
  /** Change the log level (`log-level` command); default: the server's logger. */
  setLogLevel?: (level: string) => string;
  nodeId?: () => string | undefined;
  rooms?: (path: string) => number | undefined;
  /** The server's apps by path: `status` lists their rooms, `push` publishes through them. */
  apps?: () => ReadonlyMap<string, App>;
  /** Injected for tests. */
  exit?: (code: number) => void;
  process?: SignalSource;
}

export interface Standalone {
  readonly lock: Lock | undefined;
  readonly control: ControlServer | undefined;
  readonly shutdown: ShutdownHandle;
  /** Resolves with the exit code once stopped (exit() has been called with it by then). */
  readonly exited: Promise<number>;
  /** The control commands against this server (what the control socket runs; a --workers worker runs what its primary forwards). */
  readonly dispatch: Dispatch;
}

/** Start `server` as a process. Throws (lock held, control socket in use, start failed) with nothing left behind. */
export async function runStandalone(server: Server, options: StandaloneOptions = {}): Promise<Standalone> {
  const log = server.log;
  const lock = options.lockFile === false ? undefined : acquireLock(options.lockFile ?? DEFAULT_LOCK_FILE, { logger: log });
  let resolveExited!: (code: number) => void;
  const exited = new Promise<number>((r) => (resolveExited = r));
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const shutdown = installShutdown({
    logger: log,
    ...(options.process ? { process: options.process } : {}),
    stop: async () => {
      try {
        await server.stop();
      } finally {
        lock?.release();
      }
    },
    exit: (code) => {
      resolveExited(code);
      exit(code);
    },
  });

  const commands = options.commands ?? createCommandTable();
  const context: ReturnType<typeof serverContext> & TlsReloadContext = serverContext(server, {
    stop: (progress) => stopFromControl(server, shutdown, progress),
    ...(options.setLogLevel ? { setLogLevel: options.setLogLevel } : {}),
    ...(options.nodeId ? { nodeId: options.nodeId } : {}),
    ...(options.rooms ? { rooms: options.rooms } : {}),
    ...(options.apps ? { apps: options.apps } : {}),
  });
  context.reloadTls = () => server.reloadTls();
  const dispatch = commands.dispatcher(context);
  let control: ControlServer | undefined;
  if (options.controlSocket !== false) {
    control = new ControlServer({ ...options.control, path: options.controlSocket ?? DEFAULT_CONTROL_SOCKET, dispatch, logger: log });
    server.service(CONTROL_SERVICE, controlService(control, CONTROL_SERVICE), "runtime");
  }
  try {
    await server.start();
  } catch (err) {
    shutdown.uninstall();
    lock?.release();
    throw err;
  }
  // After start-up, a critical service failing for good: the Server stops itself; exit 1.
  // (During start-up the same failure makes start() throw instead.)
  server.services.on("fatal", () => void shutdown.trigger("critical service failed", ExitCode.Error));
  if (server.tlsCertificate !== undefined) reloadTlsOnHangup(server, options.process);
  log.info({ port: server.port, controlSocket: control?.path, lockFile: lock?.path }, "server ready");
  return { lock, control, shutdown, exited, dispatch };
}

/**
 * SIGHUP re-reads the TLS files (certificate renewal, as nginx does); only with TLS, so that
 * without it SIGHUP keeps its default meaning. A failed reload keeps the old certificate.
 */
function reloadTlsOnHangup(server: Server, source: SignalSource | undefined): void {
  const proc = (source ?? process) as unknown as { on(signal: "SIGHUP", listener: () => void): unknown };
  proc.on("SIGHUP", () => {
    try {
      server.reloadTls();
    } catch {
      // reloadTls() has logged why; the certificate in force stays and the server runs on.
    }
  });
}

/**
 * `switchboard stop`: start the graceful stop and report each phase; resolve when only the
 * control socket is left, so the reply still goes out before it closes.
 */
function stopFromControl(server: Server, shutdown: ShutdownHandle, progress: (phase: string) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const connections = [...server.endpoints.values()].reduce((n, ep) => n + ep.connections.size, 0);
    progress(`refusing new connections; ${server.work.size} task(s) to finish, ${connections} connection(s) to close with 1001`);
    const onState = (change: StateChange): void => {
      if (change.to !== "stopping") return;
      if (change.name === CONTROL_SERVICE) {
        server.services.off("state", onState);
        resolve();
      } else {
        progress(`stopping service ${change.name}`);
      }
    };
    server.services.on("state", onState);
    void shutdown.trigger("switchboard stop").then(() => {
      server.services.off("state", onState);
      resolve();
    });
  });
}
