import { test } from "node:test";
import assert from "node:assert/strict";
import { createCommandTable } from "../../../src/control/builtin-commands.ts";
import { CommandTable, parseArgs, usage } from "../../../src/control/commands.ts";
import type { ControlReply } from "../../../src/control/protocol.ts";
import { FakeContext } from "../../helpers/fake-control-context.ts";

async function run(command: string, args: unknown[] = [], ctx = new FakeContext(), table = createCommandTable()) {
  const progress: unknown[] = [];
  const reply = await table.dispatcher(ctx)({ id: 7, command, args }, { progress: (p) => progress.push(p) });
  return { reply, progress, ctx };
}

function ok(reply: ControlReply): unknown {
  assert.equal(reply.ok, true, JSON.stringify(reply));
  return (reply as { result: unknown }).result;
}

function err(reply: ControlReply): { code: string; message: string } {
  assert.equal(reply.ok, false, JSON.stringify(reply));
  return (reply as { error: { code: string; message: string } }).error;
}

test("status: uptime, memory, endpoints, rooms, services, node id", async () => {
  const { reply } = await run("status");
  const s = ok(reply) as Record<string, unknown>;
  assert.equal(s.uptimeMs, 65_000);
  assert.equal(s.nodeId, "node-a");
  assert.equal(s.pid, process.pid);
  assert.equal(s.rooms, 3);
  assert.ok((s.memory as { rss: number }).rss > 0);
  assert.deepEqual((s.endpoints as { path: string }[]).map((e) => e.path), ["/echo", "/app"]);
  assert.equal((s.services as unknown[]).length, 2);
  const cluster = s.cluster as { status: string; nodes: { nodeId: string; connections: number }[] };
  assert.equal(cluster.status, "up");
  assert.deepEqual(cluster.nodes.map((n) => [n.nodeId, n.connections]), [["node-a", 3], ["node-b", 4]]);
});

test("services lists states", async () => {
  const result = ok((await run("services")).reply) as { name: string; state: string }[];
  assert.deepEqual(result.map((s) => `${s.name}:${s.state}`), ["http:running", "ticker:running"]);
});

test("service restart NAME; unknown name and bad action are errors", async () => {
  const r = await run("service", ["restart", "ticker"]);
  assert.deepEqual(ok(r.reply), { name: "ticker", state: "running" });
  assert.deepEqual(r.progress, [{ phase: "restarting ticker" }]);
  assert.deepEqual(r.ctx.calls, ["restart ticker"]);
  const e = err((await run("service", ["restart", "nope"])).reply);
  assert.equal(e.code, "not_found");
  assert.match(e.message, /known: http, ticker/);
  assert.match(err((await run("service", ["reload", "x"])).reply).message, /must be one of restart \(got "reload"\); usage: service restart NAME/);
});

test("endpoint enable|disable PATH", async () => {
  const r = await run("endpoint", ["disable", "/echo"]);
  assert.deepEqual(ok(r.reply), { path: "/echo", enabled: false });
  assert.equal(r.ctx.eps[0]?.enabled, false);
  assert.equal(err((await run("endpoint", ["disable", "/nope"])).reply).code, "not_found");
  assert.equal(err((await run("endpoint", ["toggle", "/echo"])).reply).code, "bad_args");
});

test("connections [PATH]", async () => {
  assert.equal((ok((await run("connections")).reply) as unknown[]).length, 3);
  assert.deepEqual((ok((await run("connections", ["/app"])).reply) as { id: string }[]).map((c) => c.id), ["app-1"]);
});

test("kick ID [CODE] [REASON...]: defaults, reason words joined, bad code and long reason refused", async () => {
  assert.deepEqual(ok((await run("kick", ["echo-1"])).reply), { id: "echo-1", code: 4001, reason: "kicked" });
  const r = await run("kick", ["echo-2", "4100", "go", "away"]);
  assert.deepEqual(r.ctx.calls, ["kick echo-2 4100 go away"]);
  assert.match(err((await run("kick", ["echo-1", "1006"])).reply).message, /1000 or 3000–4999/);
  assert.match(err((await run("kick", ["echo-1", "abc"])).reply).message, /integer/);
  assert.match(err((await run("kick", ["echo-1", "4001", "x".repeat(124)])).reply).message, /123 bytes/);
  assert.equal(err((await run("kick", ["nobody"])).reply).code, "not_found");
  assert.match(err((await run("kick", [])).reply).message, /missing ID; usage: kick ID \[CODE\] \[REASON\.\.\.\]/);
});

test("broadcast PATH MESSAGE...", async () => {
  const r = await run("broadcast", ["/echo", "hello", "all"]);
  assert.deepEqual(ok(r.reply), { path: "/echo", recipients: 2 });
  assert.deepEqual(r.ctx.calls, ["broadcast /echo hello all"]);
  assert.equal(err((await run("broadcast", ["/echo"])).reply).code, "bad_args");
});

test("log-level LEVEL", async () => {
  const r = await run("log-level", ["debug"]);
  assert.deepEqual(ok(r.reply), { level: "debug" });
  assert.equal(r.ctx.level, "debug");
  assert.equal(err((await run("log-level", ["loud"])).reply).code, "bad_args");
});

test("stop reports progress phases, then replies", async () => {
  const r = await run("stop");
  assert.deepEqual(ok(r.reply), { stopped: true });
  assert.deepEqual(r.progress, [{ phase: "closing connections" }, { phase: "stopping services" }]);
});

test("help lists every command; help NAME one", async () => {
  const all = ok((await run("help")).reply) as { name: string; help: string }[];
  assert.deepEqual(all.map((c) => c.name),
    ["broadcast", "connections", "endpoint", "help", "kick", "log-level", "push", "reload-tls", "service", "services", "status", "stop"]);
  assert.deepEqual(ok((await run("help", ["kick"])).reply), [{ name: "kick", usage: "kick ID [CODE] [REASON...]", help: all.find((c) => c.name === "kick")?.help }]);
  assert.equal(err((await run("help", ["zzz"])).reply).code, "not_found");
});

test("unknown command: error listing the known ones", async () => {
  const e = err((await run("reboot")).reply);
  assert.equal(e.code, "unknown_command");
  assert.match(e.message, /unknown command "reboot"; known commands: broadcast, connections, .*stop/);
});

test("too many args, non-string args", async () => {
  assert.match(err((await run("status", ["1", "2"])).reply).message, /too many arguments/);
  assert.match(err((await run("status", ["x"])).reply).message, /ROOMS must be an integer from 0 to 10000/);
  assert.match(err((await run("connections", [{}])).reply).message, /string or a number/);
});

test("apps register their own commands; names are checked; a throwing handler is an error reply", async () => {
  const table = createCommandTable();
  table.register({ name: "greet", args: [{ name: "who" }], help: "say hi", handler: (_c, a) => `hi ${a.who}` });
  table.register({ name: "explode", help: "throws", handler: () => { throw new Error("kaboom"); } });
  assert.equal(ok((await run("greet", ["bob"], new FakeContext(), table)).reply), "hi bob");
  const e = err((await run("explode", [], new FakeContext(), table)).reply);
  assert.deepEqual(e, { code: "internal", message: "kaboom" });
  assert.throws(() => table.register({ name: "greet", help: "", handler: () => 1 }), /already exists/);
  assert.throws(() => table.register({ name: "Bad Name", help: "", handler: () => 1 }), /must match/);
  assert.throws(() => new CommandTable([{ name: "x", args: [{ name: "a", rest: true }, { name: "b" }], help: "", handler: () => 1 }]), /only the last/);
});

test("parseArgs and usage", () => {
  const spec = { name: "x", help: "", handler: () => 1, args: [{ name: "a" }, { name: "n", optional: true, int: { min: 1, max: 9 } }] };
  assert.deepEqual(parseArgs(spec, ["q", 3]), { a: "q", n: 3 });
  assert.equal(usage(spec), "x A [N]");
});
