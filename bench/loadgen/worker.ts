// One load-generator process, driven by the runner over IPC. Holds raw connections, writes
// pre-built frames in batches (one write per batch per socket), counts stamped messages and
// records their latency. Every loop is bounded: by the runner's stop command and by `deadline`.
import { spawn, type ChildProcessByStdio } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { createInterface } from "node:readline";
import { buildBatch, nowMicros, readStamp, stamp, type FramePart } from "../lib/frames.ts";
import { fromSparse, merge, newHist, record, toSparse } from "../lib/hist.ts";
import { connect, CLOSE_FRAME, type RawConn, type Step } from "../lib/wsclient.ts";

type Batch = ReturnType<typeof buildBatch>;
interface Conn extends RawConn { batch?: Batch; inflight: number; /** we closed it */ ours?: boolean }

export type Cmd =
  | { t: "connect"; host: string; port: number; path: string; steps: Step[]; count: number; srcAddrs: string[]; native?: string }
  | { t: "echo"; parts: FramePart[]; window: number }
  | { t: "publish"; parts: FramePart[]; window?: number; rate?: number }
  | { t: "handshakes"; host: string; port: number; path: string; steps: Step[]; concurrency: number; srcAddrs: string[]; native?: string }
  | { t: "mark" } | { t: "report" } | { t: "count" } | { t: "pause" } | { t: "stop" } | { t: "exit" };

const conns: Conn[] = [];
let count = 0;
let errors = 0;
let hist = newHist();
let cpuMark = process.cpuUsage();
let wallMark = Date.now();
let running = false;
let timers: NodeJS.Timeout[] = [];
const HARD_DEADLINE_MS = 10 * 60_000; // no load loop outlives this, whatever the runner does
let deadline = 0;

function onStamped(buf: Buffer, start: number, end: number): boolean {
  const ts = readStamp(buf, start, end);
  if (ts < 0) return false;
  count++;
  record(hist, nowMicros() - ts);
  return true;
}

function listen(c: Conn, onDone?: (c: Conn, n: number) => void): void {
  // Count the stamped messages of one read, then react once per read (batching).
  let n = 0;
  c.onMessage = (buf, start, end) => { if (onStamped(buf, start, end)) n++; };
  c.onRead = () => { if (n > 0) { const k = n; n = 0; onDone?.(c, k); } };
}

function send(c: Conn, k: number): void {
  if (!running || Date.now() > deadline || !c.batch) return;
  const units = Math.min(k, c.batch.buf.length / c.batch.unitLen);
  stamp(c.batch, units, nowMicros());
  c.sock.write(c.batch.buf.subarray(0, units * c.batch.unitLen));
}

async function doConnect(cmd: Extract<Cmd, { t: "connect" }>): Promise<object> {
  if (cmd.native && conns.length > 0) return connectNative(cmd, cmd.native, cmd.count);
  if (cmd.native && cmd.count > 1) {
    // The first connection stays here (it may be the publisher: conns[0]); the rest are C readers.
    await doConnect({ ...cmd, native: undefined, count: 1 });
    return connectNative(cmd, cmd.native, cmd.count - 1);
  }
  const start = conns.length;
  const par = 50;
  let next = 0;
  const failures: string[] = [];
  const one = async (): Promise<void> => {
    while (next < cmd.count) {
      const i = next++;
      const localAddress = cmd.srcAddrs[(start + i) % cmd.srcAddrs.length];
      try {
        const c = (await connect({ ...cmd, ...(localAddress ? { localAddress } : {}) })) as Conn;
        c.inflight = 0;
        c.sock.on("error", () => { errors++; });
        c.sock.on("close", () => { if (!c.ours) errors++; }); // the server closed it (e.g. slow consumer)
        conns.push(c);
        listen(c);
      } catch (err) { errors++; if (failures.length < 3) failures.push(String((err as Error).message)); }
    }
  };
  await Promise.all(Array.from({ length: par }, one));
  return { connected: conns.length, failures };
}

function doEcho(cmd: Extract<Cmd, { t: "echo" }>): object {
  running = true;
  deadline = Date.now() + HARD_DEADLINE_MS;
  for (const c of conns) {
    c.batch = buildBatch(cmd.parts, cmd.window);
    listen(c, (cc, n) => send(cc, n)); // closed loop: every reply releases one new message
    send(c, cmd.window);
  }
  return { conns: conns.length };
}

function doPublish(cmd: Extract<Cmd, { t: "publish" }>): object {
  running = true;
  deadline = Date.now() + HARD_DEADLINE_MS;
  const pub = conns[0];
  for (const c of conns) listen(c);
  if (!pub) return { conns: 0 };
  if (cmd.window) {
    pub.batch = buildBatch(cmd.parts, cmd.window);
    listen(pub, (cc, n) => send(cc, n));
    send(pub, cmd.window);
  } else if (cmd.rate) {
    // Fixed rate: a 10 ms tick sends what is due (carrying the fraction), at most one batch.
    pub.batch = buildBatch(cmd.parts, 64);
    const perTick = cmd.rate / 100;
    let due = 0;
    timers.push(setInterval(() => { due += perTick; const k = Math.min(64, Math.floor(due)); if (k > 0) { due -= k; send(pub, k); } }, 10));
  }
  return { conns: conns.length };
}

/** A C load generator (bench/loadgen/*.c) driven over its stdin/stdout, one JSON line per answer. */
interface NativeProc { proc: ChildProcessByStdio<Writable, Readable, null>; replies: Array<{ resolve(line: string): void; reject(err: Error): void }> }
interface NativeReport { count: number; errors: number; cpuMicros: number; hist: number[] }

function spawnNative(binary: string, args: string[]): Promise<NativeProc> {
  const proc = spawn(binary, args, { stdio: ["pipe", "pipe", "inherit"] });
  const n: NativeProc = { proc, replies: [] };
  // It may exit first (its 10-minute bound, a crash): a command written after is an EPIPE, said once here.
  proc.stdin.on("error", (err) => process.stderr.write(`${binary}: stdin: ${err.message}\n`));
  return new Promise((resolve, reject) => {
    proc.once("error", reject);
    proc.once("exit", (code) => {
      const err = new Error(`${binary} exited (${code})`);
      reject(err); // before READY; after it, this settles nothing
      for (const r of n.replies.splice(0)) r.reject(err);
    });
    createInterface({ input: proc.stdout }).on("line", (line) => {
      if (line === "READY") resolve(n);
      else n.replies.shift()?.resolve(line);
    });
  });
}

/** Sends one command line; resolves with its JSON answer (the C programs answer in order). */
function ask<T>(n: NativeProc, line: string): Promise<T> {
  return new Promise((resolve, reject) => {
    if (n.proc.exitCode !== null) { reject(new Error(`load generator exited (${n.proc.exitCode})`)); return; }
    n.replies.push({ resolve: (answer) => resolve(JSON.parse(answer) as T), reject });
    n.proc.stdin.write(`${line}\n`);
  });
}

function stepArgs(steps: Step[]): string[] {
  const args: string[] = [];
  for (const s of steps) {
    if (s.send !== undefined) args.push(`S:${s.send}`);
    if (s.expect !== undefined) args.push(`E:${s.expect}`);
  }
  return args;
}

function endNative(n: NativeProc | null): void {
  if (!n) return;
  n.proc.stdin.end("stop\n"); // it exits on "stop"; killed by PID if it has not by then
  const proc = n.proc;
  setTimeout(() => { if (proc.exitCode === null) proc.kill("SIGKILL"); }, 2000).unref();
}

/**
 * The C handshaker, when the runner built one: it runs the handshake loop, this process only
 * relays mark and report to it and adds its CPU to the report.
 */
let native: NativeProc | null = null;

async function startNative(cmd: Extract<Cmd, { t: "handshakes" }>, binary: string): Promise<object> {
  native = await spawnNative(binary, [cmd.host, String(cmd.port), cmd.path, String(cmd.concurrency), cmd.srcAddrs.join(","), ...stepArgs(cmd.steps)]);
  return { native: true };
}

function stopNative(): void {
  endNative(native);
  native = null;
}

/**
 * The C fan-out subscribers, when the runner built them: all connections of this process but
 * its first (the one that may publish). They only read and count; mark and report are relayed,
 * and their counts, latencies and CPU are added to this process's own.
 */
let subscriber: NativeProc | null = null;
let subscriberConns = 0;

async function connectNative(cmd: Extract<Cmd, { t: "connect" }>, binary: string, count: number): Promise<object> {
  if (!subscriber) {
    // Source addresses rotate from where this process's own connections left off.
    const src = cmd.srcAddrs.map((_, i) => cmd.srcAddrs[(conns.length + i) % cmd.srcAddrs.length]!);
    subscriber = await spawnNative(binary, [cmd.host, String(cmd.port), cmd.path, src.join(","), ...stepArgs(cmd.steps)]);
  }
  const res = await ask<{ connected: number; failures: number; failure: string }>(subscriber, `connect ${count}`);
  subscriberConns = res.connected;
  errors += res.failures;
  return { connected: conns.length + subscriberConns, failures: res.failures > 0 ? [`${res.failures} failed: ${res.failure}`] : [] };
}

async function withSubscriber(own: NativeReport & { wallMs: number }): Promise<object> {
  if (!subscriber) return own;
  const n = await ask<NativeReport>(subscriber, "report");
  const h = fromSparse(own.hist);
  merge(h, fromSparse(n.hist));
  return { ...own, count: own.count + n.count, errors: own.errors + n.errors, hist: toSparse(h), cpuMicros: own.cpuMicros + n.cpuMicros };
}

function doHandshakes(cmd: Extract<Cmd, { t: "handshakes" }>): object | Promise<object> {
  if (cmd.native) return startNative(cmd, cmd.native);
  running = true;
  deadline = Date.now() + HARD_DEADLINE_MS;
  let i = 0;
  const loop = async (): Promise<void> => {
    while (running && Date.now() < deadline) {
      const localAddress = cmd.srcAddrs[i++ % cmd.srcAddrs.length];
      const t0 = nowMicros();
      try {
        const c = await connect({ ...cmd, ...(localAddress ? { localAddress } : {}) });
        count++;
        record(hist, nowMicros() - t0);
        // Close handshake: our close frame, the server answers and closes TCP first.
        await new Promise<void>((resolve) => {
          c.sock.once("close", () => resolve());
          c.sock.on("error", () => {});
          c.sock.write(CLOSE_FRAME);
          setTimeout(() => { c.sock.destroy(); }, 2000).unref();
        });
      } catch { errors++; }
    }
  };
  for (let k = 0; k < cmd.concurrency; k++) void loop();
  return {};
}

/** Stops sending (timers, closed loops) but keeps the connections open. */
function pause(): void {
  running = false;
  stopNative();
  for (const t of timers) clearInterval(t);
  timers = [];
}

async function handle(cmd: Cmd): Promise<object> {
  switch (cmd.t) {
    case "connect": return doConnect(cmd);
    case "echo": return doEcho(cmd);
    case "publish": return doPublish(cmd);
    case "handshakes": return doHandshakes(cmd);
    case "mark":
      count = 0; errors = 0; hist = newHist(); cpuMark = process.cpuUsage(); wallMark = Date.now();
      native?.proc.stdin.write("mark\n");
      subscriber?.proc.stdin.write("mark\n");
      return {};
    case "report": {
      const cpu = process.cpuUsage(cpuMark);
      const own = { count, errors, hist: toSparse(hist), cpuMicros: cpu.user + cpu.system, wallMs: Date.now() - wallMark };
      if (!native) return withSubscriber(own);
      const n = await ask<NativeReport>(native, "report");
      return { ...own, count: n.count, errors: n.errors, hist: n.hist, cpuMicros: own.cpuMicros + n.cpuMicros };
    }
    case "count": return { conns: conns.length + subscriberConns };
    case "pause": pause(); return {};
    case "stop": {
      pause();
      const n = conns.length;
      for (const c of conns.splice(0)) { c.ours = true; c.sock.destroy(); }
      endNative(subscriber); // its exit closes its sockets
      const closed = n + subscriberConns;
      subscriber = null;
      subscriberConns = 0;
      return { closed };
    }
    case "exit": setImmediate(() => process.exit(0)); return {};
  }
}

process.on("message", (msg: { id: number; cmd: Cmd }) => {
  handle(msg.cmd).then(
    (res) => process.send?.({ id: msg.id, ok: true, res }),
    (err: Error) => process.send?.({ id: msg.id, ok: false, error: err.message }),
  );
});
process.on("disconnect", () => process.exit(0)); // the runner died: never linger
