// The contenders: how to start each server, whether it can run here, and how the load
// generator speaks to it (path, post-open steps, the pre-built message per scenario kind).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { TS_PLACEHOLDER, type FramePart } from "./frames.ts";
import { pinned } from "./pin.ts";
import { hasRedis } from "./redis.ts";
import type { Step } from "./wsclient.ts";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SERVERS = join(ROOT, "bench", "servers");

/** 32 bytes of user data: the "~" timestamp (16 B) and 16 B of padding. */
export const P32 = TS_PLACEHOLDER + "xxxxxxxxxxxxxxxx";

export type MsgKind = "text32" | "bin4k" | "rpc" | "fan32" | "room32";
export type Path = "/echo" | "/fanout";

export interface ClientSpec { path: string; steps: Step[]; parts: FramePart[] }

export interface Contender {
  name: string;
  /** null when it can run here; otherwise the one-line reason it is skipped. */
  unavailable(): string | null;
  command(): string[];
  client(kind: MsgKind, path: Path): ClientSpec;
  /** Server processes to start (cluster: 2, each with NODE_INDEX); default 1. */
  nodes?: number;
  /** Needs a redis-server (its URL in REDIS_URL); its CPU counts as server CPU. */
  redis?: boolean;
  /** Extra environment for each server process (a variant of a server file, e.g. history off). */
  env?: Record<string, string>;
  /**
   * The cores the server may use: default core 0 (the load generators have core 1); "all" for
   * a server with a worker per core (`serve --workers 2`), which then shares core 1 with them.
   */
  cores?: "all";
}

/**
 * Node contenders run as JavaScript compiled by tsc (compileServers()), as they would in
 * production: tsx's development transform wraps every function in `__name()`, which gives each
 * closure a property dictionary (about 250 bytes) and a call through a wrapper — a cost of the
 * dev loader, not of any contender.
 */
const OUT = join(ROOT, "bench", ".build", "out");
const BUILD = join(OUT, "bench", "servers");
const nodeCmd = (file: string, prof: boolean): string[] => [
  process.execPath, ...(prof ? ["--cpu-prof", "--cpu-prof-dir", join(ROOT, "bench", "results", "prof")] : []),
  join(BUILD, file.replace(/\.ts$/, ".js")),
];

/**
 * Compile src/ and bench/servers/ with tsc into bench/.build/out (tsconfig.bench.json), laid out
 * as the package's dist/ is, so the CLI runs from it too (`switchboard serve`, contenders
 * switchboard-app-w*): the files of src/ that are not TypeScript (the pages) are copied beside
 * the JavaScript, and bench/.build/package.json stands where the CLI looks for the package's
 * (three folders above src/cli/main.js: its version, and "type": "module").
 */
export function compileServers(): void {
  const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
  const result = spawnSync(process.execPath, [tsc, "-p", join(ROOT, "tsconfig.bench.json")], { cwd: ROOT, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`compiling the bench servers failed:\n${result.stdout}${result.stderr}`);
  const src = join(ROOT, "src");
  for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.name.endsWith(".ts")) continue;
    const from = join(entry.parentPath, entry.name);
    const to = join(OUT, relative(ROOT, from));
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(from, to);
  }
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
  writeFileSync(join(ROOT, "bench", ".build", "package.json"), JSON.stringify({ name: "switchboard-bench-build", private: true, type: "module", version: pkg.version }) + "\n");
  // Until 2026-12-02 the build was bench/.build/{bench,src,client}: those paths lead to the current build, so nothing run from them is stale.
  for (const name of ["bench", "src", "client"]) {
    const legacy = join(ROOT, "bench", ".build", name);
    if (lstatSync(legacy, { throwIfNoEntry: false })?.isSymbolicLink()) continue;
    rmSync(legacy, { recursive: true, force: true });
    symlinkSync(join("out", name), legacy);
  }
}

/** Raw WebSocket messages: text32/fan32 as a 32 B text frame, bin4k as a 4 KiB binary frame. */
function rawClient(kind: MsgKind, path: Path): ClientSpec {
  const parts: FramePart[] = kind === "bin4k" ? [{ opcode: 2, binSize: 4096 }] : [{ opcode: 1, text: P32 }];
  return { path, steps: [], parts };
}

/** The JSON RPC shape shared by ws-rpc and the app layer: {"task","data","id"}. */
function rpcClient(kind: MsgKind, path: Path, fanTask: string, steps: Step[] = []): ClientSpec {
  const task = kind === "rpc" ? "echo" : fanTask;
  return { path, steps, parts: [{ opcode: 1, text: `{"task":"${task}","data":"${P32}","id":1}` }] };
}

let profiling = false;
export function setProfiling(on: boolean): void { profiling = on; }

function nodeContender(name: string, file: string, client: Contender["client"], needs?: () => string | null): Contender {
  return {
    name,
    unavailable: () => needs?.() ?? (existsSync(join(SERVERS, file)) ? null : `bench/servers/${file} missing`),
    command: () => nodeCmd(file, profiling),
    client,
  };
}

function bunBinary(): string | null {
  try {
    const req = createRequire(join(ROOT, "package.json"));
    const bin = join(dirname(req.resolve("bun/package.json")), "bin", "bun.exe");
    return spawnSync(bin, ["--version"]).status === 0 ? bin : null;
  } catch { return null; }
}

export const CONTENDERS: Contender[] = [
  nodeContender("ws-naive", "ws-naive.ts", rawClient),
  nodeContender("ws-rpc", "ws-rpc.ts", (kind, path) => rpcClient(kind, path, "fanout")),
  nodeContender("socketio", "socketio.ts", (kind, path) => {
    const ns = path;
    const steps: Step[] = [{ expect: "0" }, { send: `40${ns},`, expect: `40${ns},` }];
    const p = "/socket.io/?EIO=4&transport=websocket";
    if (kind === "bin4k") {
      return { path: p, steps, parts: [
        { opcode: 1, text: `451-${ns},["echo",{"_placeholder":true,"num":0}]` }, { opcode: 2, binSize: 4096 }] };
    }
    if (kind === "rpc") return { path: p, steps, parts: [{ opcode: 1, text: `42${ns},1["echo","${P32}"]` }] };
    const ev = path === "/echo" ? "echo" : "fanout";
    return { path: p, steps, parts: [{ opcode: 1, text: `42${ns},["${ev}","${P32}"]` }] };
  }),
  {
    name: "bun",
    unavailable: () => (bunBinary() ? null : "the `bun` npm package's binary does not run here"),
    command: () => [bunBinary() ?? "bun", join(SERVERS, "bun.ts")],
    client: rawClient,
  },
  nodeContender("switchboard", "switchboard.ts", rawClient, () =>
    existsSync(join(ROOT, "src", "index.ts")) ? null : "not available yet: the endpoint layer (src/index.ts) is not on this branch"),
  // The app sends switchboard.welcome first; /fanout members join room "all" in the URL.
  {
    // Two Switchboard nodes sharing /fanout through the Redis bus; subscribers split over both.
    ...nodeContender("switchboard-cluster", "switchboard-cluster.ts", rawClient, () =>
      !existsSync(join(ROOT, "src", "cluster")) ? "not available yet: the Redis cluster (src/cluster) is not on main"
        : !hasRedis() ? "redis-server not found: apt-get install -y redis-server"
          : existsSync(join(SERVERS, "switchboard-cluster.ts")) ? null
            : "src/cluster has landed but bench/servers/switchboard-cluster.ts (PORT, REDIS_URL, NODE_INDEX) is not written yet"),
    nodes: 2,
    redis: true,
  },
  appContender("switchboard-app"),
  // Issue 15: the same app with room history off (historyMaxCount 0: offsets still assigned,
  // nothing kept) and with it on (the default, 100) for ?streams=1 clients, which get
  // room/offset/epoch on every room push: what a recovering client uses.
  appContender("switchboard-app-nohist", { HISTORY_MAX_COUNT: "0" }),
  appContender("switchboard-app-streams", {}, "&streams=1"),
  // The same two over two nodes and Redis (room streams in Redis, one Lua call per push).
  { ...appContender("switchboard-app-cluster-nohist", { HISTORY_MAX_COUNT: "0" }, "", true), nodes: 2, redis: true },
  { ...appContender("switchboard-app-cluster", {}, "", true), nodes: 2, redis: true },
  { ...appContender("switchboard-app-cluster-streams", {}, "&streams=1", true), nodes: 2, redis: true },
];

/**
 * Issue 18: the app as users run it with workers, `switchboard serve bench/servers/workers-app
 * [--workers N]` (bench/servers/switchboard-serve.ts runs the CLI's main()). The folder's tasks
 * are on its app at /app: the load generator's /echo is /app, its /fanout is /app?room=all.
 * workers 1: one process (the CLI without a primary: `--workers 1` forks nothing), memory engine.
 */
function serveContender(name: string, workers: number, extra: Partial<Contender> = {}): Contender {
  return {
    ...nodeContender(name, "switchboard-serve.ts", (kind, path) => ({
      ...rpcClient(kind, path, "fanout", [{ expect: '{"task":"switchboard.welcome"' }]),
      path: path === "/fanout" ? "/app?room=all" : "/app",
    }), () =>
      !existsSync(join(ROOT, "src", "cli", "workers.ts")) ? "not available yet: serve --workers (src/cli/workers.ts) is not on this branch"
        : extra.redis === true && !hasRedis() ? "redis-server not found: apt-get install -y redis-server" : null),
    env: { WORKERS: String(workers) },
    ...extra,
  };
}
CONTENDERS.push(
  serveContender("switchboard-app-w1", 1),
  // Two workers, both cores (the load generators share core 1 with one of them): throughput.
  serveContender("switchboard-app-w2", 2, { cores: "all" }),
  // Two workers on core 0 alone, as the one-process contenders run: cost per unit with the
  // server's core saturated and the load generators on a core of their own.
  serveContender("switchboard-app-w2-core0", 2),
  // Three workers on the two cores: with -w2, how the hub's and the workers' cost per push grow with N (the model's slopes).
  serveContender("switchboard-app-w3", 3, { cores: "all" }),
  // Two workers sharing rooms through Redis (cluster.redis) instead of the primary; the private
  // redis-server is pinned to core 0 like every redis contender's, its CPU counted as server CPU.
  serveContender("switchboard-app-w2-redis", 2, { cores: "all", redis: true }),
);

/** bench/servers/switchboard-app.ts, optionally with env (HISTORY_MAX_COUNT) and URL options. */
function appContender(name: string, env: Record<string, string> = {}, query = "", redis = false): Contender {
  return {
    ...nodeContender(name, "switchboard-app.ts", (kind, path) => ({
      ...rpcClient(kind, path, "fanout", [{ expect: '{"task":"switchboard.welcome"' }]),
      path: path === "/fanout" ? `/fanout?room=all${query}` : path,
    }), () =>
      !existsSync(join(ROOT, "src", "app")) ? "not available yet: the app layer (src/app) is not on main"
        : redis && !hasRedis() ? "redis-server not found: apt-get install -y redis-server" : null),
    env,
  };
}

export function contender(name: string): Contender {
  const c = CONTENDERS.find((x) => x.name === name);
  if (!c) throw new Error(`unknown contender ${name}`);
  return c;
}

/** `control`: the UNIX control socket, when the server prints "CONTROL <path>" before READY (`switchboard serve`). */
export interface RunningServer { proc: ChildProcess; pid: number; port: number; control?: string }

/** Starts a contender pinned to core 0 (or its `cores`) with PORT in env; resolves on its "READY <port>" line. */
export function startServer(c: Contender, port: number, env: Record<string, string> = {}, timeoutMs = 20_000): Promise<RunningServer> {
  const [cmd, ...args] = pinned(c.cores ?? 0, c.command());
  const proc = spawn(cmd!, args, { cwd: ROOT, env: { ...process.env, ...env, PORT: String(port) }, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => { stopServer(proc); reject(new Error(`${c.name}: no READY line within ${timeoutMs} ms`)); }, timeoutMs);
    proc.on("exit", (code) => { clearTimeout(timer); reject(new Error(`${c.name} exited early (code ${code})`)); });
    proc.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /READY (\d+)/.exec(out);
      const control = /CONTROL (\S+)/.exec(out)?.[1];
      if (m) { clearTimeout(timer); proc.stdout!.resume(); resolve({ proc, pid: proc.pid!, port: Number(m[1]), ...(control === undefined ? {} : { control }) }); }
    });
  });
}

/** SIGTERM by PID, SIGKILL after 3 s; resolves when it has exited. */
export function stopServer(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => proc.kill("SIGKILL"), 3000);
    proc.once("exit", () => { clearTimeout(t); resolve(); });
    proc.kill("SIGTERM");
  });
}
