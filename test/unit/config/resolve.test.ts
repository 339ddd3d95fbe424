import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveConfig } from "../../../src/config/resolve.ts";
import { envName } from "../../../src/config/schema.ts";
import { OptionError } from "../../../src/errors.ts";

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "sb-config-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function rejectsNaming(p: Promise<unknown>, key: string, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof OptionError, `expected OptionError, got ${String(err)}`);
    assert.equal(err.option, key);
    assert.match(err.message, pattern);
    return true;
  });
}

test("defaults when nothing is set", async (t) => {
  const cwd = tempDir(t);
  const c = await resolveConfig({ cwd, env: {}, cli: {} });
  assert.equal(c.port, 8080);
  assert.equal(c.host, "127.0.0.1");
  assert.equal(c.handlers, join(cwd, "handlers"));
  assert.equal(c.static, undefined);
  assert.equal(c.perMessageDeflate, false);
  assert.equal(c.logLevel, "info");
  assert.deepEqual(c.limits, {});
  assert.equal(c.configFile, undefined);
  assert.equal(c.cluster.prefix, "switchboard:"); // the library's DEFAULT_PREFIX: CLI and embedded nodes are one cluster
});

test("precedence: CLI flag > env > file > default", async (t) => {
  const cwd = tempDir(t);
  writeFileSync(join(cwd, "switchboard.config.json"), JSON.stringify({ port: 1111, host: "0.0.0.0", logLevel: "warn", limits: { maxPayload: 100 } }));
  const fileOnly = await resolveConfig({ cwd, env: {}, cli: {} });
  assert.equal(fileOnly.port, 1111);
  assert.equal(fileOnly.host, "0.0.0.0");
  assert.equal(fileOnly.limits.maxPayload, 100);

  const env = { SWITCHBOARD_PORT: "2222", SWITCHBOARD_MAX_PAYLOAD: "200" };
  const withEnv = await resolveConfig({ cwd, env, cli: {} });
  assert.equal(withEnv.port, 2222);
  assert.equal(withEnv.host, "0.0.0.0");
  assert.equal(withEnv.limits.maxPayload, 200);
  assert.equal(withEnv.sources.port, "env SWITCHBOARD_PORT");

  const withCli = await resolveConfig({ cwd, env, cli: { port: "3333" } });
  assert.equal(withCli.port, 3333);
  assert.equal(withCli.logLevel, "warn");
  assert.equal(withCli.sources.port, "--port");
});

test("discovery order .ts > .js > .json, and --config overrides discovery", async (t) => {
  const cwd = tempDir(t);
  writeFileSync(join(cwd, "switchboard.config.json"), JSON.stringify({ port: 3 }));
  writeFileSync(join(cwd, "switchboard.config.js"), "export default { port: 2 };\n");
  writeFileSync(join(cwd, "switchboard.config.ts"),
    'import { defineConfig } from "' + join(process.cwd(), "src/index.ts") + '";\nconst port: number = 1;\nexport default defineConfig({ port });\n');
  assert.equal((await resolveConfig({ cwd, env: {}, cli: {} })).port, 1);
  rmSync(join(cwd, "switchboard.config.ts"));
  assert.equal((await resolveConfig({ cwd, env: {}, cli: {} })).port, 2);
  rmSync(join(cwd, "switchboard.config.js"));
  assert.equal((await resolveConfig({ cwd, env: {}, cli: {} })).port, 3);
  writeFileSync(join(cwd, "other.json"), JSON.stringify({ port: 4 }));
  assert.equal((await resolveConfig({ cwd, env: {}, cli: {}, configPath: "other.json" })).port, 4);
  assert.equal((await resolveConfig({ cwd, env: { SWITCHBOARD_CONFIG: "other.json" }, cli: {} })).port, 4);
});

test("paths in a config file are relative to the file, env and CLI paths to the cwd", async (t) => {
  const cwd = tempDir(t);
  writeFileSync(join(cwd, "conf.json"), JSON.stringify({ handlers: "hs", static: "public" }));
  const sub = join(cwd, "sub");
  const c = await resolveConfig({ cwd: sub, env: {}, cli: {}, configPath: "../conf.json" });
  assert.equal(c.handlers, join(cwd, "hs"));
  assert.equal(c.static, join(cwd, "public"));
  const d = await resolveConfig({ cwd: sub, env: { SWITCHBOARD_STATIC: "www" }, cli: { handlers: "h2" }, configPath: "../conf.json" });
  assert.equal(d.handlers, join(sub, "h2"));
  assert.equal(d.static, join(sub, "www"));
});

test("bad values name the key and the source", async (t) => {
  const cwd = tempDir(t);
  await rejectsNaming(resolveConfig({ cwd, env: {}, cli: { port: "abc" } }), "port", /integer from 0 to 65535.*"abc".*--port/);
  await rejectsNaming(resolveConfig({ cwd, env: {}, cli: { port: "70000" } }), "port", /70000/);
  await rejectsNaming(resolveConfig({ cwd, env: {}, cli: { port: "8080x" } }), "port", /"8080x"/);
  await rejectsNaming(resolveConfig({ cwd, env: { SWITCHBOARD_PORT: "-1" }, cli: {} }), "port", /SWITCHBOARD_PORT/);
  await rejectsNaming(resolveConfig({ cwd, env: { SWITCHBOARD_MAX_PAYLOAD: "0" }, cli: {} }), "limits.maxPayload", /integer >= 1/);
  await rejectsNaming(resolveConfig({ cwd, env: { SWITCHBOARD_LOG_LEVEL: "loud" }, cli: {} }), "logLevel", /one of fatal/);
  await rejectsNaming(resolveConfig({ cwd, env: { SWITCHBOARD_PER_MESSAGE_DEFLATE: "maybe" }, cli: {} }), "perMessageDeflate", /true or false/);
  await rejectsNaming(resolveConfig({ cwd, env: { SWITCHBOARD_CLUSTER_REDIS: "http://x" }, cli: {} }), "cluster.redis", /Redis URL/);

  const file = join(cwd, "switchboard.config.json");
  const cases: Array<[unknown, string, RegExp]> = [
    [{ port: "8080" }, "port", /integer.*"8080".*switchboard\.config\.json/],
    [{ port: 1.5 }, "port", /1\.5/],
    [{ host: "" }, "host", /non-empty string/],
    [{ limits: { maxConnections: -1 } }, "limits.maxConnections", /integer >= 0/],
    [{ limits: 5 }, "limits", /expected an object/],
    [{ perMessageDeflate: { level: 3 } }, "perMessageDeflate", /unknown key "level"/],
    [{ perMessageDeflate: "yes" }, "perMessageDeflate", /true, false/],
    [{ controlSocket: 5 }, "controlSocket", /non-empty string/],
    [{ lockFile: false }, "lockFile", /non-empty string/],
    [{ logFile: [] }, "logFile", /non-empty string/],
    [{ cluster: { prefix: 7 } }, "cluster.prefix", /non-empty string/],
  ];
  for (const [config, key, pattern] of cases) {
    writeFileSync(file, JSON.stringify(config));
    await rejectsNaming(resolveConfig({ cwd, env: {}, cli: {} }), key, pattern);
  }
});

test("unknown keys stop start-up with a suggestion; unknown env vars only warn", async (t) => {
  const cwd = tempDir(t);
  const file = join(cwd, "switchboard.config.json");
  writeFileSync(file, JSON.stringify({ prot: 1 }));
  await rejectsNaming(resolveConfig({ cwd, env: {}, cli: {} }), "prot", /unknown key.*did you mean "port"/);
  writeFileSync(file, JSON.stringify({ limits: { maxPayloads: 1 } }));
  await rejectsNaming(resolveConfig({ cwd, env: {}, cli: {} }), "limits.maxPayloads", /did you mean "limits.maxPayload"/);
  writeFileSync(file, JSON.stringify({ cluster: { url: "redis://x" } }));
  await rejectsNaming(resolveConfig({ cwd, env: {}, cli: {} }), "cluster.url", /unknown key/);
  rmSync(file);
  const c = await resolveConfig({ cwd, env: { SWITCHBOARD_PROT: "1" }, cli: {} });
  assert.match(c.warnings.join("\n"), /SWITCHBOARD_PROT.*did you mean "SWITCHBOARD_PORT"/);
});

test("broken config files name the file", async (t) => {
  const cwd = tempDir(t);
  writeFileSync(join(cwd, "switchboard.config.json"), "{ port: ");
  await rejectsNaming(resolveConfig({ cwd, env: {}, cli: {} }), "config", /switchboard\.config\.json is not valid JSON/);
  await rejectsNaming(resolveConfig({ cwd, env: {}, cli: {}, configPath: "nope.ts" }), "config", /file not found.*nope\.ts/);
  writeFileSync(join(cwd, "a.js"), "export const port = 1;\n");
  await rejectsNaming(resolveConfig({ cwd, env: {}, cli: {}, configPath: "a.js" }), "config", /a\.js has no default export/);
  writeFileSync(join(cwd, "b.js"), "throw new Error('boom');\n");
  await rejectsNaming(resolveConfig({ cwd, env: {}, cli: {}, configPath: "b.js" }), "config", /b\.js failed to load: boom/);
  writeFileSync(join(cwd, "c.json"), "[1]");
  await rejectsNaming(resolveConfig({ cwd, env: {}, cli: {}, configPath: "c.json" }), "config", /must export an object/);
});

test("env names follow the keys", () => {
  assert.equal(envName("port"), "SWITCHBOARD_PORT");
  assert.equal(envName("limits.handshakeTimeoutMs"), "SWITCHBOARD_HANDSHAKE_TIMEOUT_MS");
  assert.equal(envName("perMessageDeflate"), "SWITCHBOARD_PER_MESSAGE_DEFLATE");
  assert.equal(envName("cluster.redis"), "SWITCHBOARD_CLUSTER_REDIS");
  assert.equal(envName("logLevel"), "SWITCHBOARD_LOG_LEVEL");
});
