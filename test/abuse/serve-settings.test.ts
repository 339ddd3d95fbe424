/**
 * `switchboard serve` applies every setting it validates (issue 14, defect 12). The test walks
 * EVERY key of the config schema (src/config/schema.ts), sets each to a value that is not its
 * default in one config file, runs serve() in this process, and reads each value back from
 * the running server: its resolved options, its endpoints, the cluster service, the runtime
 * logger and lock file, the control socket's own answers, Redis, and (for app keys) the options
 * the tasks app was created with. A key that reaches nothing fails, and so does a new key
 * that nobody taught this test to observe.
 *
 * Keys with nowhere to go in a standalone server (raw TCP/UDP listeners, worker pools, the
 * client library) must stop start-up with an error naming the key and saying where it
 * belongs; an app key when the folder has no tasks must be named in a banner warning.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createConnection } from "node:net";
import { Redis } from "ioredis";
import { CONFIG_FIELDS } from "../../src/config/schema.ts";
import { LIMITS, type LimitName } from "../../src/limits.ts";
import { OptionError } from "../../src/errors.ts";
import { Server } from "../../src/server.ts";
import type { AppOptions } from "../../src/app/app.ts";
import { signSessionToken } from "../../src/app/sessions.ts";
import { serve, type Serving } from "../../src/cli/serve.ts";
import { redisForFile } from "../helpers/redis.ts";
import { makeTree } from "../helpers/tree.ts";
import { ProtoClient } from "../helpers/app-client.ts";
import { TestClient } from "../helpers/ws-client.ts";
import { within } from "../helpers/until.ts";

const shared = redisForFile();
const WAIT_MS = 10_000;

/** Limits a standalone server has no place for, and the words its error must use. */
const NOWHERE: Partial<Record<LimitName, RegExp>> = {
  maxLineBytes: /server\.tcp/,
  maxFrameBytes: /server\.tcp/,
  idleTimeoutMs: /server\.tcp/,
  drainTimeoutMs: /server\.tcp/,
  maxPendingDatagrams: /server\.udp/,
  maxDatagramBytes: /server\.udp/,
  workerMaxQueue: /workerPool/,
  maxOfflineQueue: /client/,
  connectTimeoutMs: /client/,
};

/** Values chosen where default + 1 would not do (small ones keep the control checks cheap). */
const CHOSEN: Partial<Record<LimitName, number>> = { controlMaxConnections: 2, controlMaxLineBytes: 100 };

const limitValue = (name: LimitName): number => CHOSEN[name] ?? LIMITS[name].default + 1;

interface Ctx {
  serving: Serving;
  server: Server;
  /** What the tasks app at /app was created with (Server.prototype.app, spied). */
  appOptions: AppOptions;
}

type Check = (ctx: Ctx, value: unknown) => unknown;

const SERVER_LIMITS = ["handshakeTimeoutMs", "maxPendingHandshakes", "maxHeaderBytes", "heartbeatMs", "stopTimeoutMs", "stopGraceMs"] as const;
const ENDPOINT_LIMITS = ["maxPayload", "maxFragments", "maxBufferedBytes", "closeTimeoutMs"] as const;
const SERVICE_LIMITS = {
  serviceRestartLimit: "restartLimit", serviceRestartWindowMs: "restartWindowMs", serviceBackoffBaseMs: "backoffBaseMs",
  serviceBackoffMaxMs: "backoffMaxMs", serviceStopTimeoutMs: "stopTimeoutMs",
} as const;
const APP_LIMITS = ["taskTimeoutMs", "maxInFlightTasks", "maxBadMessages", "badMessageWindowMs", "maxRoomsPerConnection", "maxPushBufferedBytes"] as const;
const CLUSTER_LIMITS = ["busMaxPayloadBytes", "busMaxChannelLength", "presenceHeartbeatMs", "presenceTtlMs", "redisReconnectMaxMs", "clusterReadyTimeoutMs", "historyMaxCount", "historyMaxAgeMs", "idempotencyWindowMs", "idempotencyMaxKeys", "handoverMaxPushes", "engineMetaTtlMs", "memoryRoomIdleMs", "ipcRequestTimeoutMs"] as const;

/**
 * Keys this test does not set, each observed by its own test through `switchboard serve` (TLS
 * needs certificate files and turns every URL into https/wss).
 */
const ELSEWHERE: Record<string, string> = {
  "tls.key": "test/integration/tls-cli.test.ts",
  "tls.cert": "test/integration/tls-cli.test.ts",
  "tls.ca": "test/integration/tls-cli.test.ts",
  "tls.passphrase": "test/integration/tls-cli.test.ts",
  // workers > 1 forks the running process (node:cluster): serve() in this test process cannot.
  workers: "test/integration/workers-serve.test.ts",
};

const API_KEY = "serve-settings-api-key-0123456789";
const ADMIN_TOKEN = "serve-settings-admin-token-0123456789";
const METRICS_TOKEN = "serve-settings-metrics-token-0123";

function endpoint(ctx: Ctx, path: string) {
  const ep = ctx.server.endpoints.get(path);
  assert.ok(ep, `no endpoint at ${path}`);
  return ep;
}

/** One control-socket connection's first reply line. */
function controlAnswer(path: string, send?: string): Promise<string> {
  return within(new Promise<string>((resolve, reject) => {
    const socket = createConnection(path);
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      text += chunk;
      if (text.includes("\n")) {
        socket.destroy();
        resolve(text.slice(0, text.indexOf("\n")));
      }
    });
    socket.on("error", reject);
    socket.on("connect", () => send !== undefined && socket.write(send));
  }), WAIT_MS, "a control socket answer");
}

/** Open connections that stay open (accepted by the control server once they answer `status`). */
async function holdControl(path: string, count: number): Promise<Array<ReturnType<typeof createConnection>>> {
  const held: Array<ReturnType<typeof createConnection>> = [];
  for (let i = 0; i < count; i++) {
    const socket = createConnection(path);
    held.push(socket);
    await within(new Promise<void>((resolve, reject) => {
      socket.setEncoding("utf8");
      socket.once("data", () => resolve());
      socket.once("error", reject);
      socket.write(JSON.stringify({ id: i, command: "status" }) + "\n");
    }), WAIT_MS, "a control reply");
  }
  return held;
}

const CHECKS: Record<string, Check> = {
  "app.presence": ({ appOptions }, value) => assert.equal(appOptions.presence, value),
  "app.rooms": ({ appOptions }, value) => assert.equal(appOptions.rooms, value),
  "app.pushPolicy": ({ appOptions }, value) => assert.equal(appOptions.pushPolicy, value),
  // The session is tokenSession with that secret: a token signed with it is accepted.
  "app.sessionSecret": async ({ appOptions }, value) => {
    const token = await signSessionToken(value as string, { id: "ada" });
    const user = await appOptions.session!({ path: "/app", query: new URLSearchParams({ session: token }), headers: {} });
    assert.equal((user as { id: string }).id, "ada");
  },
  // sessionRequired false: no token is an anonymous user, not a refusal.
  "app.sessionRequired": async ({ appOptions }) => {
    const user = await appOptions.session!({ path: "/app", query: new URLSearchParams(), headers: {} });
    assert.match((user as { id: string }).id, /^anon-/);
  },
  port: ({ server }, value) => {
    assert.equal(server.options.port, value);
    assert.ok(server.port > 0);
  },
  host: ({ server }, value) => assert.equal(server.options.host, value),
  handlers: (ctx) => {
    endpoint(ctx, "/echo");
    endpoint(ctx, "/app");
  },
  static: async ({ server }) => {
    const res = await fetch(server.url("/hello.txt", "http"));
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "static hello");
  },
  perMessageDeflate: ({ server }, value) => assert.deepEqual(server.options.perMessageDeflate, value),
  controlSocket: ({ serving }, value) => assert.equal(serving.standalone.control?.path, value),
  lockFile: ({ serving }, value) => assert.equal(serving.standalone.lock?.path, value),
  logLevel: ({ server }, value) => assert.equal(server.log.level, value),
  logFile: (_ctx, value) => assert.match(readFileSync(value as string, "utf8"), /"server ready"/),
  "cluster.redis": ({ server }) => {
    assert.equal(server.cluster.kind, "redis");
    assert.equal(server.cluster.status, "up");
  },
  "cluster.prefix": async ({ server }, value) => {
    const redis = new Redis(shared.redis.url);
    try {
      assert.equal(await redis.exists(`${String(value)}presence:n:${server.cluster.nodeId}`), 1, "no presence key under the configured prefix");
    } finally {
      redis.disconnect();
    }
  },
  "limits.maxConnections": (ctx, value) => {
    assert.equal(endpoint(ctx, "/echo").maxConnections, value, "endpoint file");
    assert.equal(endpoint(ctx, "/app").maxConnections, value, "the tasks app");
  },
  "limits.controlMaxConnections": async ({ serving }, value) => {
    const path = serving.standalone.control!.path;
    const held = await holdControl(path, value as number);
    try {
      assert.match(await controlAnswer(path), new RegExp(`"busy".*controlMaxConnections = ${String(value)}\\)`));
    } finally {
      for (const socket of held) socket.destroy();
    }
  },
  "limits.controlMaxLineBytes": async ({ serving }, value) => {
    const answer = await controlAnswer(serving.standalone.control!.path, "x".repeat((value as number) + 50));
    assert.match(answer, new RegExp(`"line_too_long".*\\(${String(value)}\\)`));
  },
  // Nothing a client can cheaply see shows these two: read what serve() handed to the standalone
  // runtime, in the same object as the two control limits checked by behaviour above.
  "limits.controlStopGraceMs": ({ serving }, value) => assert.equal(appliedControl(serving)?.stopGraceMs, value),
  // --watch's limits: what serve() hands to the watcher (it runs only with --watch; cli-watch.test.ts observes them at work).
  "limits.watchDebounceMs": ({ serving }, value) => assert.equal(serving.applied.watch.watchDebounceMs, value),
  "limits.watchMaxReloads": ({ serving }, value) => assert.equal(serving.applied.watch.watchMaxReloads, value),
  // --workers' limits: what the primary is handed (workers-serve.test.ts runs the primary).
  "limits.workerProcessStartTimeoutMs": ({ serving }, value) => assert.equal(serving.applied.workers.workerProcessStartTimeoutMs, value),
  "limits.workerProcessStopTimeoutMs": ({ serving }, value) => assert.equal(serving.applied.workers.workerProcessStopTimeoutMs, value),
  // Operations: observed over HTTP, as a scraper, a backend and a browser would.
  "metrics.enabled": async ({ server }) => {
    const res = await fetch(`http://${server.options.host}:${server.metricsPort!}/m`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /switchboard_connections/);
  },
  "metrics.path": async ({ server }) => assert.equal((await fetch(`http://${server.options.host}:${server.metricsPort!}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status, 404),
  "metrics.port": ({ server }) => {
    assert.ok(server.metricsPort !== undefined && server.metricsPort > 0 && server.metricsPort !== server.port, "a listener of its own");
  },
  "metrics.token": async ({ server }) => assert.equal((await fetch(`http://${server.options.host}:${server.metricsPort!}/m`)).status, 401),
  "api.key": async ({ server }) => {
    const post = (key: string) => fetch(server.url("/api/stats", "http"), { method: "GET", headers: { authorization: `Bearer ${key}` } });
    assert.equal((await post(API_KEY)).status, 200);
    assert.equal((await post("wrong-key-wrong-key-wrong")).status, 401);
  },
  "admin.token": async ({ server }) => {
    assert.equal((await fetch(server.url("/admin", "http"))).status, 200);
    assert.equal((await fetch(server.url("/api/stats", "http"), { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status, 200);
  },
  trustProxy: ({ server }) => {
    const trust = server.options.trustProxy;
    assert.ok(trust !== undefined, "trustProxy compiled");
  },
  "limits.maxRequestBodyBytes": async ({ server }, value) => {
    const res = await fetch(server.url("/api/publish", "http"), {
      method: "POST", headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ pad: "x".repeat((value as number) + 10) }),
    });
    assert.equal(res.status, 413);
  },
  "limits.apiMaxPageSize": async ({ server }, value) => {
    const get = (limit: number) => fetch(server.url(`/api/connections?limit=${limit}`, "http"), { headers: { authorization: `Bearer ${API_KEY}` } });
    assert.equal((await get(value as number)).status, 200);
    assert.equal((await get((value as number) + 1)).status, 400);
  },
  "limits.controlMaxBufferedBytes": ({ serving }, value) => assert.equal(appliedControl(serving)?.maxBufferedBytes, value),
};

function appliedControl(serving: Serving): Record<string, number | undefined> | undefined {
  return (serving as { applied?: { control?: Record<string, number | undefined> } }).applied?.control;
}
for (const name of SERVER_LIMITS) CHECKS[`limits.${name}`] = ({ server }, value) => assert.equal(server.options[name], value);
for (const name of ENDPOINT_LIMITS) {
  CHECKS[`limits.${name}`] = (ctx, value) => {
    assert.equal(ctx.server.options[name], value, "server");
    assert.equal(endpoint(ctx, "/echo").limits[name], value, "endpoint file");
    assert.equal(endpoint(ctx, "/app").limits[name], value, "the tasks app");
  };
}
for (const [name, resolved] of Object.entries(SERVICE_LIMITS)) {
  CHECKS[`limits.${name}`] = ({ server }, value) => assert.equal(server.options.services[resolved], value);
}
for (const name of APP_LIMITS) CHECKS[`limits.${name}`] = ({ appOptions }, value) => assert.equal(appOptions[name], value);
for (const name of CLUSTER_LIMITS) {
  CHECKS[`limits.${name}`] = ({ server }, value) => {
    const limits = (server.cluster as unknown as { limits?: Record<string, number> }).limits;
    assert.equal(limits?.[name], value);
  };
}

const HANDLERS = {
  "handlers/echo.ts": "export default { message(conn, data) { conn.send(data.toString()); } };\n",
  "handlers/tasks/ping.ts": 'export default { handler: () => "pong" };\n',
  "public/hello.txt": "static hello",
};

async function stopServing(serving: Serving): Promise<void> {
  await serving.server.stop({ timeoutMs: 2_000 });
  serving.standalone.shutdown.uninstall();
  serving.standalone.lock?.release();
}

test("every key of the config schema reaches the running server", { skip: shared.skip }, async (t) => {
  const root = makeTree(t, HANDLERS, "sb-all-");
  const values = new Map<string, unknown>([
    ["port", 0],
    ["host", "127.0.0.2"],
    ["handlers", join(root, "handlers")],
    ["static", join(root, "public")],
    ["perMessageDeflate", { threshold: 2048 }],
    ["controlSocket", join(root, "ctl.sock")],
    ["lockFile", join(root, "my.lock")],
    ["logLevel", "debug"],
    ["logFile", join(root, "server.log")],
    ["cluster.redis", shared.redis.url],
    ["cluster.prefix", "cfg:"],
    ["app.presence", true],
    ["app.rooms", false],
    ["app.pushPolicy", "close"],
    ["app.sessionSecret", "serve-settings-secret-0123456789abcdef"],
    ["app.sessionRequired", false],
    ["metrics.enabled", true],
    ["metrics.path", "/m"],
    ["metrics.port", 0],
    ["metrics.token", METRICS_TOKEN],
    ["api.key", API_KEY],
    ["admin.token", ADMIN_TOKEN],
    ["trustProxy", ["127.0.0.1"]],
  ]);
  const config: Record<string, unknown> = { limits: {}, cluster: {}, app: {}, metrics: {}, api: {}, admin: {} };
  for (const field of CONFIG_FIELDS) {
    if (field.key.startsWith("limits.")) {
      const name = field.key.slice("limits.".length) as LimitName;
      if (NOWHERE[name] === undefined) values.set(field.key, limitValue(name));
    }
    if (!values.has(field.key)) continue;
    const [section, sub] = field.key.split(".");
    if (sub === undefined) config[field.key] = values.get(field.key);
    else (config[section!] as Record<string, unknown>)[sub] = values.get(field.key);
  }
  const configPath = join(root, "switchboard.config.json");
  writeFileSync(configPath, JSON.stringify(config, null, 2));

  const appSpy = t.mock.method(Server.prototype, "app");
  const serving = await serve({ config: configPath }, { cwd: root, env: {}, out: () => undefined });
  t.after(() => stopServing(serving));
  const appCall = appSpy.mock.calls.find((call) => call.arguments[0] === "/app");
  const ctx: Ctx = { serving, server: serving.server, appOptions: (appCall?.arguments[1] ?? {}) as AppOptions };

  const failures: string[] = [];
  for (const field of CONFIG_FIELDS) {
    const name = field.key.slice("limits.".length) as LimitName;
    if (field.key.startsWith("limits.") && NOWHERE[name] !== undefined) continue; // the next test
    if (ELSEWHERE[field.key] !== undefined) continue;
    const check = CHECKS[field.key];
    if (check === undefined) {
      failures.push(`${field.key}: this test does not know where to observe it (add a check)`);
      continue;
    }
    try {
      await check(ctx, values.get(field.key));
    } catch (err) {
      failures.push(`${field.key}: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  assert.deepEqual(failures, [], `settings validated but not applied:\n${failures.join("\n")}`);

  // Still serving normally with all of that applied.
  const echo = new TestClient(serving.server.url("/echo"));
  await echo.opened;
  echo.ws.send("round trip");
  assert.equal((await echo.next()).text, "round trip");
  await echo.close();
  const client = await ProtoClient.open(serving.server.url("/app"));
  assert.equal((await client.call("ping", null)).data, "pong");
  await client.close();
});

test("a limit with nowhere to go in a standalone server stops start-up with an error naming it", async (t) => {
  const root = makeTree(t, HANDLERS, "sb-nowhere-");
  for (const [name, words] of Object.entries(NOWHERE) as Array<[LimitName, RegExp]>) {
    const field = CONFIG_FIELDS.find((f) => f.key === `limits.${name}`)!;
    const started = serve({ port: "0" }, { cwd: root, env: { LOG_LEVEL: "silent", [field.env]: String(limitValue(name)) }, out: () => undefined });
    const outcome = await started.then(async (serving) => {
      await stopServing(serving);
      return undefined;
    }, (err: unknown) => err);
    assert.ok(outcome instanceof OptionError, `${field.key} (${field.env}) was accepted and then ignored`);
    assert.equal(outcome.option, field.key);
    assert.match(outcome.message, words);
    assert.match(outcome.message, new RegExp(`env ${field.env}`), "the error says where the value came from");
  }
  // The same folder starts with the standalone limits (a check that the error was the key's).
  const serving = await serve({ port: "0" }, { cwd: root, env: { LOG_LEVEL: "silent", SWITCHBOARD_MAX_PAYLOAD: "4096" }, out: () => undefined });
  t.after(() => stopServing(serving));
  assert.equal(serving.server.options.maxPayload, 4096);
});

test("an app limit when the folder has no tasks: a banner warning names it", async (t) => {
  const root = makeTree(t, { "handlers/echo.ts": HANDLERS["handlers/echo.ts"] }, "sb-notasks-");
  const lines: string[] = [];
  const serving = await serve({ port: "0" }, { cwd: root, env: { LOG_LEVEL: "silent", SWITCHBOARD_TASK_TIMEOUT_MS: "500" }, out: (line) => lines.push(line) });
  t.after(() => stopServing(serving));
  const warning = lines.find((line) => line.includes("warning") && line.includes("limits.taskTimeoutMs"));
  assert.ok(warning, `no warning about limits.taskTimeoutMs in the banner:\n${lines.join("\n")}`);
  assert.match(warning, /tasks/);
  // And the server runs as usual.
  const echo = new TestClient(serving.server.url("/echo"));
  await echo.opened;
  echo.ws.send("still here");
  assert.equal((await echo.next()).text, "still here");
  await echo.close();
});
