/**
 * A child Node process that speaks JSON lines: commands in on stdin, events out on stdout
 * (test/fixtures/cluster-node.ts). Tests await events (waitFor) and command results (request),
 * each with a bounded timeout that fails the test. Only this child's PID is ever signalled.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export type NodeEvent = { ev: string; [key: string]: unknown };

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const DEFAULT_TIMEOUT_MS = 10_000;

export class NodeProcess {
  readonly events: NodeEvent[] = [];
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #child: ChildProcess;
  readonly #waiters = new Set<() => void>();
  #nextId = 1;

  /** `ipc`: the child also gets an IPC channel (a worker of this test process as its primary). */
  constructor(script: string, env: Record<string, string>, options: { ipc?: boolean } = {}) {
    this.#child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", script], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: options.ipc === true ? ["pipe", "pipe", "pipe", "ipc"] : ["pipe", "pipe", "pipe"],
    });
    this.exited = once(this.#child, "exit").then(([code, signal]) => ({ code, signal })) as NodeProcess["exited"];
    void this.exited.then(() => this.#wake());
    createInterface({ input: this.#child.stdout! }).on("line", (line) => {
      try {
        this.events.push(JSON.parse(line) as NodeEvent);
      } catch {
        this.events.push({ ev: "garbage", line });
      }
      this.#wake();
    });
    this.#child.stderr!.on("data", (chunk: Buffer) => (this.stderr += chunk.toString()));
    // A child that died already makes writes fail with EPIPE: the test sees it through exited.
    this.#child.stdin!.on("error", () => this.#wake());
  }

  /** False once the child has exited (a clean exit, a kill, a crash). */
  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** The child process (for its IPC channel, when started with `ipc`). */
  get child(): ChildProcess {
    return this.#child;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Events of one kind (e.g. "msg"), optionally filtered. */
  all(ev: string, pred: (e: NodeEvent) => boolean = () => true): NodeEvent[] {
    return this.events.filter((e) => e.ev === ev && pred(e));
  }

  /** Resolves with the first event from index `since` on that matches. */
  async waitFor(pred: (e: NodeEvent) => boolean, what: string, since = 0, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<NodeEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.slice(since).find(pred);
      if (found !== undefined) return found;
      const fatal = this.events.find((e) => e.ev === "fatal");
      if (fatal !== undefined) throw new Error(`node reported ${fatal.kind}: ${String(fatal.error)}`);
      if (this.#child.exitCode !== null || this.#child.signalCode !== null) {
        throw new Error(`node exited while waiting for ${what}\n${this.stderr}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, left);
        function done(): void {
          clearTimeout(timer);
          resolve();
        }
        this.#waiters.add(done);
      });
    }
  }

  /** Send a command and await its result value (a "failed" answer rejects). */
  async request(op: string, args: Record<string, unknown> = {}, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<unknown> {
    const id = this.#nextId++;
    this.#child.stdin!.write(JSON.stringify({ id, op, ...args }) + "\n");
    const answer = await this.waitFor((e) => (e.ev === "result" || e.ev === "failed") && e.id === id, `result of ${op}`, 0, timeoutMs);
    if (answer.ev === "failed") throw new Error(`${op} failed: ${String(answer.error)}`);
    return answer.value;
  }

  /** Signal this child (by its own PID) and wait for it to exit. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill(signal);
    await this.exited;
  }

  /** Ask for a clean exit; resolves with the exit code. */
  async exit(): Promise<number | null> {
    await this.request("exit");
    return (await this.exited).code;
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) {
      this.#waiters.delete(wake);
      wake();
    }
  }
}
