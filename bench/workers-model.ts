/**
 * Issue 18: the N-core model of `switchboard serve --workers N`, from one run of the workers
 * scenarios (`npm run bench -- --scratch --only=workers`):
 *   node --conditions=source --import tsx bench/workers-model.ts bench/results/<timestamp>.json
 * prints markdown: each row's server CPU split by process (primary / workers / redis-server),
 * the per-push costs fitted from the 2- and 3-worker rows, and the predicted throughput on N
 * cores next to what was measured with 2. The formulas are in bench/README.md ("Workers").
 */
import { readFileSync } from "node:fs";
import { scenarios } from "./lib/scenarios.ts";
import type { Row } from "./lib/report.ts";
import type { CpuSplit } from "./lib/server-split.ts";

type WorkersRow = Row & { cpuSplit?: CpuSplit | null; serverWorkers?: number[] };
interface Doc { startedAt: string; quick: boolean; repeat: number; phases: Array<{ id: string; rows: WorkersRow[] }> }

const file = process.argv[2];
if (!file) {
  console.error("usage: bench/workers-model.ts bench/results/<timestamp>.json (a run with --only=workers)");
  process.exit(2);
}
const doc = JSON.parse(readFileSync(file, "utf8")) as Doc;
const phase = (id: string): WorkersRow[] => doc.phases.find((p) => p.id === id)?.rows ?? [];
const M = scenarios(false).find((s) => s.id === "workers-room")!.conns; // members = deliveries per push
const f2 = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(2));
const k = (x: number): string => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(0)} k`);

function splitTable(title: string, unit: string, rows: WorkersRow[]): string {
  const out = [`#### ${title}`, "", `| contender | ${unit}/s | srv µs/${unit} | primary (or the process) | workers | redis | srv CPU % | loadgen CPU % | connections per worker |`, "|---|---:|---:|---:|---:|---:|---:|---:|---|"];
  for (const r of rows) {
    const s = r.cpuSplit;
    out.push(`| ${r.contender} | ${r.unitsPerSec.toFixed(0)} | ${f2(r.cost)} | ${f2(s?.root)} | ${s && s.children > 0 ? f2(s.children) : "-"} | ${s && s.redis > 0 ? f2(s.redis) : "-"} | ${f2(r.serverCpuPct)} | ${f2(r.loadgenCpuPct)} | ${r.serverWorkers?.join(" / ") ?? "(one process)"} |`);
  }
  return out.join("\n");
}

const byName = (rows: WorkersRow[]) => (name: string): WorkersRow | undefined => rows.find((r) => r.contender === name);
const lines: string[] = [`Run of ${doc.startedAt}${doc.quick ? " (--quick)" : ""}${doc.repeat > 1 ? `, median of ${doc.repeat} rounds per row` : ""}. µs of server CPU per unit; the split columns add up to the total.`, ""];

const rpc = phase("workers-rpc");
const room = phase("workers-room-1k");
if (rpc.length) lines.push(splitTable("App RPC echo, 100 x 8 in flight", "request", rpc), "");
if (room.length) lines.push(splitTable(`Room push to ${M / 1000}k members, 16 in flight`, "delivery", room), "");

// ── Room push: fit the per-push costs ───────────────────────────────────────────────────────
const get = byName(room);
const one = get("switchboard-app-w1") ?? get("switchboard-app");
const w2 = get("switchboard-app-w2"), w3 = get("switchboard-app-w3"), redis = get("switchboard-app-w2-redis"), plain = get("switchboard-app");
if (one?.cost && w2?.cpuSplit && w2.cost) {
  const c1 = one.cost * M; // µs per push, one process serving every member
  const W2 = w2.cpuSplit.children * M, H2 = w2.cpuSplit.root * M;
  // The prediction is built from the one-process cost and the primary's hub cost only; the
  // 2-worker row's own total is what it is compared with. Hub: H(N) = h0 + N·h1 (one request
  // and its reply, one push sent per worker): four IPC messages with 2 workers, so h1 = H(2)/4.
  // Per worker and push f (the push received over IPC, parsed, framed once): the 3-worker row's
  // workers minus the 2-worker row's, when that is above noise; else 0.
  const h1 = H2 / 4, h0 = H2 - 2 * h1;
  const fw3 = w3?.cpuSplit ? w3.cpuSplit.children * M - W2 : NaN;
  const f = fw3 > 0 ? fw3 : 0;
  const H = (n: number) => h0 + n * h1;
  // One worker pays f once already (its own push): T(N) = c_1 + (N - 1)·f + H(N).
  const T = (n: number) => (n === 1 ? c1 : c1 + (n - 1) * f + H(n));
  lines.push("#### The model (room push to one room whose members are spread evenly over N workers, one worker per core)", "",
    `Per push, µs of CPU (M = ${M} members = deliveries per push). From one process (${one.contender}): c_1 = ${c1.toFixed(0)}. ` +
    `From the 2-worker row's primary (the IPC hub): H(2) = ${H2.toFixed(0)}, so h1 = H(2)/4 = ${h1.toFixed(0)} per IPC message. ` +
    (fw3 > 0 ? `Per extra worker f = ${f.toFixed(0)} (the 3-worker row's workers minus the 2-worker row's).`
      : `Per extra worker f: the 3-worker row's workers minus the 2-worker row's is ${Number.isFinite(fw3) ? fw3.toFixed(0) : "not measured"}, within noise: f = 0.`),
    "",
    "T(N) = c_1 + (N - 1)·f + H(N), H(N) = (2 + N)·h1; throughput on N cores = M × min(N / T(N), 1 / H(N)) (the CPU of N cores if the work spreads evenly; the hub is one process).",
    "",
    "| cores N | CPU per delivery (µs) | vs one process | limited by | predicted deliveries/s | hub alone saturates at |",
    "|---:|---:|---:|---|---:|---:|");
  for (const n of [1, 2, 4, 8, 16, 32]) {
    const cpu = (n * 1e6) / T(n), hub = n === 1 ? Infinity : 1e6 / H(n);
    lines.push(`| ${n} | ${(T(n) / M).toFixed(3)} | ${(T(n) / c1).toFixed(2)}x | ${cpu <= hub ? "CPU" : "the hub"} | ${k(M * Math.min(cpu, hub))} | ${n === 1 ? "-" : `${k(M * hub)} deliveries/s`} |`);
  }
  const got = (w2.serverCpuPct ?? 0) / 100;
  lines.push("", `Measured with 2 workers: ${(W2 + H2).toFixed(0)} µs per push (${((W2 + H2) / M).toFixed(3)} per delivery; the model: ${(T(2) / M).toFixed(3)}, measured/model ${((W2 + H2) / T(2)).toFixed(2)}x), ` +
    `${k(w2.unitsPerSec)} deliveries/s at ${(got * 100).toFixed(0)} % server CPU (of 200 %), the load generator at ${f2(w2.loadgenCpuPct)} % on core 1 beside a worker. ` +
    `The model at that CPU: ${k((got * 1e6 * M) / T(2))} deliveries/s (measured/model ${((w2.unitsPerSec * T(2)) / (got * 1e6 * M)).toFixed(2)}x); with both cores to the server: ${k((2e6 * M) / T(2))}.`);
  if (plain?.cost) lines.push("", `Per delivery, 2 workers vs one process (target <= 1.3x): ${(w2.cost / plain.cost).toFixed(2)}x (vs the CLI as one process: ${(w2.cost / one.cost).toFixed(2)}x).`);
  if (redis?.cpuSplit && redis.cost) {
    const R = redis.cpuSplit.redis * M, RW = redis.cpuSplit.children * M;
    lines.push("", `Redis instead of the IPC hub (2 workers): per push, redis-server ${R.toFixed(0)} µs and the workers ${RW.toFixed(0)} µs (IPC: hub ${H2.toFixed(0)}, workers ${W2.toFixed(0)}). ` +
      `Cross-worker cost per delivery, c_x = (server CPU with 2 workers - one process) per delivery: IPC ${((W2 + H2 - c1) / M).toFixed(3)} µs, Redis ${((RW + R - c1) / M).toFixed(3)} µs. ` +
      `redis-server is one process: it saturates at ${k((1e6 * M) / R)} deliveries/s with 2 workers subscribed (more with every worker added, as the hub).`);
  }
}

// ── RPC echo: nothing crosses the workers ───────────────────────────────────────────────────
const getR = byName(rpc);
const e1 = getR("switchboard-app-w1") ?? getR("switchboard-app"), e2 = getR("switchboard-app-w2");
if (e1?.cost && e2?.cost) {
  const got = (e2.serverCpuPct ?? 0) / 100;
  lines.push("", "#### RPC echo", "", `Nothing crosses the workers (the primary only hands over each connection once): throughput = N / c_w with c_w = ${e1.cost.toFixed(2)} µs per request (${e1.contender}); ` +
    `2 workers cost ${e2.cost.toFixed(2)} µs per request (${(e2.cost / e1.cost).toFixed(2)}x). Measured with 2 workers: ${k(e2.unitsPerSec)} requests/s at ${(got * 100).toFixed(0)} % server CPU, loadgen ${f2(e2.loadgenCpuPct)} %; ` +
    `the model at that CPU: ${k((got * 1e6) / e1.cost)}; on N cores: ${[1, 2, 4, 8, 16].map((n) => `${n}: ${k((n * 1e6) / e1.cost!)}`).join(", ")} requests/s.`);
}
console.log(lines.join("\n"));
