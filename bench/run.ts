// `npm run bench [-- --quick] [--scratch] [--only=a,b] [--phases=p,q] [--contenders=x,y] [--cpu-prof] [--workers=N] [--repeat=N] [--node-subscribers]`
// Runs every scenario against every contender: server pinned to core 0, load generator
// processes pinned to core 1; server CPU from /proc before/after each measured window.
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import net from "node:net";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { ChildProcess } from "node:child_process";
import { CONTENDERS, ROOT, compileServers, contender, setProfiling, startServer, stopServer, type Contender } from "./lib/contenders.ts";
import { startRedis } from "./lib/redis.ts";
import { buildHandshaker, buildSubscriber } from "./lib/native.ts";
import { fromSparse, merge, newHist, percentile } from "./lib/hist.ts";
import { startWorker, type Worker } from "./lib/pool.ts";
import { canPin, canPrioritise } from "./lib/pin.ts";
import { treeCpuMicros, treeRssBytes } from "./lib/proc.ts";
import { cpuSplit, splitPerUnit, workerConnections } from "./lib/server-split.ts";
import { finish, svg, table, type PhaseResult, type Row } from "./lib/report.ts";
import { scenarios, type Phase, type Scenario } from "./lib/scenarios.ts";

/**
 * Issue 16, opt-in (`--only=metrics`): the endpoint server with Prometheus metrics on vs off,
 * echo and fan-out (target: metrics on costs at most 1.05x of off).
 */
CONTENDERS.push({ ...contender("switchboard"), name: "switchboard-metrics", env: { METRICS: "1" } });
function metricsScenarios(): Scenario[] {
  const pair = ["switchboard", "switchboard-metrics"];
  const target = { vs: "switchboard", max: 1.05, metric: "cpu" as const, of: "switchboard-metrics" };
  return [
    { id: "metrics", optIn: true, contenders: pair, kind: "text32", path: "/echo", conns: 100, phases: [
      { id: "metrics-echo-text32", title: "Echo, 32 B text, 100 x 8: metrics off vs on", unit: "msg", mode: "echo", window: 8, baseline: "switchboard", target }] },
    { id: "metrics-fanout", optIn: true, contenders: pair, kind: "fan32", path: "/fanout", conns: 1000, phases: [
      { id: "metrics-fanout-1k-max", title: "Fan-out to 1k subscribers, max rate (16 in flight): metrics off vs on", unit: "delivery", mode: "fanout-max", window: 16, baseline: "switchboard", target }] },
  ];
}

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.split("=")[1];
const quick = args.includes("--quick");
/** --scratch: write only bench/results/<timestamp>.json (not latest.json, the SVGs or README's results block). */
const scratch = args.includes("--scratch");
const only = opt("only")?.split(",");
const onlyPhases = opt("phases")?.split(",");
const phasesOf = (sc: Scenario): Phase[] => sc.phases.filter((p) => !onlyPhases || onlyPhases.includes(p.id));
/** Whether a run measures this scenario: named in --only by its id or its group, or (no --only) not opt-in. */
const selected = (sc: Scenario): boolean => (only ? only.includes(sc.id) || (sc.group !== undefined && only.includes(sc.group)) : !sc.optIn);
const onlyContenders = opt("contenders")?.split(",");
const nWorkers = Number(opt("workers") ?? 2);
const repeat = Math.max(1, Math.min(10, Number(opt("repeat") ?? 1)));
const WARMUP_MS = quick ? 250 : 1000;
const WINDOW_MS = quick ? 800 : 5000;
const SRC_ADDRS = Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 1}`);
setProfiling(args.includes("--cpu-prof"));

const RESULTS = join(ROOT, "bench", "results");
/** Every server / redis process we started and have not stopped yet (stopped by PID). */
const live = new Set<ChildProcess>();

/** One contender's processes: its server node(s) and, for the cluster, redis-server. */
interface Deployment {
  procs: ChildProcess[]; pids: number[]; ports: number[];
  /** `switchboard serve`'s control socket (the workers contenders): `status` shows each worker's connections. */
  control?: string;
}
const workers: Worker[] = [];
/**
 * The latency probe: one more load-generator process holding a few subscribers spread through
 * the connection order (so through each server's send loop). The load generators that drain
 * thousands of sockets on one core add their own queueing to every latency they record; the
 * probe has little to read, so its latencies are the server's. Fixed-rate fan-out rows take
 * p50/p99 from it; `p50All`/`p99All` in the JSON keep what the whole load generator saw.
 */
let probe: Worker | null = null;
/** The C handshake load generator, when it could be built (see bench/lib/native.ts). */
let handshaker: string | null = null;
/** The C fan-out subscribers, when built; `--node-subscribers` keeps the Node ones (as before 2026-12-02). */
let subscriber: string | null = null;
const nodeSubscribers = args.includes("--node-subscribers");
/** Fan-out scenarios (all their phases fan-out) read with the C subscribers; their publisher and the probe stay in Node. */
const isFanout = (sc: Scenario): boolean => sc.phases.every((p) => p.mode === "fanout-max" || p.mode === "fanout-rate");
/** One probe subscriber per this many connections of a fixed-rate fan-out scenario. */
const PROBE_EVERY = 50;

function progress(msg: string): void { process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`); }

async function shutdown(code: number): Promise<never> {
  await Promise.all([...live].map((p) => stopServer(p)));
  for (const w of loadProcesses()) if (w.proc.exitCode === null) w.proc.kill("SIGTERM"); // by PID, only ours
  process.exit(code);
}
process.on("SIGINT", () => { progress("SIGINT: stopping servers and load generators"); void shutdown(130); });
process.on("SIGTERM", () => void shutdown(143));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
}

const all = <T>(fn: (w: Worker, i: number) => Promise<T>) => Promise.all(workers.map(fn));
/** The load generators, then the probe (last: `measure` reads its report there). */
const loadProcesses = (): Worker[] => (probe ? [...workers, probe] : workers);
/** For commands every load process must follow (mark, report, pause, stop). */
const everyone = <T>(fn: (w: Worker) => Promise<T>) => Promise.all(loadProcesses().map(fn));
/** Part i of n when `total` is split as evenly as whole numbers allow. */
const shareOf = (total: number, n: number, i: number): number => Math.floor(total / n) + (i < total % n ? 1 : 0);

interface Report { count: number; errors: number; hist: number[]; cpuMicros: number; wallMs: number }

/** One measured window: mark, wait, report; server CPU read from /proc at both ends. */
const cpuOf = (d: Deployment): number => d.pids.reduce((a, pid) => a + treeCpuMicros(pid), 0);
const rssOf = (d: Deployment): number => d.pids.reduce((a, pid) => a + treeRssBytes(pid), 0);

async function measure(server: Deployment, name: string, ph: Phase): Promise<Row> {
  await sleep(WARMUP_MS);
  await everyone((w) => w.call({ t: "mark" }));
  const cpu0 = cpuOf(server);
  const split0 = cpuSplit(server.pids, contender(name).redis === true);
  const t0 = performance.now();
  await sleep(WINDOW_MS);
  const reps = await everyone((w) => w.call<Report>({ t: "report" }));
  const cpu1 = cpuOf(server);
  const split1 = cpuSplit(server.pids, contender(name).redis === true);
  const wallMs = performance.now() - t0;
  const hist = newHist();
  for (const r of reps) merge(hist, fromSparse(r.hist));
  const probeReport = probe ? reps[reps.length - 1]! : null;
  const fromProbe = ph.mode === "fanout-rate" && probeReport !== null && probeReport.count > 0;
  const latency = fromProbe ? fromSparse(probeReport.hist) : hist;
  const units = reps.reduce((a, r) => a + r.count, 0);
  const srv = cpu1 - cpu0;
  const row: Row = {
    contender: name, units, unitsPerSec: units / (wallMs / 1000), cost: units ? srv / units : null,
    p50: percentile(latency, 0.5), p99: percentile(latency, 0.99),
    ...(fromProbe ? { latencyFrom: `probe (${probeReport.count} deliveries)`, p50All: percentile(hist, 0.5), p99All: percentile(hist, 0.99) } : {}),
    serverCpuPct: (srv / (wallMs * 1000)) * 100,
    loadgenCpuPct: (reps.reduce((a, r) => a + r.cpuMicros, 0) / (wallMs * 1000)) * 100,
    errors: reps.reduce((a, r) => a + r.errors, 0),
    perWorker: reps.map((r) => r.count),
  };
  // Issue 18 (JSON only): server µs per unit by process role, and each server worker's connections.
  const workersConns = serverWorkers.get(server);
  return Object.assign(row, { cpuSplit: splitPerUnit(split0, split1, units), ...(workersConns ? { serverWorkers: workersConns } : {}) });
}

/**
 * Connects n connections, spread over the workers. With `probes`, in that many rounds: each
 * round connects its share on the load generators, then one probe subscriber, so the probes
 * sit evenly through the connection order (which is the send order of every contender's loop).
 */
async function connectAll(server: Deployment, spec: Spec, n: number, probes = 0, native?: string): Promise<number> {
  type Res = { connected: number; failures: string[] };
  const connect = (w: Worker, i: number, count: number) => w.call<Res>({
    t: "connect", host: "127.0.0.1", port: server.ports[i % server.ports.length]!, path: spec.path, steps: spec.steps, count, srcAddrs: SRC_ADDRS,
    ...(native && w !== probe ? { native } : {}),
  }, 300_000);
  const probing = probe !== null && probes > 0;
  const rounds = probing ? probes : 1;
  const load = probing ? n - probes : n;
  let got = 0;
  const fails: string[] = [];
  for (let r = 0; r < rounds; r++) {
    const share = shareOf(load, rounds, r);
    const res = await all((w, i) => connect(w, i, shareOf(share, workers.length, i)));
    got = res.reduce((a, x) => a + x.connected, 0); // each worker reports its total so far
    fails.push(...res.flatMap((x) => x.failures));
    if (probing) {
      const p = await connect(probe!, r, 1);
      fails.push(...p.failures);
    }
  }
  const probed = probing ? (await probe!.call<{ conns: number }>({ t: "count" })).conns : 0;
  if (got + probed < n) progress(`  only ${got + probed}/${n} connected${fails.length ? `: ${fails[0]}` : ""}`);
  return got + probed;
}

async function runContender(sc: Scenario, name: string, results: Map<string, PhaseResult>): Promise<void> {
  const c = contender(name);
  const server = await deploy(c);
  try {
    const spec = c.client(sc.kind, sc.path);
    for (const ph of phasesOf(sc)) {
      progress(`  ${ph.id} / ${name}`);
      const row = await runPhase(sc, ph, server, spec, name);
      if (row) results.get(ph.id)!.rows.push(row);
      if (row) progress(`    ${ph.unit === "conn" ? `${((row.cost ?? 0) / 1024).toFixed(2)} KiB/conn` : `${row.unitsPerSec.toFixed(0)} ${ph.unit}/s, ${row.cost?.toFixed(2) ?? "-"} µs/${ph.unit}, loadgen ${row.loadgenCpuPct?.toFixed(0)} %`}`);
      await everyone((w) => w.call({ t: "pause" }));
      await sleep(quick ? 200 : 500); // let queued frames drain before the next phase
    }
  } finally {
    await everyone((w) => w.call({ t: "stop" }));
    for (const p of server.procs.reverse()) { await stopServer(p); live.delete(p); }
  }
}

type Spec = ReturnType<ReturnType<typeof contender>["client"]>;
const connectedFor = new WeakMap<Deployment, number>();
/** Connections per worker of a `switchboard serve` deployment, from its status once all are connected. */
const serverWorkers = new WeakMap<Deployment, number[]>();

/** Starts redis-server when needed, then the contender's node(s); every process joins `live` at once. */
async function deploy(c: Contender): Promise<Deployment> {
  const d: Deployment = { procs: [], pids: [], ports: [] };
  const env: Record<string, string> = {};
  const add = (p: ChildProcess) => { live.add(p); d.procs.push(p); d.pids.push(p.pid!); };
  try {
    if (c.redis) {
      const port = await freePort();
      add(await startRedis(port));
      env.REDIS_URL = `redis://127.0.0.1:${port}`;
    }
    for (let i = 0; i < (c.nodes ?? 1); i++) {
      const s = await startServer(c, await freePort(), { ...env, ...c.env, NODE_INDEX: String(i) });
      add(s.proc);
      d.ports.push(s.port);
      if (s.control !== undefined) d.control = s.control;
    }
  } catch (err) {
    for (const p of d.procs) { await stopServer(p); live.delete(p); }
    throw err;
  }
  return d;
}

async function runPhase(sc: Scenario, ph: Phase, server: Deployment, spec: Spec, name: string): Promise<Row | null> {
  if (ph.mode === "idle") {
    await sleep(500);
    const rss0 = rssOf(server);
    const n = await connectAll(server, spec, sc.conns);
    await sleep(quick ? 800 : 2000);
    const rss1 = rssOf(server);
    return { contender: name, units: n, unitsPerSec: 0, cost: n ? (rss1 - rss0) / n : null, p50: null, p99: null, serverCpuPct: null, loadgenCpuPct: null, errors: sc.conns - n };
  }
  if (ph.mode === "handshake") {
    await all((w) => w.call({ t: "handshakes", host: "127.0.0.1", port: server.ports[0]!, path: spec.path, steps: spec.steps, concurrency: 16, srcAddrs: SRC_ADDRS.slice(1),
      ...(handshaker ? { native: handshaker } : {}) }));
    return measure(server, name, ph);
  }
  if (!connectedFor.has(server)) {
    const probes = sc.phases.some((p) => p.mode === "fanout-rate") ? Math.max(10, Math.round(sc.conns / PROBE_EVERY)) : 0;
    connectedFor.set(server, await connectAll(server, spec, sc.conns, probes, isFanout(sc) ? subscriber ?? undefined : undefined));
    if (server.control !== undefined) {
      const conns = await workerConnections(server.control);
      serverWorkers.set(server, conns);
      progress(`    connections per server worker (switchboard status): ${conns.join(" / ")}`);
    }
  }
  if (ph.mode === "echo") await all((w) => w.call({ t: "echo", parts: spec.parts, window: ph.window ?? 8 }));
  else {
    await all((w, i) => w.call({ t: "publish", parts: spec.parts,
      ...(i === 0 ? (ph.mode === "fanout-rate" ? { rate: ph.rate! } : { window: ph.window ?? 4 }) : {}) }));
    await probe?.call({ t: "publish", parts: spec.parts }); // listens only
  }
  return measure(server, name, ph);
}

function updateReadme(md: string): void {
  const file = join(ROOT, "bench", "README.md");
  if (!existsSync(file)) return;
  const text = readFileSync(file, "utf8");
  const a = text.indexOf("<!-- results:start -->"), b = text.indexOf("<!-- results:end -->");
  if (a < 0 || b < a) return;
  writeFileSync(file, text.slice(0, a) + "<!-- results:start -->\n" + md + "\n" + text.slice(b));
}

/** Node raises its soft fd limit to the hard one; warn when even that is too low for n sockets. */
function checkFdLimit(n: number): void {
  const m = /Max open files\s+\S+\s+(\S+)/.exec(readFileSync("/proc/self/limits", "utf8"));
  const hard = m?.[1] === "unlimited" ? Infinity : Number(m?.[1]);
  if (hard < n + 512) progress(`WARNING: open-file hard limit ${hard} < ${n + 512}: raise it (ulimit -Hn, as root) or the large scenarios connect fewer sockets`);
}

/** With --repeat=N: per contender, the row of median cost (all rounds stay in `rounds`). */
function medianRows(rows: Row[]): Row[] {
  const by = new Map<string, Row[]>();
  for (const r of rows) by.set(r.contender, [...(by.get(r.contender) ?? []), r]);
  return [...by.values()].map((list) => {
    if (list.length === 1) return list[0]!;
    const sorted = [...list].sort((a, b) => (a.cost ?? Infinity) - (b.cost ?? Infinity));
    return { ...sorted[Math.floor((sorted.length - 1) / 2)]!, note: `median of ${list.length}`, rounds: list.map((x) => x.cost) };
  });
}

async function main(): Promise<void> {
  const startedAt = new Date();
  progress(`${quick ? "quick" : "full"} run; ${availableParallelism()} cores; pinning ${canPin() ? "server -> core 0, load generator -> core 1" : "NOT available (no taskset or 1 core): figures are less comparable"}`);
  checkFdLimit(quick ? 2000 : 10_000);
  progress("compiling the Node servers with tsc (bench/.build)");
  compileServers();
  for (let i = 0; i < nWorkers; i++) workers.push(startWorker());
  probe = startWorker({ probe: true });
  if (!only || only.includes("handshakes") || only.includes("app-handshakes")) {
    const built = buildHandshaker();
    handshaker = "path" in built ? built.path : null;
    if ("missing" in built) progress(`handshakes: the Node client will be the load generator, and likely the limit: ${built.missing}`);
  }
  if (!nodeSubscribers && [...scenarios(quick), ...metricsScenarios()].some((sc) => selected(sc) && isFanout(sc) && phasesOf(sc).length > 0)) {
    const built = buildSubscriber();
    subscriber = "path" in built ? built.path : null;
    if ("missing" in built) progress(`fan-out: the Node subscribers will read, and may throttle the server: ${built.missing}`);
  }
  if (!canPrioritise()) progress("latency probe runs at normal priority (nice -n -20 needs root or CAP_SYS_NICE): fixed-rate latencies include load-generator queueing");
  const results = new Map<string, PhaseResult>();
  const order: PhaseResult[] = [];
  for (const sc of [...scenarios(quick), ...metricsScenarios()]) {
    if (!selected(sc)) continue;
    const phases = phasesOf(sc);
    if (phases.length === 0) continue;
    for (const ph of phases) {
      const r: PhaseResult = { id: ph.id, title: ph.title, unit: ph.unit, baseline: ph.baseline, ...(ph.target ? { target: ph.target } : {}), rows: [], skipped: [] };
      results.set(ph.id, r); order.push(r);
    }
    const why = sc.unavailable?.();
    if (why) { progress(`${sc.id}: ${why}`); for (const ph of phases) results.get(ph.id)!.skipped.push({ contender: "(scenario)", reason: why }); continue; }
    progress(`${sc.id}: ${sc.contenders.join(", ")}`);
    // Rounds interleave the contenders, so each round's rows saw similar machine load.
    for (let round = 0; round < repeat; round++) for (const name of sc.contenders) {
      if (onlyContenders && !onlyContenders.includes(name)) continue;
      const skip = contender(name).unavailable();
      if (skip) {
        if (round === 0) { progress(`  ${name}: skipped, ${skip}`); for (const ph of phases) results.get(ph.id)!.skipped.push({ contender: name, reason: skip }); }
        continue;
      }
      try { await runContender(sc, name, results); }
      catch (err) {
        progress(`  ${name}: FAILED ${(err as Error).message}`);
        for (const ph of phases) results.get(ph.id)!.skipped.push({ contender: name, reason: `failed: ${(err as Error).message}` });
      }
    }
  }
  await everyone((w) => w.call({ t: "exit" }).catch(() => undefined));

  mkdirSync(RESULTS, { recursive: true });
  const mdParts: string[] = [];
  for (const r of order) {
    r.rows = medianRows(r.rows);
    finish(r);
    const t = table(r);
    console.log("\n" + t);
    if (!scratch) writeFileSync(join(RESULTS, `${r.id}.svg`), svg(r));
    mdParts.push(t + (r.rows.length ? `\n\n![${r.id}](results/${r.id}.svg)` : ""));
  }
  const doc = {
    startedAt: startedAt.toISOString(), quick, warmupMs: WARMUP_MS, windowMs: WINDOW_MS,
    machine: { cores: availableParallelism(), pinned: canPin(), node: process.version },
    repeat, contenders: CONTENDERS.map((c) => ({ name: c.name, unavailable: c.unavailable() })),
    phases: order,
  };
  const stampName = startedAt.toISOString().replace(/[:.]/g, "-");
  writeFileSync(join(RESULTS, `${stampName}.json`), JSON.stringify(doc, null, 2));
  if (scratch) { progress(`results (--scratch): bench/results/${stampName}.json only`); return; }
  writeFileSync(join(RESULTS, "latest.json"), JSON.stringify(doc, null, 2));
  const header = `Run of ${startedAt.toISOString()} (${quick ? "--quick" : "full"}${repeat > 1 ? `, --repeat=${repeat}: median row of ${repeat} rounds` : ""}; warm-up ${WARMUP_MS} ms, window ${WINDOW_MS} ms; ${doc.machine.cores} cores, pinned: ${doc.machine.pinned}; Node ${process.version}).`;
  updateReadme(header + "\n\n" + mdParts.join("\n\n"));
  progress(`results: bench/results/${stampName}.json, bench/results/latest.json, bench/results/*.svg`);
}

main().then(() => shutdown(0), (err) => { progress(`error: ${(err as Error).stack ?? err}`); void shutdown(1); });
