/** The `metrics` option (observe/metrics-options.ts): off by default, every bad value named. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, OptionError } from "../../src/index.ts";
import { resolveMetricsOptions } from "../../src/observe/metrics-options.ts";

test("metrics: off unless enabled: true; defaults path /metrics, main port, no token", () => {
  assert.equal(resolveMetricsOptions(undefined), undefined);
  assert.equal(resolveMetricsOptions({}), undefined);
  assert.equal(resolveMetricsOptions({ enabled: false, port: 9100 }), undefined);
  assert.deepEqual(resolveMetricsOptions({ enabled: true }), { path: "/metrics", port: undefined, token: undefined });
  assert.deepEqual(resolveMetricsOptions({ enabled: true, path: "/m", port: 0, token: "t".repeat(16) }), { path: "/m", port: 0, token: "t".repeat(16) });
});

test("metrics: a bad value is an OptionError naming the option, even while disabled", () => {
  const cases: Array<[unknown, string]> = [
    ["yes", "metrics"],
    [{ enabled: "yes" }, "metrics.enabled"],
    [{ enabled: true, path: "metrics" }, "metrics.path"],
    [{ enabled: true, path: "/m?x=1" }, "metrics.path"],
    [{ enabled: true, path: "/readyz" }, "metrics.path"],
    [{ enabled: true, port: 70_000 }, "metrics.port"],
    [{ enabled: true, port: 1.5 }, "metrics.port"],
    [{ enabled: true, token: "short" }, "metrics.token"],
    [{ enabled: true, token: ` ${"x".repeat(20)}` }, "metrics.token"],
    [{ enabled: false, token: 42 }, "metrics.token"],
    [{ enabled: true, bearer: "x" }, "metrics.bearer"],
  ];
  for (const [value, option] of cases) {
    assert.throws(() => createServer({ port: 0, logger: { level: "silent" }, metrics: value as never }), (err: unknown) => {
      assert.ok(err instanceof OptionError, `${JSON.stringify(value)}: ${String(err)}`);
      assert.equal(err.option, option, JSON.stringify(value));
      return true;
    });
  }
});
