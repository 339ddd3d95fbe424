/**
 * The built-in control commands. Each acts only through ControlContext; docs/operations.md
 * lists them with examples.
 */
import { CloseCode } from "../protocol/close-codes.ts";
import { CommandTable, usage, type CommandSpec } from "./commands.ts";
import type { ControlContext, EndpointInfo } from "./context.ts";
import { ControlError, ControlErrorCode } from "./protocol.ts";
import type { ServiceStatus } from "../runtime/supervisor.ts";

export interface StatusResult {
  readonly pid: number;
  readonly nodeId: string | null;
  readonly uptimeMs: number;
  readonly memory: { rss: number; heapUsed: number; heapTotal: number; external: number };
  readonly endpoints: EndpointInfo[];
  /** Total rooms over all app endpoints (null if no endpoint has rooms). */
  readonly rooms: number | null;
  readonly services: ServiceStatus[];
}

/** RFC 6455 §7.4: a close frame may carry at most 123 bytes of reason. */
const MAX_REASON_BYTES = 123;

export function status(ctx: ControlContext): StatusResult {
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
    services: ctx.services(),
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
      help: "uptime, memory, connections per endpoint, rooms, services and their states, cluster node id",
      handler: (ctx) => status(ctx),
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
      args: [{ name: "level", choices: ["fatal", "error", "warn", "info", "debug", "trace", "silent"] }],
      help: "log-level LEVEL: change the log level of the running server",
      handler: (ctx, args) => ({ level: ctx.setLogLevel(String(args.level)) }),
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
