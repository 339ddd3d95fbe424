// CPU pinning: server on core 0 (or every core, for workers), load generator on core 1, when taskset and 2+ cores exist.
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";

let cached: boolean | undefined;
export function canPin(): boolean {
  if (cached === undefined) {
    cached = availableParallelism() >= 2 && spawnSync("taskset", ["-c", "0", "true"]).status === 0;
  }
  return cached;
}

/** The command prefixed with `taskset -c CORE` when pinning is possible ("all": every core, for a server with a worker per core). */
export function pinned(core: number | "all", cmd: string[]): string[] {
  if (!canPin()) return cmd;
  return ["taskset", "-c", core === "all" ? `0-${availableParallelism() - 1}` : String(core), ...cmd];
}

let niceCached: boolean | undefined;
/** `nice -n -20` works here (root or CAP_SYS_NICE). */
export function canPrioritise(): boolean {
  // `nice` with no command prints the niceness it runs at: -20 only where raising it was allowed.
  if (niceCached === undefined) niceCached = spawnSync("nice", ["-n", "-20", "nice"]).stdout?.toString().trim() === "-20";
  return niceCached;
}

/**
 * The command prefixed with `nice -n -20` when allowed: the scheduler then runs the process as
 * soon as it wakes, ahead of the busy load generators on its core. (Not SCHED_FIFO: a real-time
 * Node process whose GC threads wait on each other can starve the whole core.)
 */
export function prioritised(cmd: string[]): string[] {
  return canPrioritise() ? ["nice", "-n", "-20", ...cmd] : cmd;
}
