// Issue 18: what a deployment of `switchboard serve --workers N` is made of, for the workers
// scenarios. Where the server CPU goes (each server tree's root process — a primary runs the
// IPC hubs — its descendants — the workers — and redis-server), and how many connections each
// worker holds, from `switchboard status` over the control socket (every worker must serve
// some of the room's members for the cross-worker figure to mean anything).
import { readFileSync } from "node:fs";
import { createConnection } from "node:net";
import { processTree } from "./proc.ts";

const TICK_MICROS = 1e6 / 100; // CLK_TCK is 100 on Linux x86-64

/** CPU µs of one process (not its children); 0 once it has exited. */
export function ownCpuMicros(pid: number): number {
  let s: string;
  try { s = readFileSync(`/proc/${pid}/stat`, "utf8"); } catch { return 0; } // exited: nothing more to count
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * TICK_MICROS;
}

/** Server CPU so far by role: `root` (one process, or a primary), `children` (its workers), `redis`. */
export interface CpuSplit { root: number; children: number; redis: number }

/** `pids` as the runner deploys them: redis-server first when the contender has one. */
export function cpuSplit(pids: readonly number[], withRedis: boolean): CpuSplit {
  const split: CpuSplit = { root: 0, children: 0, redis: 0 };
  pids.forEach((pid, i) => {
    // Each process read once, so the parts add up to the tree's total.
    for (const p of processTree(pid)) {
      const cpu = ownCpuMicros(p);
      if (withRedis && i === 0) split.redis += cpu;
      else if (p === pid) split.root += cpu;
      else split.children += cpu;
    }
  });
  return split;
}

/** µs per unit of each role in a window. */
export function splitPerUnit(before: CpuSplit, after: CpuSplit, units: number): CpuSplit | null {
  if (units === 0) return null;
  return { root: (after.root - before.root) / units, children: (after.children - before.children) / units, redis: (after.redis - before.redis) / units };
}

interface StatusEndpoint { connections: number }
interface StatusReply { endpoints: StatusEndpoint[]; workers?: Array<{ status: { endpoints: StatusEndpoint[] } | null }> }

/**
 * Connections per worker from `status` (the control protocol: one JSON line per request, the
 * reply is the line with `ok`); one number for a server without workers. Deadline: 10 s.
 */
export function workerConnections(socketPath: string, timeoutMs = 10_000): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`status over ${socketPath}: no reply within ${timeoutMs} ms`)); }, timeoutMs);
    let text = "";
    socket.setEncoding("utf8");
    socket.on("error", (err) => { clearTimeout(timer); reject(err); });
    socket.on("connect", () => socket.write(JSON.stringify({ id: 1, command: "status", args: [] }) + "\n"));
    socket.on("data", (chunk: string) => {
      text += chunk;
      for (const line of text.split("\n").slice(0, -1)) {
        const message = JSON.parse(line) as { ok?: boolean; result?: StatusReply; error?: { message: string } };
        if (message.ok === undefined) continue; // a progress line
        clearTimeout(timer);
        socket.destroy();
        if (!message.ok || message.result === undefined) { reject(new Error(`status failed: ${message.error?.message ?? "no result"}`)); return; }
        const sum = (eps: StatusEndpoint[]): number => eps.reduce((n, e) => n + e.connections, 0);
        const r = message.result;
        resolve(r.workers === undefined ? [sum(r.endpoints)] : r.workers.map((w) => (w.status === null ? 0 : sum(w.status.endpoints))));
        return;
      }
    });
  });
}
