/**
 * The command table: each control command has a name, an argument spec (checked before the
 * handler runs, so handlers get clean values), a help line and a handler that acts on a
 * ControlContext. Built-ins are in builtin-commands.ts; apps add theirs with `register()`.
 */
import { SwitchboardError } from "../errors.ts";
import { asError } from "../endpoint/hooks.ts";
import type { ControlContext } from "./context.ts";
import { ControlError, ControlErrorCode, errorReply, type CommandCall, type ControlReply, type ControlRequest, type Dispatch } from "./protocol.ts";

export interface ArgSpec {
  readonly name: string;
  readonly optional?: boolean;
  /** The value must be one of these. */
  readonly choices?: readonly string[];
  /** Parse as an integer within [min, max]. */
  readonly int?: { readonly min: number; readonly max: number };
  /** Take every remaining argument, joined with spaces (a message, a reason). */
  readonly rest?: boolean;
}

export type ArgValues = Record<string, string | number | undefined>;

export interface CommandSpec {
  readonly name: string;
  readonly args?: readonly ArgSpec[];
  readonly help: string;
  /**
   * Under `serve --workers` (each worker is a whole server): "every-worker" (the default) runs
   * the command on every worker and gathers their answers, for what each worker holds (its
   * connections, endpoints, services, log level); "one-worker" runs it on one, for what already
   * reaches every worker through the cluster (a room push), which N runs would repeat N times.
   */
  readonly workers?: "every-worker" | "one-worker";
  handler(ctx: ControlContext, args: ArgValues, call: CommandCall): unknown;
}

const NAME = /^[a-z][a-z0-9-]{0,31}$/;

export class CommandTable {
  readonly #commands = new Map<string, CommandSpec>();

  constructor(commands: readonly CommandSpec[] = []) {
    for (const c of commands) this.register(c);
  }

  /** Add a command (an app's own). Names are lower-case words; a name cannot be taken twice. */
  register(spec: CommandSpec): this {
    if (!NAME.test(spec.name)) throw new ControlError("bad_command", `command name ${JSON.stringify(spec.name)} must match ${NAME}`);
    if (this.#commands.has(spec.name)) throw new ControlError("bad_command", `a control command named "${spec.name}" already exists`);
    if (typeof spec.handler !== "function") throw new ControlError("bad_command", `command "${spec.name}" needs a handler`);
    const args = spec.args ?? [];
    args.forEach((a, i) => {
      if (a.rest && i !== args.length - 1) throw new ControlError("bad_command", `command "${spec.name}": only the last argument may be "rest"`);
    });
    this.#commands.set(spec.name, spec);
    return this;
  }

  get(name: string): CommandSpec | undefined {
    return this.#commands.get(name);
  }

  list(): CommandSpec[] {
    return [...this.#commands.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Turn a request into a reply against `ctx`. Never throws. */
  dispatcher(ctx: ControlContext): Dispatch {
    return async (request: ControlRequest, call: CommandCall): Promise<ControlReply> => {
      const spec = this.#commands.get(request.command);
      if (spec === undefined) {
        const known = this.list().map((c) => c.name).join(", ");
        return errorReply(request.id, ControlErrorCode.UnknownCommand, `unknown command "${request.command}"; known commands: ${known}`);
      }
      try {
        const args = parseArgs(spec, request.args);
        const result = await spec.handler(ctx, args, call);
        return { id: request.id, ok: true, result: result ?? null };
      } catch (err) {
        const e = asError(err);
        const code = e instanceof SwitchboardError ? e.code : ControlErrorCode.Internal;
        return errorReply(request.id, code, e.message);
      }
    };
  }
}

/** "kick ID [CODE] [REASON...]" */
export function usage(spec: CommandSpec): string {
  const parts = (spec.args ?? []).map((a) => {
    const word = a.choices ? a.choices.join("|") : a.name.toUpperCase() + (a.rest ? "..." : "");
    return a.optional ? `[${word}]` : word;
  });
  return [spec.name, ...parts].join(" ");
}

export function parseArgs(spec: CommandSpec, raw: readonly unknown[]): ArgValues {
  const specs = spec.args ?? [];
  const bad = (why: string): ControlError => new ControlError(ControlErrorCode.BadArgs, `${why}; usage: ${usage(spec)}`);
  const hasRest = specs.at(-1)?.rest === true;
  if (!hasRest && raw.length > specs.length) throw bad(`too many arguments (${raw.length})`);
  const values: ArgValues = {};
  for (let i = 0; i < specs.length; i++) {
    const a = specs[i] as ArgSpec;
    const taken = a.rest ? raw.slice(i) : raw.slice(i, i + 1);
    if (taken.length === 0) {
      if (!a.optional) throw bad(`missing ${a.name.toUpperCase()}`);
      continue;
    }
    for (const v of taken) {
      if (typeof v !== "string" && typeof v !== "number") throw bad(`${a.name.toUpperCase()} must be a string or a number`);
    }
    const text = taken.map(String).join(" ");
    if (a.choices && !a.choices.includes(text)) throw bad(`${a.name.toUpperCase()} must be one of ${a.choices.join(", ")} (got "${text}")`);
    if (a.int) {
      const n = Number(text);
      if (!/^-?\d+$/.test(text) || n < a.int.min || n > a.int.max) {
        throw bad(`${a.name.toUpperCase()} must be an integer from ${a.int.min} to ${a.int.max} (got "${text}")`);
      }
      values[a.name] = n;
    } else {
      values[a.name] = text;
    }
  }
  return values;
}
