/**
 * Control commands under a workers primary (`serve --workers`): the primary answers status,
 * stop, reload and help itself and forwards every other command to its workers, each of which
 * runs it with its own command table (runtime/worker-control.ts). A command runs on every
 * worker unless its spec says "one-worker" (a room push: the engine already carries it to every
 * worker's members, N runs would push it N times). This file joins the workers' replies into
 * the one reply the control client gets.
 */
import { createCommandTable } from "../control/builtin-commands.ts";
import { usage, type CommandTable } from "../control/commands.ts";
import { ControlErrorCode, errorReply, type ControlReply, type RequestId } from "../control/protocol.ts";
import type { WorkerCommandRow } from "./workers-primary.ts";

/** What the primary runs itself, with the help lines `help` shows for them. */
export const PRIMARY_COMMANDS: ReadonlyArray<{ name: string; usage: string; help: string }> = [
  { name: "status", usage: "status [ROOMS]", help: "every worker's status (pid, node, connections, rooms, tasks) and the totals" },
  { name: "stop", usage: "stop", help: "stop every worker gracefully (1001 to their clients), then the primary; exit 0" },
  { name: "reload", usage: "reload", help: "replace the workers one at a time: fork a new one, wait until it listens, stop the old one (1001)" },
  { name: "help", usage: "help [COMMAND]", help: "the commands, their arguments and what they do (and whether they run on every worker or one)" },
];

/** The workers' command table, as the primary knows it: the built-ins, which `serve` gives every worker. */
export function workersCommandTable(): CommandTable {
  return createCommandTable();
}

/** Where a forwarded command runs, or undefined when the workers do not have it. */
export function forwardedScope(table: CommandTable, name: string): "every-worker" | "one-worker" | undefined {
  if (PRIMARY_COMMANDS.some((c) => c.name === name)) return undefined;
  const spec = table.get(name);
  return spec === undefined ? undefined : (spec.workers ?? "every-worker");
}

/** `help [COMMAND]` of the primary: its own commands, then the forwarded ones with where they run. */
export function primaryHelp(id: RequestId, table: CommandTable, only: unknown): ControlReply {
  const rows = [
    ...PRIMARY_COMMANDS,
    ...table.list().filter((s) => forwardedScope(table, s.name) !== undefined).map((s) => ({
      name: s.name,
      usage: usage(s),
      help: `${s.help} (${(s.workers ?? "every-worker") === "one-worker" ? "runs on one worker" : "runs on every worker; the reply lists each"})`,
    })),
  ];
  const pick = only === undefined ? rows : rows.filter((r) => r.name === String(only));
  if (pick.length === 0) return errorReply(id, ControlErrorCode.NotFound, `no command named "${String(only)}"; known commands: ${rows.map((r) => r.name).join(", ")}`);
  return { id, ok: true, result: pick };
}

/**
 * The workers' replies as one: ok when at least one worker's reply is ok (a `kick ID` finds the
 * connection on one worker only). A one-worker command's result is that worker's result; an
 * every-worker command's is `{ workers: [{ index, pid, ok, result | error }] }`. When no worker
 * answered ok, the first worker's error is the reply (an unknown argument is refused by all).
 */
export function joinWorkerReplies(id: RequestId, rows: readonly WorkerCommandRow[], on: "every-worker" | "one-worker"): ControlReply {
  const answered = rows.filter((r) => r.reply !== undefined);
  const ok = answered.filter((r) => r.reply!.ok);
  if (ok.length === 0) {
    const refused = answered[0]?.reply;
    if (refused !== undefined && !refused.ok) return { id, ok: false, error: refused.error };
    return errorReply(id, ControlErrorCode.Unavailable, `no worker answered: ${rows.map((r) => `worker ${r.index}: ${r.error ?? "no reply"}`).join("; ") || "no workers"}`);
  }
  if (on === "one-worker") return { id, ok: true, result: (ok[0]!.reply as { result: unknown }).result };
  return {
    id,
    ok: true,
    result: {
      workers: rows.map((r) => ({
        index: r.index,
        pid: r.pid,
        ...(r.reply === undefined ? { ok: false, error: { code: ControlErrorCode.Unavailable, message: r.error ?? "no reply" } }
          : r.reply.ok ? { ok: true, result: r.reply.result } : { ok: false, error: r.reply.error }),
      })),
    },
  };
}
