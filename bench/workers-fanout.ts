/**
 * Issue 18: what a room push costs per delivery when the room's members are spread over the
 * workers of one machine (the IPC engine: one hub in the primary, each push sent once to every
 * worker with members), against the same push on one server process (memory engine).
 *   node --conditions=source --import tsx bench/workers-fanout.ts [clients=1000] [pushes=200]
 * Every server is test/fixtures/app-node.ts (its `say` task pushes to a room). The clients run
 * in their own process (bench/workers-fanout-clients.ts); this process is the primary (the hubs)
 * and is charged too. CPU from /proc, 10 ms resolution: pushes × clients should take seconds.
 * Bounded: at most 10,000 clients and 2,000 pushes; every wait has a deadline.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { createLogger } from "../src/log.ts";
import { IpcEngineHub } from "../src/engine/ipc-hub.ts";
import { IpcBusHub } from "../src/cluster/index.ts";
import { childPort } from "../src/cluster/ipc-port.ts";
import { treeCpuMicros } from "./lib/proc.ts";

const CLIENTS = Math.max(2, Math.min(Number(process.argv[2] ?? 1_000), 10_000));
const PUSHES = Math.max(10, Math.min(Number(process.argv[3] ?? 200), 2_000));
const NODE = [process.execPath, "--conditions=source", "--import", "tsx"];
const logger = createLogger({ level: "silent" });

function lines(child: ChildProcess, onLine: (event: Record<string, unknown>) => void): void {
  createInterface({ input: child.stdout! }).on("line", (line) => {
    try { onLine(JSON.parse(line) as Record<string, unknown>); } catch { /* pino lines on stdout are not ours */ }
  });
}

function waitFor<T>(child: ChildProcess, pred: (e: Record<string, unknown>) => T | undefined, what: string, ms = 60_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
    lines(child, (e) => {
      const v = pred(e);
      if (v !== undefined) { clearTimeout(timer); resolve(v); }
    });
    child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`${what}: process exited (${code})`)); });
  });
}

async function startServer(env: Record<string, string>, ipc: boolean): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(NODE[0]!, [...NODE.slice(1), "test/fixtures/app-node.ts"], {
    env: { ...process.env, LOG_LEVEL: "silent", ...env }, stdio: ipc ? ["pipe", "pipe", "inherit", "ipc"] : ["pipe", "pipe", "inherit"],
  });
  const port = await waitFor(child, (e) => (e.ev === "started" ? Number(e.port) : undefined), "server start");
  return { child, port };
}

async function run(label: string, servers: Array<{ child: ChildProcess; port: number }>): Promise<{ label: string; microsPerDelivery: number; seconds: number; workersCpuMs: number; primaryCpuMs: number }> {
  const clients = spawn(NODE[0]!, [...NODE.slice(1), "bench/workers-fanout-clients.ts", servers.map((s) => s.port).join(","), String(CLIENTS), String(PUSHES)], { stdio: ["pipe", "pipe", "inherit"] });
  const connected = waitFor(clients, (e) => (e.ev === "connected" ? true : undefined), "clients connected", 120_000);
  await connected;
  const cpu0 = servers.map((s) => treeCpuMicros(s.child.pid!));
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  const finished = waitFor(clients, (e) => {
    if (e.ev === "timeout") throw new Error(JSON.stringify(e));
    if (e.ev !== "done") return undefined;
    if (Number(e.extra) !== 0) throw new Error(`${label}: ${String(e.extra)} pushes arrived twice`);
    return true;
  }, "all pushes delivered", 130_000);
  clients.stdin!.write("go\n");
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  const workers = servers.reduce((sum, s, i) => sum + treeCpuMicros(s.child.pid!) - cpu0[i]!, 0);
  const self = process.cpuUsage(self0);
  const primary = self.user + self.system;
  clients.kill("SIGKILL");
  return { label, microsPerDelivery: (workers + primary) / (CLIENTS * PUSHES), seconds, workersCpuMs: workers / 1000, primaryCpuMs: primary / 1000 };
}

const results = [];
{
  // One server process, memory engine: today's single core.
  const one = await startServer({ NODE_ID: "solo" }, false);
  results.push(await run("1 process (memory engine)", [one]));
  one.child.kill("SIGTERM");
}
for (const n of [1, 2]) {
  const engineHub = new IpcEngineHub({ logger, maxRoomLength: 4096, maxPayloadBytes: 1 << 20 });
  const busHub = new IpcBusHub({ logger });
  const servers = await Promise.all(Array.from({ length: n }, (_, i) => startServer({ IPC: "1", NODE_ID: `w${i}` }, true)));
  for (const s of servers) {
    engineHub.add(childPort(s.child));
    busHub.add(childPort(s.child));
  }
  results.push(await run(`${n} worker${n > 1 ? "s" : ""} (IPC engine, members spread)`, servers));
  for (const s of servers) s.child.kill("SIGTERM");
}
const base = results[0]!.microsPerDelivery;
console.log(`clients ${CLIENTS}, pushes ${PUSHES}, deliveries ${CLIENTS * PUSHES} per run`);
for (const r of results) {
  console.log(`${r.label.padEnd(40)} ${r.microsPerDelivery.toFixed(2)} µs/delivery  ${(r.microsPerDelivery / base).toFixed(2)}x  (servers ${r.workersCpuMs.toFixed(0)} ms, primary ${r.primaryCpuMs.toFixed(0)} ms, ${r.seconds.toFixed(1)} s)`);
}
process.exit(0);
