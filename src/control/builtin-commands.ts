/**
 * The built-in control commands. Each acts only through ControlContext; docs/operations.md
 * lists them with examples.
 */
import { CloseCode } from "../protocol/close-codes.ts";
import { CommandTable, usage, type CommandSpec } from "./commands.ts";
import type { ClusterInfo, ControlContext, EndpointInfo, RoomsInfo } from "./context.ts";
import { ControlError, ControlErrorCode } from "./protocol.ts";
import { TASK_NAME_PATTERN } from "../protocol/messages.ts";
import type { ServiceStatus } from "../runtime/supervisor.ts";

/** What `reload-tls` needs from the context; runtime/standalone.ts adds it (server.reloadTls()). */
export interface TlsReloadContext {
  reloadTls?(): { fingerprint256: string; subject: string; validTo: string };
}

export interface StatusResult {
  readonly pid: number;
  readonly nodeId: string | null;
  readonly uptimeMs: number;
  readonly memory: { rss: number; heapUsed: number; heapTotal: number; external: number };
  readonly endpoints: EndpointInfo[];
  /** Total rooms over all app endpoints (null if no endpoint has rooms). */
  readonly rooms: number | null;
  /** The rooms with the most members (at most `status ROOMS`, default 20) and how many there are; null without apps. */
  readonly roomList: RoomsInfo | null;
  readonly services: ServiceStatus[];
  readonly cluster: ClusterInfo;
}

/** How many rooms `status` lists when not told (`status ROOMS` asks for up to MAX_STATUS_ROOMS). */
export const DEFAULT_STATUS_ROOMS = 20;
export const MAX_STATUS_ROOMS = 10_000;

/** RFC 6455 §7.4: a close frame may carry at most 123 bytes of reason. */
const MAX_REASON_BYTES = 123;

export async function status(ctx: ControlContext, maxRooms: number = DEFAULT_STATUS_ROOMS): Promise<StatusResult> {
  const { rss, heapUsed, heapTotal, external } = process.memoryUsage();
  const endpoints = ctx.endpoints();
  const withRooms = endpoints.filter((e) => e.rooms !== undefined);
  return {
    pid: process.pid,
    nodeId: ctx.nodeId() ?? null,
    uptimeMs: ctx.uptimeMs(),
    memory: { rss, heapUsed, heapTotal, external },
    endpoints,
    rooms: withRooms.length > 0 ? withRooms.reduce((n, e) => n + (e.rooms ?? 0), 0) : null,
    roomList: ctx.rooms?.(maxRooms) ?? null,
    services: ctx.services(),
    cluster: await ctx.cluster(),
  };
}

export function builtinCommands(table: () => CommandTable): CommandSpec[] {
  return [
    {
      name: "stop",
      help: "stop the server gracefully: refuse new connections, close open ones with 1001, finish running tasks, stop services, exit 0",
      async handler(ctx, _args, call) {
        await ctx.stop((phase) => call.progress({ phase }));
        return { stopped: true };
      },
    },
    {
      name: "status",
      args: [{ name: "rooms", optional: true, int: { min: 0, max: MAX_STATUS_ROOMS } }],
      help: `status [ROOMS]: uptime, memory, connections per endpoint, rooms (the ROOMS biggest, default ${DEFAULT_STATUS_ROOMS}, and the total), services and their states, the cluster's nodes`,
      handler: (ctx, args) => status(ctx, (args.rooms as number | undefined) ?? DEFAULT_STATUS_ROOMS),
    },
    {
      name: "push",
      args: [{ name: "room" }, { name: "task" }, { name: "json" }, { name: "app", optional: true }],
      // The push goes through the room engine, which carries it to every worker's members.
      workers: "one-worker",
      help: "push ROOM TASK JSON [APP]: publish a protocol push (task, data) to a room of the app at APP (default /app), as rooms.publish() does: offsets, history and the cluster apply",
      async handler(ctx, args) {
        if (ctx.push === undefined) throw notFound("this server has no apps to push through");
        const task = String(args.task);
        if (!TASK_NAME_PATTERN.test(task)) throw new ControlError(ControlErrorCode.BadArgs, `TASK must be 1–128 printable ASCII characters without spaces (got ${JSON.stringify(task.slice(0, 40))})`);
        let data: unknown;
        try {
          data = JSON.parse(String(args.json));
        } catch (err) {
          throw new ControlError(ControlErrorCode.BadArgs, `JSON is not valid JSON (${(err as Error).message}); quote it for the shell, e.g. '{"text":"hi"}'`);
        }
        return ctx.push(args.app === undefined ? "/app" : String(args.app), String(args.room), task, data);
      },
    },
    {
      name: "services",
      help: "every service with its state, restarts and last error",
      handler: (ctx) => ctx.services(),
    },
    {
      name: "service",
      args: [{ name: "action", choices: ["restart"] }, { name: "name" }],
      help: "service restart NAME: stop one service and start it again",
      async handler(ctx, args, call) {
        const name = String(args.name);
        if (!ctx.services().some((s) => s.name === name)) throw notFound(`no service named "${name}"`, ctx.services().map((s) => s.name));
        call.progress({ phase: `restarting ${name}` });
        return { name, state: await ctx.restartService(name) };
      },
    },
    {
      name: "endpoint",
      args: [{ name: "action", choices: ["enable", "disable"] }, { name: "path" }],
      help: "endpoint enable|disable PATH: a disabled endpoint refuses new connections (503); open ones stay",
      handler(ctx, args) {
        const path = String(args.path);
        const enabled = args.action === "enable";
        ctx.setEndpointEnabled(path, enabled);
        return { path, enabled };
      },
    },
    {
      name: "connections",
      args: [{ name: "path", optional: true }],
      help: "connections [PATH]: the open connections (id, endpoint, address, subprotocol, buffered bytes)",
      handler: (ctx, args) => ctx.connections(args.path === undefined ? undefined : String(args.path)),
    },
    {
      name: "kick",
      args: [{ name: "id" }, { name: "code", optional: true, int: { min: 1000, max: 4999 } }, { name: "reason", optional: true, rest: true }],
      help: `kick ID [CODE] [REASON...]: close one connection (default code ${CloseCode.Kicked} Kicked; CODE is 1000 or 3000–4999)`,
      handler(ctx, args) {
        const id = String(args.id);
        const code = (args.code as number | undefined) ?? CloseCode.Kicked;
        if (code !== 1000 && code < 3000) {
          throw new ControlError(ControlErrorCode.BadArgs, `CODE must be 1000 or 3000–4999 (got ${code}); other codes are reserved by RFC 6455`);
        }
        const reason = args.reason === undefined ? "kicked" : String(args.reason);
        if (Buffer.byteLength(reason) > MAX_REASON_BYTES) {
          throw new ControlError(ControlErrorCode.BadArgs, `REASON is longer than ${MAX_REASON_BYTES} bytes (RFC 6455 close frame limit)`);
        }
        ctx.kick(id, code, reason);
        return { id, code, reason };
      },
    },
    {
      name: "broadcast",
      args: [{ name: "path" }, { name: "message", rest: true }],
      help: "broadcast PATH MESSAGE...: send a text message to every connection of an endpoint",
      handler(ctx, args) {
        const path = String(args.path);
        return { path, recipients: ctx.broadcast(path, String(args.message)) };
      },
    },
    {
      name: "log-level",
      args: [{ name: "level", optional: true, choices: ["fatal", "error", "warn", "info", "debug", "trace", "silent"] }],
      help: "log-level [LEVEL]: show the log level of the running server, or change it (debug: connections, refused handshakes, task calls; trace: message sizes)",
      handler(ctx, args) {
        if (args.level !== undefined) return { level: ctx.setLogLevel(String(args.level)) };
        return { level: ctx.logLevel() };
      },
    },
    {
      name: "reload-tls",
      help: "reload-tls: read the TLS key and certificate files again; new connections get them, open ones stay. A bad file keeps the certificate in force and is reported",
      handler(ctx) {
        // Optional on the context (like rooms/push): only a standalone server wires it.
        const reload = (ctx as ControlContext & TlsReloadContext).reloadTls;
        if (reload === undefined) throw notFound("this server cannot reload TLS");
        return reload();
      },
    },
    {
      name: "help",
      args: [{ name: "command", optional: true }],
      help: "help [COMMAND]: the commands, their arguments and what they do",
      handler(_ctx, args) {
        const specs = table().list();
        const pick = args.command === undefined ? specs : specs.filter((s) => s.name === args.command);
        if (pick.length === 0) throw notFound(`no command named "${String(args.command)}"`, specs.map((s) => s.name));
        return pick.map((s) => ({ name: s.name, usage: usage(s), help: s.help }));
      },
    },
  ];
}

/** The table with every built-in command; register app commands on it. */
export function createCommandTable(): CommandTable {
  const table: CommandTable = new CommandTable();
  for (const spec of builtinCommands(() => table)) table.register(spec);
  return table;
}

export function notFound(message: string, known?: readonly string[]): ControlError {
  const list = known === undefined ? "" : ` (known: ${known.join(", ") || "none"})`;
  return new ControlError(ControlErrorCode.NotFound, `${message}${list}`);
}
