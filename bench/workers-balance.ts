/**
 * Issue 18: how connections are spread over the workers of one port, and what happens to the
 * connections a worker had not yet taken when it dies. Three ways to share a port:
 *   rr         node:cluster SCHED_RR: the primary accepts and hands each socket to a free worker
 *   none       node:cluster SCHED_NONE: every worker accepts from one shared listening socket
 *   reuseport  one SO_REUSEPORT socket per worker (python3): the kernel picks a socket by a hash
 *              of the 4-tuple, which is what Node's `reusePort` (22.12+ / 23.1+) would give
 * Listeners: bench/lib/balance-cluster.ts and bench/lib/reuseport-listener.py; each writes one
 * byte ("0" + its index) on accept, so this process, the one client, knows who took what.
 *
 *   node --conditions=source --import tsx bench/workers-balance.ts [--rounds=3] [--workers=2,4]
 *        [--modes=rr,none,reuseport] [--only=balance|death] [--settle=MS] [--json=FILE]
 *        [--primarycpu=1]   (CPU-timed: under `flock /tmp/h3/bench.lock` on a shared machine)
 *
 * Cases (fresh listeners per round): kept = 1,000 connections opened 50 at a time and kept;
 * churn = 10,000 short connections (connect, one byte each way, close), 32 at a time;
 * sources = 1,000 kept connections, each from its own address in 127.0.0.0/8; few = 2 per worker
 * opened one at a time and kept, 20 draws (a random draw is uneven for small n). Death: worker 0
 * is stopped (SIGSTOP), 200 connections are opened, then it is killed (SIGKILL) — or, for
 * reuseport "close", it stops accepting and closes its listening socket as a reload would.
 * Counts, not CPU time: no pinning or bench lock needed. Every loop is bounded in count and time;
 * every process started here is stopped by PID.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import { createInterface } from "node:readline";

type Mode = "rr" | "none" | "reuseport";
const MODE_LABEL: Record<Mode, string> = { rr: "cluster SCHED_RR", none: "cluster SCHED_NONE", reuseport: "SO_REUSEPORT" };

const args = new Map(process.argv.slice(2).map((a) => {
  const m = /^--([a-z]+)=(.*)$/.exec(a);
  if (!m) throw new Error(`unknown argument ${a}`);
  return [m[1]!, m[2]!] as const;
}));
const ROUNDS = Math.max(1, Math.min(Number(args.get("rounds") ?? 3), 10));
const WORKERS = (args.get("workers") ?? "2,4").split(",").map(Number).filter((n) => n >= 2 && n <= 9);
const MODES = (args.get("modes") ?? "rr,none,reuseport").split(",") as Mode[];
const ONLY = args.get("only");
const JSON_OUT = args.get("json");
/** Also read the cluster primary's CPU over the churn: a CPU-timed figure, so run it under the bench lock. */
const PRIMARY_CPU = args.get("primarycpu") === "1";
/** How long a connection queued at a dead worker is watched for an answer (reset, close, or a survivor's byte). */
const SETTLE_MS = Math.max(1_000, Math.min(Number(args.get("settle") ?? 5_000), 120_000));
for (const m of MODES) if (!(m in MODE_LABEL)) throw new Error(`--modes: unknown mode ${m}`);

const KEPT = 1_000;
const BURST = 50;
const CHURN = 10_000;
const CHURN_CONCURRENCY = 32;
const SOURCES = 1_000;
const FEW_PER_WORKER = 2;
const FEW_DRAWS = 20;
const DEATH_OPEN = 200;
const DEATH_AFTER = 100;
const WAIT_MS = 10_000; // the deadline of any one wait
const NODE = [process.execPath, "--conditions=source", "--import", "tsx"];

const migrateReq = (() => {
  try { return readFileSync("/proc/sys/net/ipv4/tcp_migrate_req", "utf8").trim(); } catch { return "absent (kernel < 5.14)"; }
})();

// ---------------------------------------------------------------- listeners

interface Fleet {
  readonly port: number;
  /** Worker (listener) PIDs by index. */
  readonly pids: number[];
  /** node:cluster only: the primary, which accepts every connection under SCHED_RR. */
  readonly primaryPid?: number;
  /** reuseport only: a stdin command to listener i, resolved on its answer. */
  command(index: number, cmd: "pause" | "close"): Promise<void>;
  stop(): Promise<void>;
}

/** One line reader per child (a second reader on the same stream would see the lines twice). */
const lineListeners = new WeakMap<ChildProcess, Set<(e: Record<string, unknown>) => void>>();
function jsonLines(child: ChildProcess): Set<(e: Record<string, unknown>) => void> {
  let set = lineListeners.get(child);
  if (set) return set;
  const listeners = new Set<(e: Record<string, unknown>) => void>();
  lineListeners.set(child, listeners);
  createInterface({ input: child.stdout! }).on("line", (line) => {
    let e: Record<string, unknown>;
    try { e = JSON.parse(line) as Record<string, unknown>; } catch { process.stderr.write(`[listener] ${line}\n`); return; }
    for (const l of [...listeners]) l(e);
  });
  set = listeners;
  return set;
}

function nextEvent(child: ChildProcess, ev: string): Promise<Record<string, unknown>> {
  const listeners = jsonLines(child);
  return new Promise((resolve, reject) => {
    const done = (): void => { clearTimeout(timer); child.off("exit", onExit); listeners.delete(onLine); };
    const timer = setTimeout(() => { done(); reject(new Error(`timed out waiting for ${ev}`)); }, WAIT_MS);
    const onExit = (code: number | null): void => { done(); reject(new Error(`listener exited (${code}) before ${ev}`)); };
    const onLine = (e: Record<string, unknown>): void => { if (e.ev === ev) { done(); resolve(e); } };
    child.once("exit", onExit);
    listeners.add(onLine);
  });
}

function killByPid(pid: number, signal: NodeJS.Signals): void {
  try { process.kill(pid, signal); } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err; // ESRCH: already exited
  }
}

/** End a child's stdin (its cue to exit); SIGKILL it by PID if it has not exited within the deadline. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.stdin!.end();
  const timer = setTimeout(() => killByPid(child.pid!, "SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

const started = new Set<ChildProcess>();
function track(child: ChildProcess): ChildProcess {
  started.add(child);
  jsonLines(child); // read from the start: no line is lost before the first wait
  child.once("exit", () => started.delete(child));
  child.stdin!.on("error", () => { /* EPIPE from a listener killed on purpose */ });
  return child;
}
process.on("exit", () => { for (const c of started) if (c.pid) killByPid(c.pid, "SIGKILL"); });
process.on("SIGINT", () => process.exit(130));

async function startFleet(mode: Mode, count: number): Promise<Fleet> {
  if (mode !== "reuseport") {
    const child = track(spawn(NODE[0]!, [...NODE.slice(1), "bench/lib/balance-cluster.ts", mode, String(count)], { stdio: ["pipe", "pipe", "inherit"] }));
    const ready = await nextEvent(child, "ready");
    return {
      port: Number(ready.port), pids: ready.pids as number[], primaryPid: child.pid!,
      command: () => Promise.reject(new Error("commands are for reuseport listeners")),
      stop: () => stopChild(child),
    };
  }
  const children: ChildProcess[] = [];
  const pids: number[] = [];
  let port = 0;
  for (let i = 0; i < count; i++) {
    const child = track(spawn("python3", ["bench/lib/reuseport-listener.py", String(i), String(port)], { stdio: ["pipe", "pipe", "inherit"] }));
    const ready = await nextEvent(child, "ready");
    port = Number(ready.port);
    children.push(child);
    pids.push(child.pid!);
  }
  return {
    port, pids,
    async command(index, cmd) {
      const answered = nextEvent(children[index]!, cmd === "pause" ? "paused" : "closed");
      children[index]!.stdin!.write(cmd + "\n");
      await answered;
    },
    async stop() { await Promise.all(children.map(stopChild)); },
  };
}

/** CPU µs of one process (not its children) so far, from /proc (10 ms ticks). */
function processCpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10_000;
}

// ---------------------------------------------------------------- the client

/** One client connection and what became of it. */
class Probe {
  readonly socket: net.Socket;
  connected = false;
  /** The index of the worker that accepted it, from the byte it wrote. */
  index: number | null = null;
  failure: string | null = null;
  closed = false;
  private readonly waiters: Array<() => void> = [];

  constructor(port: number, opts: { localAddress?: string; churn?: boolean } = {}) {
    this.socket = net.connect({ host: "127.0.0.1", port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    this.socket.on("connect", () => {
      this.connected = true;
      if (opts.churn) this.socket.write("x");
      this.wake();
    });
    this.socket.on("data", (buf) => {
      if (this.index !== null) return;
      this.index = buf[0]! - 48;
      if (opts.churn) this.socket.end();
      this.wake();
    });
    this.socket.on("error", (err: NodeJS.ErrnoException) => { this.failure ??= err.code ?? err.message; this.wake(); });
    this.socket.on("end", () => { if (this.index === null) this.failure ??= "eof"; this.wake(); });
    this.socket.on("close", () => { this.closed = true; this.wake(); });
  }

  private wake(): void { for (const w of this.waiters.splice(0)) w(); }

  /** Resolves when `done()` holds or after `ms`; never rejects. */
  until(done: () => boolean, ms = WAIT_MS): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      const check = (): void => {
        if (done()) { clearTimeout(timer); resolve(); } else this.waiters.push(check);
      };
      this.waiters.push(check);
    });
  }

  settled(): boolean { return this.index !== null || this.failure !== null || this.closed; }
}

async function closeAll(probes: Probe[]): Promise<void> {
  for (const p of probes) p.socket.destroy();
  await Promise.all(probes.map((p) => p.until(() => p.closed)));
}

function tally(probes: Probe[], count: number): { counts: number[]; failed: number } {
  const counts = new Array<number>(count).fill(0);
  let failed = 0;
  for (const p of probes) {
    if (p.index !== null && p.index >= 0 && p.index < count) counts[p.index]! += 1;
    else failed += 1;
  }
  return { counts, failed };
}

/** `total` kept connections opened `BURST` at a time, each waited for until a worker took it. */
async function kept(port: number, total: number, address?: (k: number) => string): Promise<Probe[]> {
  const probes: Probe[] = [];
  for (let i = 0; i < total; i += BURST) {
    const burst = Array.from({ length: Math.min(BURST, total - i) }, (_, k) =>
      new Probe(port, address ? { localAddress: address(i + k) } : {}));
    await Promise.all(burst.map((p) => p.until(() => p.settled())));
    probes.push(...burst);
  }
  return probes;
}

async function churn(port: number, count: number): Promise<{ counts: number[]; failed: number }> {
  const counts = new Array<number>(count).fill(0);
  let failed = 0;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < CHURN) {
      next += 1;
      const p = new Probe(port, { churn: true });
      await p.until(() => p.closed);
      if (!p.closed) p.socket.destroy();
      if (p.index !== null && p.index >= 0 && p.index < count) counts[p.index]! += 1;
      else failed += 1;
    }
  };
  await Promise.all(Array.from({ length: CHURN_CONCURRENCY }, lane));
  return { counts, failed };
}

/** A distinct address of 127.0.0.0/8 for connection k (the whole /8 is on loopback on Linux). */
const sourceAddress = (k: number): string => `127.10.${Math.floor(k / 250)}.${1 + (k % 250)}`;

// ---------------------------------------------------------------- statistics

function spread(counts: number[]): { maxMin: number; cv: number } {
  const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
  const sd = Math.sqrt(counts.reduce((a, c) => a + (c - mean) ** 2, 0) / counts.length);
  const min = Math.min(...counts);
  return { maxMin: min === 0 ? Infinity : Math.max(...counts) / min, cv: mean === 0 ? 0 : sd / mean };
}

/** CV of n connections thrown uniformly at random on k workers (multinomial): sqrt((k-1)/n). */
const randomCv = (k: number, n: number): number => Math.sqrt((k - 1) / n);

// ---------------------------------------------------------------- the measurements

interface BalanceRow {
  mode: Mode; workers: number; kind: "kept" | "churn" | "sources" | "few";
  rounds: Array<{ counts: number[]; failed: number; maxMin: number; cv: number; primaryMicrosPerConn?: number }>;
}

async function balance(mode: Mode, workers: number): Promise<BalanceRow[]> {
  const rows: BalanceRow[] = (["kept", "churn", "sources", "few"] as const).map((kind) => ({ mode, workers, kind, rounds: [] }));
  for (let r = 0; r < ROUNDS; r++) {
    const fleet = await startFleet(mode, workers);
    try {
      const k = await kept(fleet.port, KEPT);
      const kt = tally(k, workers);
      await closeAll(k);
      rows[0]!.rounds.push({ ...kt, ...spread(kt.counts) });

      // The primary's own CPU over the churn: what SCHED_RR's extra hop costs per connection.
      const timed = PRIMARY_CPU && fleet.primaryPid !== undefined;
      const cpu0 = timed ? processCpuMicros(fleet.primaryPid!) : 0;
      const c = await churn(fleet.port, workers);
      const primaryMicrosPerConn = timed ? (processCpuMicros(fleet.primaryPid!) - cpu0) / CHURN : undefined;
      rows[1]!.rounds.push({ ...c, ...spread(c.counts), ...(primaryMicrosPerConn !== undefined ? { primaryMicrosPerConn } : {}) });

      const s = await kept(fleet.port, SOURCES, sourceAddress);
      const st = tally(s, workers);
      await closeAll(s);
      rows[2]!.rounds.push({ ...st, ...spread(st.counts) });

      // Few long-lived connections: FEW_PER_WORKER per worker, opened one at a time, FEW_DRAWS
      // times; a round's entry is its worst draw and the RMS of the draws' CVs.
      let worstDraw: { counts: number[]; failed: number; maxMin: number; cv: number } | undefined;
      let sumCv2 = 0;
      for (let d = 0; d < FEW_DRAWS; d++) {
        const probes: Probe[] = [];
        for (let i = 0; i < FEW_PER_WORKER * workers; i++) {
          const p = new Probe(fleet.port);
          await p.until(() => p.settled());
          probes.push(p);
        }
        const t = tally(probes, workers);
        await closeAll(probes);
        const sp = spread(t.counts);
        sumCv2 += sp.cv ** 2;
        if (!worstDraw || sp.cv > worstDraw.cv) worstDraw = { ...t, ...sp };
      }
      rows[3]!.rounds.push({ ...worstDraw!, cv: Math.sqrt(sumCv2 / FEW_DRAWS) });
    } finally {
      await fleet.stop();
    }
    progress(`balance ${mode} x${workers} round ${r + 1}/${ROUNDS} done`);
  }
  return rows;
}

interface DeathRow {
  mode: Mode; workers: number; variant: "kill" | "close";
  /** While worker 0 was stopped: connections the others took, by index (index 0 stays 0). */
  whileHung: number[];
  /** Connected (handshake done by the kernel) but taken by no worker when worker 0 went away. */
  queued: number;
  /** What became of those: taken by another worker, reset, closed (eof), or still nothing after the deadline. */
  after: { servedByOthers: number; reset: number; eof: number; hung: number; other: number };
  /** Connections opened after the death: taken, by index, and failed. */
  fresh: { counts: number[]; failed: number };
}

/** Wait until no more probes get a worker for `quietMs` (bounded by WAIT_MS): the survivors are done. */
async function quiet(probes: Probe[], quietMs = 500): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  let last = -1;
  for (let i = 0; i < 100 && Date.now() < deadline; i++) {
    const served = probes.filter((p) => p.settled()).length;
    if (served === last) return;
    last = served;
    await new Promise((r) => setTimeout(r, quietMs));
  }
}

async function death(mode: Mode, workers: number, variant: "kill" | "close"): Promise<DeathRow> {
  const fleet = await startFleet(mode, workers);
  try {
    const victim = fleet.pids[0]!;
    if (variant === "kill") killByPid(victim, "SIGSTOP");
    else await fleet.command(0, "pause");
    const probes: Probe[] = [];
    for (let i = 0; i < DEATH_OPEN; i += BURST) {
      const burst = Array.from({ length: Math.min(BURST, DEATH_OPEN - i) }, () => new Probe(fleet.port));
      await Promise.all(burst.map((p) => p.until(() => p.connected || p.failure !== null)));
      probes.push(...burst);
    }
    progress(`death ${mode} x${workers} ${variant}: ${probes.length} opened`);
    await quiet(probes);
    const whileHung = tally(probes.filter((p) => p.index !== null), workers).counts;
    const waiting = probes.filter((p) => p.connected && !p.settled());

    if (variant === "kill") killByPid(victim, "SIGKILL");
    else await fleet.command(0, "close");
    await Promise.all(waiting.map((p) => p.until(() => p.settled(), SETTLE_MS)));
    const after = { servedByOthers: 0, reset: 0, eof: 0, hung: 0, other: 0 };
    for (const p of waiting) {
      if (p.index !== null) after.servedByOthers += 1;
      else if (p.failure === "ECONNRESET") after.reset += 1;
      else if (p.failure === "eof") after.eof += 1;
      else if (!p.settled()) after.hung += 1;
      else after.other += 1;
    }
    progress(`death ${mode} x${workers} ${variant}: queued ones settled`);
    const fresh = await kept(fleet.port, DEATH_AFTER);
    progress(`death ${mode} x${workers} ${variant}: fresh ones taken`);
    const row: DeathRow = { mode, workers, variant, whileHung, queued: waiting.length, after, fresh: tally(fresh, workers) };
    await closeAll([...probes, ...fresh]);
    return row;
  } finally {
    await fleet.stop();
  }
}

// ---------------------------------------------------------------- report

const T0 = Date.now();
const progress = (what: string): void => { process.stderr.write(`[${((Date.now() - T0) / 1000).toFixed(1)} s] ${what}\n`); };

const fmt = (x: number, d = 2): string => (Number.isFinite(x) ? x.toFixed(d) : "∞");
const pct = (x: number): string => `${(x * 100).toFixed(1)} %`;

const balanceRows: BalanceRow[] = [];
const deathRows: DeathRow[] = [];
if (ONLY !== "death") for (const w of WORKERS) for (const m of MODES) balanceRows.push(...await balance(m, w));
if (ONLY !== "balance") {
  for (const w of WORKERS) for (const m of MODES) {
    deathRows.push(await death(m, w, "kill"));
    if (m === "reuseport") deathRows.push(await death(m, w, "close"));
    progress(`death ${m} x${w} done`);
  }
}

const out: string[] = [];
out.push(`Run of ${new Date().toISOString()}: Node ${process.version}, kernel ${readFileSync("/proc/sys/kernel/osrelease", "utf8").trim()}, ` +
  `net.ipv4.tcp_migrate_req = ${migrateReq}, ${ROUNDS} round(s), fresh listeners per round.`, "");
if (balanceRows.length) {
  out.push("| case | workers | sharing | per-worker counts (worst round) | max/min (worst) | CV per round | CV if random | failed |");
  out.push("|---|--:|---|---|--:|---|--:|--:|");
  const total = { kept: KEPT, churn: CHURN, sources: SOURCES, few: 0 };
  for (const row of balanceRows) {
    const worst = row.rounds.reduce((a, b) => (b.cv > a.cv ? b : a));
    const n = row.kind === "few" ? FEW_PER_WORKER * row.workers : total[row.kind];
    const kind = row.kind === "few" ? `few: ${n} opened one by one, ${FEW_DRAWS} draws (worst draw; RMS CV)` : row.kind;
    out.push(`| ${kind} | ${row.workers} | ${MODE_LABEL[row.mode]} | ${worst.counts.join(" / ")} | ${fmt(worst.maxMin)} | ` +
      `${row.rounds.map((r) => pct(r.cv)).join(", ")} | ${pct(randomCv(row.workers, n))} | ${row.rounds.reduce((a, r) => a + r.failed, 0)} |`);
  }
  const primary = PRIMARY_CPU ? balanceRows.filter((r) => r.kind === "churn" && r.mode !== "reuseport") : [];
  if (primary.length) {
    out.push("", "node:cluster primary CPU per churn connection (µs, per round; /proc, 10 ms ticks; SO_REUSEPORT has no primary in the path): " +
      primary.map((r) => `${MODE_LABEL[r.mode]} x${r.workers} ${r.rounds.map((x) => fmt(x.primaryMicrosPerConn ?? NaN, 1)).join(" / ")}`).join("; "));
  }
  out.push("");
}
if (deathRows.length) {
  out.push(`| workers | sharing | worker 0 | taken by the others while it hung (of ${DEATH_OPEN}) | queued, taken by none | then: taken by others / reset / eof / nothing after ${SETTLE_MS / 1000} s | ${DEATH_AFTER} new after: per worker (failed) |`);
  out.push("|--:|---|---|---|--:|---|---|");
  for (const d of deathRows) {
    const how = d.variant === "kill" ? "SIGSTOP, then SIGKILL" : "stops accepting, then closes its socket";
    out.push(`| ${d.workers} | ${MODE_LABEL[d.mode]} | ${how} | ${d.whileHung.join(" / ")} | ${d.queued} | ` +
      `${d.after.servedByOthers} / ${d.after.reset} / ${d.after.eof} / ${d.after.hung}${d.after.other ? ` (+${d.after.other} other)` : ""} | ` +
      `${d.fresh.counts.join(" / ")} (${d.fresh.failed}) |`);
  }
  out.push("");
}
process.stdout.write(out.join("\n") + "\n");
if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify({ at: new Date().toISOString(), node: process.version, migrateReq, rounds: ROUNDS, balanceRows, deathRows }, null, 2));
process.exit(0);
