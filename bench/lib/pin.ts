// CPU pinning: server on core 0, load generator on core 1, when taskset and 2+ cores exist.
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";

let cached: boolean | undefined;
export function canPin(): boolean {
  if (cached === undefined) {
    cached = availableParallelism() >= 2 && spawnSync("taskset", ["-c", "0", "true"]).status === 0;
  }
  return cached;
}

/** The command prefixed with `taskset -c CORE` when pinning is possible. */
export function pinned(core: number, cmd: string[]): string[] {
  return canPin() ? ["taskset", "-c", String(core), ...cmd] : cmd;
}
