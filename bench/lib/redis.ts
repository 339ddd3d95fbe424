// A throw-away redis-server on a free loopback port for the cluster scenario (no persistence),
// pinned with the servers to core 0 since it is part of the cluster's cost.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { pinned } from "./pin.ts";

export function hasRedis(): boolean {
  return spawnSync("redis-server", ["--version"]).status === 0;
}

export function startRedis(port: number, timeoutMs = 10_000): Promise<ChildProcess> {
  const [cmd, ...args] = pinned(0, ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
  const proc = spawn(cmd!, args, { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => { proc.kill("SIGKILL"); reject(new Error("redis-server did not become ready")); }, timeoutMs);
    proc.on("exit", (code) => { clearTimeout(timer); reject(new Error(`redis-server exited (code ${code})`)); });
    proc.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("Ready to accept connections")) { clearTimeout(timer); proc.stdout!.resume(); resolve(proc); }
    });
  });
}
