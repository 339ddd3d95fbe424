/**
 * The layers have no back-edges (docs/architecture.md, "Layers as built"): every relative
 * import in src/ is read and checked against the layer order, so a new import that reaches up
 * fails here instead of in review. `src/index.ts` is the package's entry and may name anything.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const SRC = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src");

/** The standalone runtime: above server.ts; only itself (and the entry) may import it. */
const STANDALONE = [
  "cli/", "config/", "loader/", "control/server.ts",
  "runtime/standalone.ts", "runtime/lockfile.ts", "runtime/shutdown.ts", "runtime/logging.ts",
  "runtime/workers-primary.ts", "runtime/workers-status.ts", "runtime/workers-commands.ts", "runtime/run-workers.ts", "runtime/worker-control.ts",
];
const BELOW_SERVER_FORBIDDEN = ["server.ts", "ops/", "observe/", ...STANDALONE];

/** For files under a prefix: import targets they must not reach. */
const RULES: Array<{ from: string; forbidden: string[]; why: string }> = [
  { from: "protocol/", forbidden: ["*"], why: "the wire protocol is pure: shared by server and client" },
  { from: "transport/", forbidden: ["endpoint/", "app/", "engine/", "cluster/", "options.ts", "control/", "runtime/", ...BELOW_SERVER_FORBIDDEN], why: "the transport seam owns its own types" },
  { from: "endpoint/", forbidden: ["app/", "engine/", "control/", ...BELOW_SERVER_FORBIDDEN], why: "the endpoint layer knows the transport seam only" },
  { from: "engine/", forbidden: ["app/", "endpoint/", "control/", ...BELOW_SERVER_FORBIDDEN], why: "engines sit below what uses them" },
  { from: "cluster/", forbidden: ["app/", "endpoint/", "engine/", "control/", ...BELOW_SERVER_FORBIDDEN], why: "the bus sits below what uses it" },
  { from: "app/", forbidden: BELOW_SERVER_FORBIDDEN, why: "the app layer sits below the server" },
  { from: "options.ts", forbidden: BELOW_SERVER_FORBIDDEN, why: "options sit below what uses them" },
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** Relative import/export targets of one file, as paths relative to src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const targets: string[] = [];
  for (const match of text.matchAll(/^(?:import|export)[^;]*?from\s+"(\.[^"]+)"/gm)) {
    targets.push(relative(SRC, normalize(join(dirname(file), match[1]!))).split("\\").join("/"));
  }
  return targets;
}

/** Edges that look like back-edges by folder and are not, each with its reason. */
const ALLOWED: Record<string, string> = {
  "cluster/service.ts -> engine/engine.ts": "ClusterService is what the server holds: the bus and the room engine together",
  "cluster/service.ts -> engine/create.ts": "ClusterService creates the configured engine",
  "options.ts -> observe/metrics-options.ts": "the metrics options' own file (types and checks, no metrics code)",
};

const matches = (path: string, prefix: string): boolean => prefix === "*" || (prefix.endsWith("/") ? path.startsWith(prefix) : path === prefix);

test("no import in src/ reaches up a layer (docs/architecture.md)", () => {
  const violations: string[] = [];
  let checked = 0;
  for (const file of sourceFiles(SRC)) {
    const from = relative(SRC, file).split("\\").join("/");
    if (from === "index.ts") continue;
    const standalone = STANDALONE.some((p) => matches(from, p));
    for (const target of importsOf(file)) {
      checked += 1;
      if (from.startsWith("protocol/") && target.startsWith("protocol/")) continue;
      if (ALLOWED[`${from} -> ${target}`] !== undefined) continue;
      for (const rule of RULES) {
        if (matches(from, rule.from) && rule.forbidden.some((p) => matches(target, p))) violations.push(`${from} -> ${target} (${rule.why})`);
      }
      if (!standalone && STANDALONE.some((p) => matches(target, p))) violations.push(`${from} -> ${target} (the standalone runtime sits above server.ts)`);
    }
  }
  assert.ok(checked > 200, `the import scan found the imports (${checked})`);
  assert.deepEqual(violations, []);
});

test("the layer check sees a back-edge when there is one", () => {
  // The check itself: a transport file importing the endpoint layer is refused by the rules above.
  const rule = RULES.find((r) => r.from === "transport/")!;
  assert.ok(rule.forbidden.some((p) => matches("endpoint/handshake.ts", p)));
  assert.ok(!RULES.find((r) => r.from === "app/")!.forbidden.some((p) => matches("endpoint/connection.ts", p)), "app may use the endpoint layer");
  assert.ok(STANDALONE.some((p) => matches("cli/serve.ts", p)));
});
