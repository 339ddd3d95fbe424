/**
 * /readyz (observe/readiness.ts): ready only while running with every service up; not ready
 * while starting, while draining during a stop, or with a service down. /healthz stays.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type ServiceContext } from "../../src/index.ts";
import { ProtoClient } from "../helpers/app-client.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { deferred, eventually, within } from "../helpers/until.ts";
import { REDIS_MISSING, redisServerPath, startRedis } from "../helpers/redis.ts";

test("/readyz: starting → ready → draining during a stop (503 with the reason) → stopped", async (t) => {
  const gate = deferred();
  const taskStarted = deferred();
  const taskRelease = deferred();
  // The metrics port is an operations port that stays up while the main listener drains.
  const server = createServer({ port: 0, logger: { level: "silent" }, metrics: { enabled: true, port: 0 } });
  server.service("warmup", { start: () => gate.promise });
  const app = server.app("/app");
  app.task("slow", async () => {
    taskStarted.resolve();
    await taskRelease.promise;
    return "done";
  });
  const started = server.start();
  t.after(() => server.stop());

  // Starting: nothing listens yet (the listeners start last); the answer /readyz would give:
  await eventually("the warmup service is starting", () => server.services.states().some((s) => s.name === "warmup" && s.state === "starting"));
  const starting = server.readiness();
  assert.equal(starting.ready, false);
  assert.equal(starting.state, "starting");
  assert.ok(starting.reasons.includes("server is starting"), starting.reasons.join("; "));
  assert.ok(starting.reasons.includes("service warmup is starting"), starting.reasons.join("; "));

  gate.resolve();
  await within(started, 5_000, "start()");
  const ready = await rawRequest(server.port, "/readyz");
  assert.equal(ready.status, 200);
  assert.equal(ready.headers["content-type"], "application/json");
  assert.deepEqual(JSON.parse(ready.body), { ready: true, state: "running", reasons: [] });
  assert.equal((await rawRequest(server.port, "/healthz")).status, 200, "/healthz stays");

  // Draining: a task is running, so the stop waits for it.
  const client = await ProtoClient.open(server.url("/app"));
  const reply = client.call("slow", {});
  await within(taskStarted.promise, 5_000, "the slow task to start");
  const stopped = server.stop({ timeoutMs: 10_000 });
  const draining = await rawRequest(server.metricsPort!, "/readyz");
  assert.equal(draining.status, 503);
  const body = JSON.parse(draining.body) as { ready: boolean; state: string; reasons: string[] };
  assert.equal(body.ready, false);
  assert.equal(body.state, "stopping");
  assert.ok(body.reasons.includes("server is draining (stopping)"), body.reasons.join("; "));
  assert.equal(server.readiness().ready, false);

  taskRelease.resolve();
  assert.equal((await reply).data, "done", "the running task finished during the drain");
  await within(stopped, 15_000, "stop()");
  assert.deepEqual(server.readiness().reasons.slice(0, 1), ["server is stopped"]);
});

test("/readyz: 503 naming a service that is down, while /healthz still answers 200", async (t) => {
  let ctx!: ServiceContext;
  const server = createServer({ port: 0, logger: { level: "silent" } });
  server.service("flaky", { restartLimit: 0, start: (_signal, c) => void (ctx = c) });
  await server.start();
  t.after(() => server.stop());
  assert.equal((await rawRequest(server.port, "/readyz")).status, 200);

  ctx.fail(new Error("lost its backend"));
  await eventually("flaky has failed", () => server.services.states().some((s) => s.name === "flaky" && s.state === "failed"));
  const down = await rawRequest(server.port, "/readyz");
  assert.equal(down.status, 503);
  assert.deepEqual(JSON.parse(down.body).reasons, ["service flaky is failed"]);
  assert.equal((await rawRequest(server.port, "/healthz")).status, 200);
  assert.equal((await rawRequest(server.port, "/readyz", "POST")).status, 404, "only GET/HEAD are /readyz");
});

test("/readyz and /metrics through a Redis outage: 503 'cluster outage' while Redis is away, ready again after it returns", { skip: redisServerPath() === undefined ? REDIS_MISSING : false }, async (t) => {
  const redis = await startRedis(redisServerPath()!);
  t.after(() => redis.stop());
  const server = createServer({
    port: 0, logger: { level: "silent" }, metrics: { enabled: true },
    cluster: { redis: redis.url, prefix: `readyz-${process.pid}:`, redisReconnectMaxMs: 200, presenceHeartbeatMs: 200, presenceTtlMs: 1_000 },
  });
  await server.start();
  t.after(() => server.stop());
  const metric = async (line: RegExp): Promise<string | undefined> => (await rawRequest(server.port, "/metrics")).body.split("\n").find((l) => line.test(l));

  assert.equal((await rawRequest(server.port, "/readyz")).status, 200);
  assert.equal(await metric(/^switchboard_cluster_up /), "switchboard_cluster_up 1");

  await redis.kill();
  await eventually("the bus reports down", () => server.cluster.stats().status === "down");
  const outage = await rawRequest(server.port, "/readyz");
  assert.equal(outage.status, 503);
  assert.deepEqual(JSON.parse(outage.body).reasons, ["cluster outage: the redis bus is down"]);
  assert.equal(await metric(/^switchboard_cluster_up /), "switchboard_cluster_up 0");
  assert.equal(await metric(/^switchboard_cluster_outages_total /), "switchboard_cluster_outages_total 1");

  await redis.restart();
  await eventually("the bus reports up again", () => server.cluster.stats().status === "up", 15_000);
  assert.equal((await rawRequest(server.port, "/readyz")).status, 200);
});
