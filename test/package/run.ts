/**
 * Child processes for the packed-install test: npm, npx and plain `node` (no tsx, no
 * `--conditions=source`), run the way a user runs them. Every wait is bounded; a child runs in
 * its own process group (npx runs the bin under `sh -c`), so a test can stop all that it
 * started, by the PID of the child it spawned.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { cpSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { within } from "../helpers/until.ts";

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr, interleaved as they came. */
  output: string;
}

/** Run a command to its end; rejects (and kills it) after `timeoutMs`. */
export async function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<Finished> {
  const child = startChild(command, args, options);
  try {
    return await within(child.finished, options.timeoutMs, `${command} ${args.join(" ")} to finish`);
  } finally {
    child.kill("SIGKILL");
  }
}

/** Like run(), but a non-zero exit fails with the command's output. */
export async function runOk(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<string> {
  const result = await run(command, args, options);
  if (result.code !== 0) throw new Error(`${command} ${args.join(" ")} exited with ${result.code ?? result.signal}:\n${result.output}`);
  return result.output;
}

export interface Child {
  readonly process: ChildProcess;
  readonly finished: Promise<Finished>;
  output(): string;
  /** Resolves with the first match of `pattern` in the output so far or to come. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** Signal the child's process group (the child and what it started); a no-op once it exited. */
  kill(signal: NodeJS.Signals): void;
}

export function startChild(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Child {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? userEnv(),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group, so kill() reaches the grandchildren of npx too
  });
  let output = "";
  const watchers = new Set<() => void>();
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
      for (const watch of [...watchers]) watch();
    });
  }
  let exited = false;
  const finished = new Promise<Finished>((resolve) => {
    child.once("close", (code, signal) => {
      exited = true;
      resolve({ code, signal, output });
      for (const watch of [...watchers]) watch();
    });
  });
  return {
    process: child,
    finished,
    output: () => output,
    waitFor(pattern, timeoutMs) {
      return within(new Promise<RegExpMatchArray>((resolve, reject) => {
        const watch = (): void => {
          const match = pattern.exec(output);
          if (match) {
            watchers.delete(watch);
            resolve(match);
          } else if (exited) {
            watchers.delete(watch);
            reject(new Error(`${command} exited before printing ${pattern}:\n${output}`));
          }
        };
        watchers.add(watch);
        watch();
      }), timeoutMs, `${pattern} from ${command}; output so far:\n${output}`);
    },
    kill(signal) {
      if (exited || child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch (err) {
        // ESRCH: the group is gone already (the child exited between the check and the kill).
        if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
      }
    },
  };
}

/**
 * The environment a user's shell would give: without what the test runner set up for this
 * repository (tsx's loader, the `source` condition, npm's script variables).
 */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name === "NODE_OPTIONS" || name.startsWith("npm_") || name.startsWith("SWITCHBOARD_") || name === "INIT_CWD") continue;
    env[name] = value;
  }
  return { ...env, ...extra };
}

/**
 * Copy the repository's working tree as git sees it (tracked files and new files that are
 * not ignored, with their uncommitted changes), without node_modules, dist or .git.
 */
export function copyWorkingTree(root: string, dest: string): void {
  const listed = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: root, encoding: "utf8" });
  for (const file of listed.split("\0")) {
    // A symlinked node_modules is a file to git, and .gitignore's "node_modules/" misses it.
    if (file === "" || /^(node_modules|dist)(\/|$)/.test(file)) continue;
    mkdirSync(dirname(join(dest, file)), { recursive: true });
    try {
      cpSync(join(root, file), join(dest, file));
    } catch (err) {
      // A file deleted in the working tree but still in the index: git lists it, it is not there.
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }
}
