/**
 * A private redis-server per test file: a free port on 127.0.0.1, no persistence, stopped by its
 * own PID only. Where redis-server is missing, tests skip with REDIS_MISSING (one clear line).
 *
 *   const shared = redisForFile();          // one server for the whole file
 *   test("x", { skip: shared.skip }, async () => { … shared.redis.url … });
 *
 * or, for a server of a test's own: `await startRedis(redisServerPath()!)` and `stop()` it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { after, before } from "node:test";
import { once } from "node:events";
import { createServer } from "node:net";
import { findBinary, missing } from "./binaries.ts";

export const REDIS_MISSING = missing("redis-server", "redis-server");
const READY_TIMEOUT_MS = 10_000;

/** REDIS_SERVER=/path/to/redis-server picks one (REDIS_SERVER=none: behave as if missing). */
export function redisServerPath(): string | undefined {
  const chosen = process.env.REDIS_SERVER;
  if (chosen !== undefined && chosen !== "") return chosen === "none" ? undefined : findBinary("redis-server", [chosen]);
  return findBinary("redis-server", ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]);
}

export interface RedisHandle {
  readonly url: string;
  readonly port: number;
  readonly pid: number | undefined;
  /** SIGTERM, and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL (a crash), and wait for the exit. */
  kill(): Promise<void>;
  /** Start again on the same port (after stop or kill); an empty Redis, as after a crash without persistence. */
  restart(): Promise<void>;
}

/**
 * One private redis-server for a whole test file: started before its tests, stopped after.
 * `skip` is the one-line reason to skip when redis-server is missing, else false.
 * Node runs a file's top-level before/after hooks concurrently, so set-up that needs the
 * server (`started`) and clean-up that must precede its stop (`stopping`) are passed in here.
 */
export function redisForFile(hooks: { started?(redis: RedisHandle): void | Promise<void>; stopping?(): void | Promise<void> } = {}): {
  readonly skip: string | false;
  readonly redis: RedisHandle;
} {
  const binary = redisServerPath();
  let handle: RedisHandle | undefined;
  before(async () => {
    if (!binary) return;
    handle = await startRedis(binary);
    await hooks.started?.(handle);
  });
  after(async () => {
    if (handle === undefined) return;
    await hooks.stopping?.();
    await handle.stop();
  });
  return {
    skip: binary ? false : REDIS_MISSING,
    get redis(): RedisHandle {
      if (handle === undefined) throw new Error("redis-server is not running: use { skip } on tests that need it");
      return handle;
    },
  };
}

export async function startRedis(binary: string): Promise<RedisHandle> {
  const port = await freePort();
  let child = await spawnRedis(binary, port);
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill(signal);
    await exited;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    get pid() {
      return child.pid;
    },
    stop: () => end("SIGTERM"),
    kill: () => end("SIGKILL"),
    async restart() {
      await end("SIGKILL");
      child = await spawnRedis(binary, port);
    },
  };
}

async function spawnRedis(binary: string, port: number): Promise<ChildProcess> {
  const child = spawn(binary, [
    "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
    "--protected-mode", "no", "--loglevel", "notice",
  ], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`redis-server not ready within ${READY_TIMEOUT_MS} ms:\n${output}`)), READY_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes("Ready to accept connections")) finish();
    };
    const onExit = (code: number | null): void => fail(new Error(`redis-server exited (${code}) before ready:\n${output}`));
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout!.off("data", onData);
      child.off("exit", onExit);
      // Keep draining output so a full pipe never blocks redis-server.
      child.stdout!.resume();
      child.stderr!.resume();
    };
    const finish = (): void => {
      cleanup();
      resolve();
    };
    const fail = (err: Error): void => {
      cleanup();
      if (child.exitCode === null) child.kill("SIGKILL");
      reject(err);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("exit", onExit);
  });
  return child;
}

/** A port the OS just gave us; redis-server binds it right after (a tiny race we accept). */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  server.close();
  await once(server, "close");
  return port;
}
