// The load-generator processes (pinned to core 1) and a request/reply helper over IPC.
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { Cmd } from "../loadgen/worker.ts";
import { ROOT } from "./contenders.ts";
import { pinned, prioritised } from "./pin.ts";

export interface Worker { proc: ChildProcess; call<T = Record<string, unknown>>(cmd: Cmd, timeoutMs?: number): Promise<T> }

/**
 * A load-generator process on core 1. `probe`: the latency probe, run at the highest nice priority
 * (where allowed) so that it reads its few sockets the moment data arrives instead of waiting
 * behind the load generators that drain thousands.
 */
export function startWorker(options: { probe?: boolean } = {}): Worker {
  const node = [process.execPath, "--conditions=source", "--import", "tsx", join(ROOT, "bench", "loadgen", "worker.ts")];
  const [cmd, ...args] = pinned(1, options.probe ? prioritised(node) : node);
  const proc = spawn(cmd!, args, { cwd: ROOT, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  let nextId = 1;
  const waiting = new Map<number, { resolve: (v: never) => void; reject: (e: Error) => void }>();
  proc.on("message", (m: { id: number; ok: boolean; res?: unknown; error?: string }) => {
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (m.ok) w.resolve(m.res as never); else w.reject(new Error(m.error));
  });
  proc.on("exit", () => { for (const w of waiting.values()) w.reject(new Error("load generator exited")); waiting.clear(); });
  return {
    proc,
    call<T>(cmd: Cmd, timeoutMs = 120_000): Promise<T> {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        const t = setTimeout(() => { waiting.delete(id); reject(new Error(`load generator: ${cmd.t} timed out`)); }, timeoutMs);
        waiting.set(id, { resolve: (v: never) => { clearTimeout(t); resolve(v); }, reject: (e) => { clearTimeout(t); reject(e); } });
        proc.send({ id, cmd });
      });
    },
  };
}
