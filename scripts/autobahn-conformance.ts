/**
 * RFC 6455 conformance: runs the Autobahn|Testsuite fuzzing client (../shared/autobahn) against
 * Switchboard's echo server (scripts/autobahn-echo.ts) and judges the per-case reports against
 * scripts/autobahn-cases.ts. Two runs:
 *
 * - `defaults` (the 9.* limits group, ~15 s): Switchboard's default limits. Each case's message
 *   size comes from its report; exactly the cases above the default `maxPayload` must be closed
 *   with 1009, every other case must be OK, and the refused set must equal REFUSED_AT_DEFAULTS.
 * - `conformance` (all 517 cases, as CI runs it, ~20 min; `--cases quick`: ~4 min): `maxPayload`
 *   16 MiB, no fragment limit, permessage-deflate on. No case may fail or be unimplemented, and
 *   the NON-STRICT / INFORMATIONAL cases (and their close codes) must be exactly NOTED_CASES.
 *
 *   node --conditions=source --import tsx scripts/autobahn-conformance.ts [--run all|defaults|conformance]
 *        [--cases quick|full] [--suite ../shared/autobahn] [--reports DIR] [--judge-only]
 *
 * `--judge-only` judges the reports already in --reports DIR again, without running anything.
 * The suite's own output is passed through (lines start with "│"); its FAILED list in the
 * defaults run is the expected 1009 refusals, the judgement is the `autobahn <run>:` line.
 * Prints one summary line per run (`autobahn <run>: PASS|FAIL …`) and exits 1 if a run failed.
 * The echo server and the suite are child processes this script starts and stops by PID.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { LIMITS } from "../src/limits.ts";
import { CASE_SETS, RUNS, type CaseSetName, type RunName } from "./autobahn-cases.ts";
import { judgeConformance, judgeDefaults, readReport, type Verdict } from "./autobahn-judge.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
/** How long the echo server may take to listen, and to exit after SIGTERM. */
const SERVER_START_MS = 30_000;
const SERVER_STOP_MS = 15_000;
/** The suite's own deadline per case set (run.sh's AB_TIMEOUT); ours is this plus a margin. */
const SUITE_TIMEOUT_S: Record<CaseSetName, number> = { full: 3_600, quick: 1_200, limits: 600 };
const SUITE_MARGIN_MS = 60_000;

/** What to undo when this script is stopped (SIGINT, SIGTERM) while children run. */
const onStop = new Set<() => void>();

// ── child processes ───────────────────────────────────────────────────────────────────

interface EchoServer {
  readonly url: string;
  readonly child: ChildProcess;
  readonly output: string[];
  readonly exited: Promise<number | NodeJS.Signals | null>;
}

function startEcho(run: RunName): Promise<EchoServer> {
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", "scripts/autobahn-echo.ts", "--run", run], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const exited = new Promise<number | NodeJS.Signals | null>((done) => child.once("exit", (code, signal) => done(code ?? signal)));
  return new Promise((done, fail) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL"); // ours, by its PID: a server that never listened is of no use
      fail(new Error(`echo server did not listen within ${SERVER_START_MS} ms:\n${output.join("\n")}`));
    }, SERVER_START_MS);
    void exited.then((how) => {
      clearTimeout(timer);
      fail(new Error(`echo server exited (${String(how)}) before listening:\n${output.join("\n")}`));
    });
    child.once("error", (err) => fail(err));
    createInterface({ input: child.stderr! }).on("line", (line) => output.push(line));
    createInterface({ input: child.stdout! }).on("line", (line) => {
      output.push(line);
      const event = parseEvent(line);
      if (event?.ev === "listening" && typeof event.url === "string") {
        clearTimeout(timer);
        const kill = (): void => void child.kill("SIGKILL");
        onStop.add(kill);
        void exited.then(() => onStop.delete(kill));
        done({ url: event.url, child, output, exited });
      }
    });
  });
}

function parseEvent(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined; // not an event line (e.g. a log line): kept in the output, not parsed
  }
}

/** SIGTERM, then SIGKILL if it has not exited by the deadline; both by this child's PID. */
async function stopEcho(server: EchoServer): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill("SIGTERM");
  const timer = setTimeout(() => server.child.kill("SIGKILL"), SERVER_STOP_MS);
  await server.exited;
  clearTimeout(timer);
}

/**
 * run.sh, its output passed through. It bounds the suite itself (AB_TIMEOUT); should it still
 * not exit by our margin after that, or should we be stopped, its process tree is killed by
 * PID (run.sh starts `timeout`, which moves to its own process group, and python under that).
 */
function runSuite(suite: string, url: string, label: string, cases: readonly string[], reports: string, timeoutS: number): Promise<number | null> {
  const child = spawn("bash", [join(suite, "run.sh"), url, label], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, AB_CASES: cases.join(","), AB_REPORTS: reports, AB_TIMEOUT: String(timeoutS) },
  });
  for (const stream of [child.stdout!, child.stderr!]) createInterface({ input: stream }).on("line", (line) => console.log(`  │ ${line}`));
  const kill = (): void => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) killTree(child.pid);
  };
  onStop.add(kill);
  return new Promise((done, fail) => {
    const timer = setTimeout(() => {
      console.log(`  autobahn: no result after ${timeoutS} s + ${SUITE_MARGIN_MS / 1000} s; killing the suite (PID ${child.pid} and its children)`);
      kill();
    }, timeoutS * 1000 + SUITE_MARGIN_MS);
    const settle = (): void => {
      clearTimeout(timer);
      onStop.delete(kill);
    };
    child.once("error", (err) => {
      settle();
      fail(err);
    });
    child.once("exit", (code) => {
      settle();
      done(code);
    });
  });
}

/** SIGKILL a process and every descendant, each by its PID, deepest first (Linux /proc). */
function killTree(pid: number): void {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // that process exited while we listed /proc: not ours to stop anyway
    }
    // "pid (comm) state ppid …": comm may contain spaces and parentheses, so split after the last ")".
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const order: number[] = [];
  const walk = (p: number): void => {
    for (const c of children.get(p) ?? []) {
      walk(c);
      order.push(c);
    }
  };
  walk(pid);
  for (const p of [...order, pid]) {
    try {
      process.kill(p, "SIGKILL");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err; // ESRCH: it already exited
    }
  }
}

// ── one run ───────────────────────────────────────────────────────────────────────────

/** Judge a run's report folder (REPORTS/<run>, as run.sh writes it). */
function judge(run: RunName, dir: string): Verdict & { cases: number } {
  const report = readReport(dir, run);
  const verdict = run === "conformance" ? judgeConformance(report) : judgeDefaults(report, LIMITS.maxPayload.default);
  return { ...verdict, cases: report.cases.size };
}

function printVerdict(run: RunName, problems: string[], summary: string, where: string): boolean {
  const ok = problems.length === 0;
  console.log(`autobahn ${run}: ${ok ? "PASS" : "FAIL"}  ${summary}; reports in ${where}`);
  for (const problem of problems) console.log(`  ✗ ${problem}`);
  if (!ok) console.log(`  explain each case: python3 ../shared/autobahn/summarize.py ${where} ${run} --details`);
  return ok;
}

async function runOnce(run: RunName, caseSet: CaseSetName, suite: string, reports: string): Promise<boolean> {
  const started = Date.now();
  const cases = CASE_SETS[caseSet];
  console.log(`== autobahn ${run}: cases ${cases.join(",")} (${caseSet}), limits ${JSON.stringify(RUNS[run].limits)}`);
  const server = await startEcho(run);
  const problems: string[] = [];
  const dir = join(reports, run);
  let summary = "no report";
  try {
    const code = await runSuite(suite, server.url, run, cases, reports, SUITE_TIMEOUT_S[caseSet]);
    if (code === 2 || code === null) problems.push(`the suite did not complete (run.sh exit ${code})`);
    // The server must have survived everything the suite sent.
    if (server.child.exitCode !== null || server.child.signalCode !== null) problems.push(`the echo server died during the run:\n${server.output.join("\n")}`);
    if (existsSync(join(dir, "index.json"))) {
      const verdict = judge(run, dir);
      problems.push(...verdict.problems);
      summary = `${verdict.summary} [${verdict.cases} cases`;
    } else {
      summary = "no report [0 cases";
    }
  } finally {
    await stopEcho(server);
  }
  return printVerdict(run, problems, `${summary}, ${Math.round((Date.now() - started) / 1000)} s]`, dir);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      run: { type: "string", default: "all" },
      cases: { type: "string" }, // the conformance run's set; default: the one CI runs (RUNS)
      suite: { type: "string", default: resolve(ROOT, "../shared/autobahn") },
      reports: { type: "string" },
      // Judge the reports already in --reports again, without running anything.
      "judge-only": { type: "boolean", default: false },
    },
  });
  const runs = values.run === "all" ? (["defaults", "conformance"] as const) : [values.run];
  if (!runs.every((r): r is RunName => Object.hasOwn(RUNS, r))) throw new Error(`--run must be all, ${Object.keys(RUNS).join(" or ")}; got ${values.run}`);
  const caseSet = values.cases ?? RUNS.conformance.cases;
  if (caseSet !== "full" && caseSet !== "quick") throw new Error(`--cases must be full or quick; got ${caseSet}`);
  if (values["judge-only"]) {
    if (values.reports === undefined) throw new Error("--judge-only needs --reports DIR");
    let ok = true;
    for (const run of runs) {
      const dir = join(resolve(values.reports), run);
      const verdict = judge(run, dir);
      ok = printVerdict(run, verdict.problems, `${verdict.summary} [${verdict.cases} cases]`, dir) && ok;
    }
    process.exitCode = ok ? 0 : 1;
    return;
  }
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      console.log(`autobahn: ${signal}; stopping the suite and the echo server`);
      for (const stop of onStop) stop();
      process.exit(signal === "SIGINT" ? 130 : 143);
    });
  }
  if (!existsSync(join(values.suite, "run.sh"))) throw new Error(`no Autobahn suite at ${values.suite} (expected run.sh; see shared/autobahn/README.md)`);
  const reports = values.reports !== undefined ? resolve(values.reports) : mkdtempSync(join(tmpdir(), "switchboard-autobahn-"));
  let ok = true;
  // The short defaults run first: it fails in seconds where the conformance run takes minutes.
  for (const run of runs) ok = (await runOnce(run, run === "defaults" ? RUNS.defaults.cases : caseSet, values.suite, reports)) && ok;
  process.exitCode = ok ? 0 : 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
