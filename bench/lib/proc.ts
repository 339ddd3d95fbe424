// Server cost from /proc: CPU time (utime + stime) and RSS of a process and all its
// descendants, so a server that forks workers is charged for them too.
import { readdirSync, readFileSync } from "node:fs";

const TICK_MICROS = 1e6 / 100; // CLK_TCK is 100 on Linux x86-64

interface Stat { pid: number; ppid: number; cpuTicks: number }

function readStat(pid: number): Stat | null {
  let s: string;
  try { s = readFileSync(`/proc/${pid}/stat`, "utf8"); } catch { return null; } // exited meanwhile
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return { pid, ppid: Number(f[1]), cpuTicks: Number(f[11]) + Number(f[12]) };
}

/** pid plus every live descendant. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const st = readStat(pid);
    if (!st) continue;
    const list = children.get(st.ppid) ?? [];
    list.push(pid);
    children.set(st.ppid, list);
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    for (const c of children.get(p) ?? []) stack.push(c);
  }
  return out;
}

/** CPU µs used so far by the tree (10 ms resolution: measure windows of seconds). */
export function treeCpuMicros(root: number): number {
  let ticks = 0;
  for (const pid of processTree(root)) ticks += readStat(pid)?.cpuTicks ?? 0;
  return ticks * TICK_MICROS;
}

/** Resident set size of the tree in bytes. */
export function treeRssBytes(root: number): number {
  let kb = 0;
  for (const pid of processTree(root)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) kb += Number(m[1]);
    } catch { /* exited between listing and reading: it holds no memory any more */ }
  }
  return kb * 1024;
}
