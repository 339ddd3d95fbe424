/** readiness() (observe/readiness.ts): every reason a node is not ready, and only those. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readiness } from "../../src/observe/readiness.ts";
import type { ServiceStatus } from "../../src/runtime/supervisor.ts";

const svc = (name: string, state: ServiceStatus["state"]): ServiceStatus => ({ name, state, critical: false, dependsOn: [], restarts: 0, since: 0 });
const up = { kind: "redis" as const, status: "up" as const };

test("ready: running, cluster up, every service running", () => {
  assert.deepEqual(readiness({ state: "running", cluster: up, services: [svc("http", "running"), svc("cluster", "running")] }), { ready: true, state: "running", reasons: [] });
});

test("not ready: starting, draining, stopped, a cluster outage, a service down — each named", () => {
  assert.deepEqual(readiness({ state: "starting", cluster: up, services: [svc("http", "stopped")] }).reasons, ["server is starting", "service http is stopped"]);
  assert.deepEqual(readiness({ state: "stopping", cluster: up, services: [] }).reasons, ["server is draining (stopping)"]);
  assert.deepEqual(readiness({ state: "stopped", cluster: up, services: [] }).reasons, ["server is stopped"]);
  const outage = readiness({ state: "running", cluster: { kind: "redis", status: "down" }, services: [svc("cluster", "running")] });
  assert.equal(outage.ready, false);
  assert.deepEqual(outage.reasons, ["cluster outage: the redis bus is down"]);
  const restarting = readiness({ state: "running", cluster: up, services: [svc("http", "running"), svc("feed", "restarting"), svc("cache", "failed")] });
  assert.deepEqual(restarting.reasons, ["service feed is restarting", "service cache is failed"]);
});
