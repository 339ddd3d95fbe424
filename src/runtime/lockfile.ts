/**
 * The lock file: one server per configuration. Created with O_EXCL (`wx`), so of two servers
 * racing for it exactly one wins; it holds the owner's PID and start time. A lock whose PID no
 * longer exists (the owner was killed with -9) is stale and taken over with a warning.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { resolve } from "node:path";
import { SwitchboardError } from "../errors.ts";
import type { Logger } from "../log.ts";

export const DEFAULT_LOCK_FILE = "switchboard.lock";

export class LockError extends SwitchboardError {
  readonly path: string;
  readonly pid: number | undefined;
  constructor(path: string, pid: number | undefined, message: string) {
    super("locked", message);
    this.path = path;
    this.pid = pid;
  }
}

export interface LockInfo {
  readonly pid: number;
  readonly startedAt: string;
}

export interface Lock {
  readonly path: string;
  readonly info: LockInfo;
  /** Remove the file if it is still ours. Safe to call twice. */
  release(): void;
}

export interface LockOptions {
  logger?: Logger;
  /** Injected for tests: is this PID alive? Default: `process.kill(pid, 0)`. */
  isAlive?: (pid: number) => boolean;
}

export function acquireLock(path: string = DEFAULT_LOCK_FILE, options: LockOptions = {}): Lock {
  const file = resolve(path);
  const isAlive = options.isAlive ?? pidIsAlive;
  const info: LockInfo = { pid: process.pid, startedAt: new Date().toISOString() };
  // Two tries: the second only after removing a stale lock.
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, "wx", 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new LockError(file, undefined, `cannot create lock file ${file}: ${(err as Error).message}`);
      }
      const holder = readLock(file);
      if (holder === "gone") continue; // released between our open and our read: try again
      if (holder !== undefined && isAlive(holder.pid)) {
        throw new LockError(file, holder.pid,
          `another server (PID ${holder.pid}, started ${holder.startedAt}) holds the lock file ${file}; stop it with \`switchboard stop\` or use another configuration`);
      }
      options.logger?.warn({ lockFile: file, stalePid: holder?.pid }, holder === undefined
        ? "lock file is unreadable; taking it over"
        : `stale lock file from PID ${holder.pid} (no such process); taking it over`);
      removeIfExists(file);
      continue;
    }
    try {
      writeSync(fd, `${JSON.stringify(info)}\n`);
    } finally {
      closeSync(fd);
    }
    return { path: file, info, release: () => releaseIfOurs(file, info) };
  }
  throw new LockError(file, undefined, `could not take the lock file ${file}: another process keeps re-creating it`);
}

/** The holder recorded in a lock file; undefined if unreadable; "gone" if it no longer exists. */
export function readLock(path: string): LockInfo | undefined | "gone" {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "gone";
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LockInfo>;
    if (Number.isInteger(parsed.pid) && (parsed.pid as number) > 0) {
      return { pid: parsed.pid as number, startedAt: String(parsed.startedAt ?? "unknown") };
    }
  } catch {
    // a torn or foreign file: reported to the caller as unreadable (undefined)
  }
  return undefined;
}

/** `kill(pid, 0)` sends nothing; ESRCH = no such process. EPERM = alive but not ours. */
export function pidIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

function releaseIfOurs(file: string, info: LockInfo): void {
  const holder = readLock(file);
  if (holder === "gone") return;
  if (holder === undefined || holder.pid !== info.pid || holder.startedAt !== info.startedAt) return; // taken over: not ours to remove
  removeIfExists(file);
}

function removeIfExists(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}
