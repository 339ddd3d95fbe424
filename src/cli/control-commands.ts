/**
 * The CLI commands that talk to a running server over its control socket:
 *
 *   switchboard stop                      graceful stop; prints each phase
 *   switchboard status [--json]           a readable table, or the raw JSON
 *   switchboard command NAME [ARGS...]    any control command (`command help` lists them)
 *
 * Each takes `--socket PATH`; the program's owner may pass `resolveSocket` to find the socket
 * from the config file the way `serve` does (then `--config FILE` is offered too).
 */
import type { WorkersStatus } from "./workers.ts";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Command } from "commander";
import { resolveConfig } from "../config/resolve.ts";
import { CONFIG_FILE_NAMES } from "../config/load.ts";
import { DEFAULT_STATUS_ROOMS, type StatusResult } from "../control/builtin-commands.ts";
import { DEFAULT_LOCK_FILE } from "../runtime/lockfile.ts";
import type { EndpointInfo } from "../control/context.ts";
import { DEFAULT_CONTROL_SOCKET } from "../control/server.ts";
import type { ServiceStatus } from "../runtime/supervisor.ts";
import { NoServerError, sendCommand } from "./control-client.ts";

export interface ControlCommandsOptions {
  /** Where the socket is, given the command's options (`socket`, `config`). Default: --socket, else ./switchboard.sock. */
  resolveSocket?: (opts: { socket?: string; config?: string }) => string | Promise<string>;
  /** Results (default: stdout). */
  out?: (text: string) => void;
  /** Progress and errors (default: stderr). */
  err?: (text: string) => void;
  /** Default: sets process.exitCode. */
  setExitCode?: (code: number) => void;
  /** How long to wait for a reply (default 30 s; `stop` waits as long as the stop takes plus this). */
  timeoutMs?: number;
}

/** Exit codes of the control CLI commands. */
export const CliExit = { Ok: 0, CommandFailed: 1, NoServer: 3 } as const;

interface CommonOpts {
  socket?: string;
  config?: string;
  json?: boolean;
  app?: string;
  rooms?: string;
}

export function addControlCommands(program: Command, options: ControlCommandsOptions = {}): Command {
  const out = options.out ?? ((t: string) => process.stdout.write(`${t}\n`));
  const err = options.err ?? ((t: string) => process.stderr.write(`${t}\n`));
  const setExitCode = options.setExitCode ?? ((c: number) => { process.exitCode = c; });
  const timeoutMs = options.timeoutMs ?? 30_000;
  const socketOf = async (opts: CommonOpts): Promise<string> =>
    options.resolveSocket ? await options.resolveSocket(opts) : opts.socket ?? DEFAULT_CONTROL_SOCKET;

  const common = (cmd: Command): Command => {
    cmd.option("-s, --socket <path>", `control socket of the server (default: ./${DEFAULT_CONTROL_SOCKET})`);
    if (options.resolveSocket) cmd.option("-c, --config <file>", "find the control socket in this config file, as `serve` does");
    return cmd;
  };

  /** Run one request; print errors in one line with what to do; set the exit code. */
  const run = async (opts: CommonOpts, command: string, args: string[], show: (result: unknown) => void, waitForClose = false) => {
    try {
      const path = await socketOf(opts);
      const result = await sendCommand(path, command, args, {
        timeoutMs: waitForClose ? undefined : timeoutMs,
        waitForClose,
        onProgress: (p) => err(`… ${describeProgress(p)}`),
      });
      show(result);
      setExitCode(CliExit.Ok);
    } catch (e) {
      err(`switchboard ${command}: ${(e as Error).message}`);
      setExitCode(e instanceof NoServerError ? CliExit.NoServer : CliExit.CommandFailed);
    }
  };

  common(program.command("stop"))
    .description("stop the running server gracefully (close connections with 1001, finish tasks, stop services)")
    .action((opts: CommonOpts) => run(opts, "stop", [], () => out("server stopped"), true));

  common(program.command("status"))
    .description("show uptime, memory, connections per endpoint, rooms, services and their states")
    .option("--rooms <N>", `list at most N rooms, the biggest first (default ${DEFAULT_STATUS_ROOMS}); the total is always shown`)
    .option("--json", "print the raw JSON")
    .action((opts: CommonOpts) => run(opts, "status", opts.rooms === undefined ? [] : [opts.rooms], (result) => out(opts.json ? JSON.stringify(result, null, 2) : formatStatus(result as StatusResult))));

  common(program.command("command"))
    .description("send any control command to the running server (`switchboard command help` lists them)")
    .argument("<name>", "command name")
    .argument("[args...]", "its arguments (put -- before arguments that start with -)")
    .option("--app <path>", "for push: the app whose room gets the push (default /app)")
    .option("--json", "print the result as JSON even when it is text")
    .addHelpText("after", [
      "",
      "Examples:",
      "  switchboard command help",
      `  switchboard command push news news.item '{"text":"hello"}'`,
      "  switchboard command kick app-3 4001 bye",
    ].join("\n"))
    .action((name: string, args: string[], opts: CommonOpts) => {
      if (opts.app !== undefined && name !== "push") {
        err(`switchboard ${name}: --app is an option of push only`);
        setExitCode(CliExit.CommandFailed);
        return;
      }
      const sent = opts.app === undefined ? args : [...args, opts.app];
      return run(opts, name, sent, (result) => out(opts.json ? JSON.stringify(result, null, 2) : formatResult(name, result)));
    });

  return program;
}

/** What the program gives every command group (the shape of main.ts's CliIO). */
export interface ControlCliIO {
  cwd: string;
  env: Record<string, string | undefined>;
  out: (text: string) => void;
  err: (text: string) => void;
  setExitCode?: (code: number) => void;
}

/**
 * The control commands as a command group for main.ts: the socket comes from --socket, else the
 * config (`controlSocket`, from --config / SWITCHBOARD_CONFIG / switchboard.config.* and
 * SWITCHBOARD_CONTROL_SOCKET, exactly as `serve` resolves it), else ./switchboard.sock.
 */
export function controlCommandGroup(program: Command, io: ControlCliIO): void {
  addControlCommands(program, {
    out: (t) => io.out(`${t}\n`),
    err: (t) => io.err(`${t}\n`),
    ...(io.setExitCode ? { setExitCode: io.setExitCode } : {}),
    resolveSocket: (opts) => findControlSocket(io.cwd, io.env, opts),
  });
}

/**
 * Where the server's control socket is: --socket; else the config's `controlSocket` (--config,
 * SWITCHBOARD_CONFIG, SWITCHBOARD_CONTROL_SOCKET, or a config file in the working directory);
 * else the nearest folder, from the working directory up, that holds a config file, a
 * switchboard.sock or a switchboard.lock — `serve` puts the socket in its working directory by
 * default, so this finds it from that folder and every folder below it.
 */
export async function findControlSocket(cwd: string, env: Record<string, string | undefined>, opts: { socket?: string; config?: string }): Promise<string> {
  if (opts.socket !== undefined) return resolve(cwd, opts.socket);
  const here = await resolveConfig({ cwd, env, configPath: opts.config, cli: {} });
  if (here.controlSocket !== undefined) return here.controlSocket;
  if (here.configFile !== undefined) return resolve(cwd, DEFAULT_CONTROL_SOCKET);
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (existsSync(join(dir, DEFAULT_CONTROL_SOCKET)) || existsSync(join(dir, DEFAULT_LOCK_FILE))) return join(dir, DEFAULT_CONTROL_SOCKET);
    if (CONFIG_FILE_NAMES.some((name) => existsSync(join(dir, name)))) {
      const there = await resolveConfig({ cwd: dir, env, cli: {} });
      return there.controlSocket ?? join(dir, DEFAULT_CONTROL_SOCKET);
    }
    if (dirname(dir) === dir) return resolve(cwd, DEFAULT_CONTROL_SOCKET);
  }
}

/** A command's result for a person: `help` as a table, text as it is, anything else as JSON. */
export function formatResult(name: string, result: unknown): string {
  if (typeof result === "string") return result;
  if (name === "help" && Array.isArray(result)) return formatHelp(result as HelpRow[]);
  return JSON.stringify(result, null, 2);
}

interface HelpRow {
  name: string;
  usage: string;
  help: string;
}

/** `command help`: one aligned row per command, usage then what it does. */
export function formatHelp(rows: readonly HelpRow[]): string {
  // Help lines often start by repeating the usage ("kick ID [CODE]: close …"): show it once.
  const description = (r: HelpRow): string => {
    const colon = r.help.indexOf(": ");
    return colon !== -1 && r.help.startsWith(r.name) && colon < 60 ? r.help.slice(colon + 2) : r.help;
  };
  return table(["COMMAND", "DESCRIPTION"], rows.map((r) => [r.usage, description(r)])) +
    "\n\nswitchboard command NAME [ARGS...] runs one; switchboard command help NAME shows one.";
}

function describeProgress(p: unknown): string {
  if (typeof p === "object" && p !== null && "phase" in p) return String((p as { phase: unknown }).phase);
  return typeof p === "string" ? p : JSON.stringify(p);
}

/** The `status` table. */
export function formatStatus(s: StatusResult): string {
  const lines = [
    `Switchboard  pid ${s.pid}  up ${formatDuration(s.uptimeMs)}${s.nodeId ? `  node ${s.nodeId}` : ""}`,
    `memory       rss ${mib(s.memory.rss)}  heap ${mib(s.memory.heapUsed)} / ${mib(s.memory.heapTotal)}${s.rooms !== null ? `\nrooms        ${s.rooms}` : ""}`,
    "",
    table(["ENDPOINT", "ENABLED", "CONNECTIONS", "ROOMS"], s.endpoints.map((e: EndpointInfo) =>
      [e.path, e.enabled ? "yes" : "no", String(e.connections), e.rooms === undefined ? "-" : String(e.rooms)])),
    "",
    ...formatRooms(s),
    table(["SERVICE", "STATE", "RESTARTS", "CRITICAL", "LAST ERROR"], s.services.map((v: ServiceStatus) =>
      [v.name, v.state, String(v.restarts), v.critical ? "yes" : "no", v.lastError ?? ""])),
    "",
    ...formatWorkers(s),
    `cluster      ${s.cluster.kind === "memory" ? "in memory (one node)" : s.cluster.kind === "ipc" ? `workers over IPC, ${s.cluster.status}` : `redis, ${s.cluster.status}`}  ${s.cluster.nodes.length} node${s.cluster.nodes.length === 1 ? "" : "s"}` +
      `  published ${s.cluster.bus.published}  dropped ${s.cluster.bus.dropped}  outages ${s.cluster.bus.outages}`,
    table(["NODE", "CONNECTIONS", "LAST SEEN"], s.cluster.nodes.map((n) =>
      [n.nodeId === s.cluster.nodeId ? `${n.nodeId} (this)` : n.nodeId, String(n.connections), `${Math.max(0, Math.round((Date.now() - n.lastSeen) / 1000))}s ago`])),
  ];
  return lines.join("\n");
}

/** A primary's workers (serve --workers): one row each, then the totals. */
function formatWorkers(s: StatusResult): string[] {
  const status = s as Partial<WorkersStatus>;
  if (status.workers === undefined || status.totals === undefined) return [];
  const rows = table(["WORKER", "PID", "STATE", "RESTARTS", "CONNECTIONS", "ROOMS", "TASKS"], status.workers.map((w) => [
    String(w.index), w.pid === null ? "-" : String(w.pid), w.state, String(w.restarts),
    w.status === null ? "-" : String(w.status.endpoints.reduce((n, e) => n + e.connections, 0)),
    w.status === null ? "-" : String(w.status.rooms ?? 0), w.status === null ? (w.error ?? "-") : String(w.status.tasks),
  ]));
  const t = status.totals;
  return [rows, `total        ${t.workers} workers  ${t.connections} connections  ${t.rooms} rooms  ${t.tasks} tasks`, ""];
}

/** The rooms table of `status` (nothing for a server without apps), with the total when it is cut. */
function formatRooms(s: StatusResult): string[] {
  const list = s.roomList;
  if (list === null || list === undefined) return [];
  const rows = table(["ROOM", "APP", "MEMBERS"], list.rooms.map((r) => [r.room, r.app, String(r.members)]));
  const more = list.total > list.rooms.length ? [`… ${list.total - list.rooms.length} more (${list.total} rooms in all; switchboard status --rooms N lists more)`] : [];
  return [rows, ...more, ""];
}

export function formatDuration(ms: number): string {
  const total = Math.floor(ms / 1000);
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (d > 0) return `${d}d ${h}h ${m}m`;
  if (h > 0) return `${h}h ${m}m ${sec}s`;
  if (m > 0) return `${m}m ${sec}s`;
  return `${sec}s`;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function table(header: string[], rows: string[][]): string {
  if (rows.length === 0) return `${header[0]}  (none)`;
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}
