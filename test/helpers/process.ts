/**
 * Start a Node program (TypeScript through tsx) as a child process and wait for a line of
 * its output. The child is stopped by its PID at the end of the test.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { withTimeout, WAIT_MS } from "./ws-client.ts";

export interface ChildHandle {
  readonly child: ChildProcess;
  /** Resolve with the first line (stdout or stderr) matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  readonly output: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function startTsProcess(script: string, args: string[] = [], env: Record<string, string> = {}, cwd?: string): ChildHandle {
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", script, ...args], {
    env: { ...process.env, ...env },
    cwd,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const watchers: Array<{ pattern: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on("line", (line) => {
      output.push(line);
      for (const watcher of [...watchers]) {
        const match = line.match(watcher.pattern);
        if (match) {
          watchers.splice(watchers.indexOf(watcher), 1);
          watcher.resolve(match);
        }
      }
    });
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  return {
    child,
    output,
    exited,
    waitForLine(pattern, timeoutMs = WAIT_MS * 2) {
      const seen = output.map((line) => line.match(pattern)).find((m) => m !== null);
      if (seen) return Promise.resolve(seen);
      const found = new Promise<RegExpMatchArray>((resolve) => watchers.push({ pattern, resolve }));
      const died = exited.then(({ code, signal }) => {
        throw new Error(`process exited (${code ?? signal}) before printing ${pattern}:\n${output.join("\n")}`);
      });
      return withTimeout(Promise.race([found, died]), timeoutMs, `no line matching ${pattern}; output so far:\n${output.join("\n")}`);
    },
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await withTimeout(exited, WAIT_MS * 2, "process did not exit");
    },
  };
}

/** Whether a process with this PID exists (signal 0 checks without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false; // ESRCH: no such process
  }
}
