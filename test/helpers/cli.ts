/**
 * Run the real `switchboard` CLI (node bin/switchboard.js) as a child process.
 * startCli() resolves once the banner's "listening on http(s)://HOST:PORT" line is printed and
 * returns the bound port; runCli() waits for a command that is expected to exit.
 * Every wait is bounded; a child is stopped by its own PID only.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { withTimeout } from "./ws-client.ts";

export const BIN = fileURLToPath(new URL("../../bin/switchboard.js", import.meta.url));
/** Spawning node + tsx is slow on a shared 2-core machine: a generous, bounded wait. */
export const CLI_WAIT_MS = 20_000;

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
}

export interface RunningCli {
  child: ChildProcess;
  port: number;
  /** Everything printed to stdout up to and including the "listening on" line. */
  banner: string;
  stderr(): string;
  /** SIGTERM, then wait for the exit; resolves to the exit code. */
  stop(): Promise<number | null>;
}

function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: "silent", SWITCHBOARD_LOG_LEVEL: "warn" };
  // Tests must not inherit a developer's SWITCHBOARD_* settings.
  for (const name of Object.keys(env)) if (name.startsWith("SWITCHBOARD_") && name !== "SWITCHBOARD_LOG_LEVEL") delete env[name];
  // Each server process gets its own lock file and control socket (the runtime takes both), so
  // tests that run several servers from one working directory do not contend for them.
  const runtimeDir = mkdtempSync(join(tmpdir(), "switchboard-cli-"));
  env.SWITCHBOARD_LOCK_FILE = join(runtimeDir, "switchboard.lock");
  env.SWITCHBOARD_CONTROL_SOCKET = join(runtimeDir, "switchboard.sock");
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

export async function startCli(args: string[], options: CliOptions = {}): Promise<RunningCli> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: childEnv(options.env), stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const listening = new Promise<number>((resolve, reject) => {
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      const match = /listening on https?:\/\/[^\s]+:(\d+)/.exec(stdout);
      if (match) resolve(Number(match[1]));
    });
    void exited.then((code) => reject(new Error(`switchboard exited with ${code} before listening:\n${stderr}`)));
  });
  let port: number;
  try {
    port = await withTimeout(listening, CLI_WAIT_MS, "switchboard did not print its banner");
  } catch (err) {
    if (child.exitCode === null) child.kill("SIGKILL");
    throw err;
  }
  return {
    child,
    port,
    banner: stdout,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill("SIGTERM");
      return await withTimeout(exited, CLI_WAIT_MS, "switchboard did not exit after SIGTERM");
    },
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command that should exit by itself (errors, --help). */
export async function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: childEnv(options.env), stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  try {
    const code = await withTimeout(exited, CLI_WAIT_MS, `switchboard ${args.join(" ")} did not exit`);
    return { code, stdout, stderr };
  } catch (err) {
    if (child.exitCode === null) child.kill("SIGKILL");
    throw err;
  }
}
