/**
 * `import "switchboard"` does not load ioredis; a server with a Redis cluster does (issue 14,
 * defect 16, the ioredis part). A child process records every module resolution through a
 * module.register() hook (test/abuse/fixtures/ioredis-probe.ts) and reports after each step.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { startTsProcess } from "../helpers/process.ts";
import { redisForFile } from "../helpers/redis.ts";
import { within } from "../helpers/until.ts";

const PROBE = fileURLToPath(new URL("./fixtures/ioredis-probe.ts", import.meta.url));
const WAIT_MS = 30_000; // node + tsx start-up on a busy 2-core machine

const shared = redisForFile();

async function probe(env: Record<string, string>): Promise<Array<Record<string, unknown>>> {
  const child = startTsProcess(PROBE, [], env);
  try {
    const { code, signal } = await within(child.exited, WAIT_MS, "the probe to exit");
    assert.equal(code, 0, `probe exited with ${code ?? signal}:\n${child.output.join("\n")}`);
    return child.output.filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as Record<string, unknown>);
  } finally {
    await child.stop("SIGKILL");
  }
}

test("importing the package entry does not load ioredis", async () => {
  const steps = await probe({});
  assert.deepEqual(steps, [{ step: "imported", ioredis: false }]);
});

test("a server with a Redis cluster loads ioredis, and its bus comes up", { skip: shared.skip }, async () => {
  const steps = await probe({ REDIS_URL: shared.redis.url });
  assert.deepEqual(steps, [{ step: "imported", ioredis: false }, { step: "redis-started", ioredis: true, status: "up" }]);
});
