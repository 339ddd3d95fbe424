/** Run the control CLI commands (stop / status / command) in-process and capture what they print. */
import { Command } from "commander";
import { addControlCommands } from "../../src/cli/control-commands.ts";

export interface CliResult {
  out: string;
  err: string;
  code: number;
}

export async function runCli(argv: string[], resolveSocket?: (o: { socket?: string; config?: string }) => string): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  let code = -1;
  const program = new Command("switchboard").exitOverride();
  addControlCommands(program, { out: (t) => out.push(t), err: (t) => err.push(t), setExitCode: (c) => { code = c; }, ...(resolveSocket ? { resolveSocket } : {}) });
  await program.parseAsync(argv, { from: "user" });
  return { out: out.join("\n"), err: err.join("\n"), code };
}
