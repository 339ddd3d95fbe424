/**
 * The real `switchboard` command (node bin/switchboard.js) as a child process: the banner
 * with the bound port, flags / env / config-file precedence, and the errors for bad input.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { runCli, startCli } from "../helpers/cli.ts";
import { connect } from "../helpers/ws-client.ts";
import { echoWithTag, makeTree } from "../helpers/tree.ts";

const EXAMPLES = fileURLToPath(new URL("../../examples/handlers", import.meta.url));

test("serve prints a banner with every endpoint and page URL on the real port, and stops on SIGTERM", async (t) => {
  const www = makeTree(t, { "hello.txt": "static hello" });
  const cli = await startCli(["serve", EXAMPLES, "--port", "0", "--static", www]);
  t.after(() => cli.stop());
  assert.notEqual(cli.port, 0);
  for (const path of ["/echo", "/room", "/subprotocol", "/origin"]) assert.ok(cli.banner.includes(`ws://127.0.0.1:${cli.port}${path}`), path);
  assert.ok(cli.banner.includes(`http://127.0.0.1:${cli.port}/console.html`));
  assert.match(cli.banner, new RegExp(`http://127\\.0\\.0\\.1:${cli.port}/ +static files from`));
  const page = await fetch(`http://127.0.0.1:${cli.port}/hello.txt`);
  assert.equal(page.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(await page.text(), "static hello");
  const client = await connect(`ws://127.0.0.1:${cli.port}/echo`);
  client.send("through the CLI");
  assert.equal((await client.next()).text, "through the CLI");
  const closed = client.waitClosed();
  assert.equal(await cli.stop(), 0);
  assert.equal((await closed).code, 1001);
});

test("precedence: --port beats SWITCHBOARD_PORT beats the config file", async (t) => {
  const dir = makeTree(t, {
    "handlers/ping.ts": echoWithTag("ping"),
    // The file asks for a port that is certainly taken or forbidden; env and flags must win.
    "switchboard.config.json": JSON.stringify({ port: 1, handlers: "handlers", limits: { maxPayload: 64 } }),
  });
  // env beats file: SWITCHBOARD_PORT=0 replaces port 1.
  const a = await startCli(["serve"], { cwd: dir, env: { SWITCHBOARD_PORT: "0" } });
  t.after(() => a.stop());
  assert.match(a.banner, /\/ping/);
  assert.match(a.banner, /config \.\/switchboard\.config\.json/);
  // The file's limit applies: a message over 64 bytes closes with 1009.
  const client = await connect(`ws://127.0.0.1:${a.port}/ping`);
  client.send("x".repeat(65));
  assert.equal((await client.waitClosed()).code, 1009);
  await a.stop();
  // flag beats env (every layer is still validated; a valid env value loses to the flag).
  const b = await startCli(["serve", "--port", "0"], { cwd: dir, env: { SWITCHBOARD_PORT: "1" } });
  t.after(() => b.stop());
  assert.notEqual(b.port, 1);
  await b.stop();
});

test("bad values stop start-up with a message naming the key", async (t) => {
  const dir = makeTree(t, { "handlers/echo.ts": echoWithTag("e") });
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [["serve", "--port", "abc"], {}, /option "port": expected an integer from 0 to 65535, got "abc" \(from --port\)/],
    [["serve", "--port", "0"], { SWITCHBOARD_MAX_PAYLOAD: "lots" }, /option "limits\.maxPayload".*SWITCHBOARD_MAX_PAYLOAD/],
    [["serve", "--port", "0", "--config", "nope.json"], {}, /option "config": file not found.*nope\.json/],
    [["serve", "missing-dir", "--port", "0"], {}, /handler directory does not exist/],
    [["serve", "--port", "0", "--static", "no-such-dir"], {}, /option "static": directory not found/],
  ];
  for (const [args, env, pattern] of cases) {
    const result = await runCli(args, { cwd: dir, env });
    assert.equal(result.code, 1, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, /^switchboard: error: /);
    assert.match(result.stderr, pattern);
  }
  const badFile = makeTree(t, { "handlers/echo.ts": echoWithTag("e"), "switchboard.config.ts": "export default { port: 0, limts: {} };\n" });
  const result = await runCli(["serve"], { cwd: badFile });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /option "limts": unknown key in .*switchboard\.config\.ts \(did you mean "limits"\?\)/);
});

test("a broken handler file stops start-up naming the file", async (t) => {
  const dir = makeTree(t, { "echo.ts": echoWithTag("e"), "games/broken.ts": "export default 'nope';\n" });
  const result = await runCli(["serve", dir, "--port", "0"]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /games\/broken\.ts: the default export must be an object/);
});

test("a port in use says what to do in one line, with no log lines or stack trace before it", async (t) => {
  const dir = makeTree(t, { "echo.ts": echoWithTag("e") });
  const first = await startCli(["serve", dir, "--port", "0"]);
  t.after(() => first.stop());
  // At info level the failed listener logs an error with a stack: none of it may reach the operator.
  const result = await runCli(["serve", dir, "--port", String(first.port)], { env: { SWITCHBOARD_LOG_LEVEL: "info" } });
  assert.equal(result.code, 1);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, new RegExp(`^switchboard: error: port ${first.port} on 127\\.0\\.0\\.1 is already in use: .*Pick another with --port N.*\\n$`));
  assert.equal(result.stderr.split("\n").length, 2, result.stderr);
});

test("--help for every command; usage errors exit 2", async () => {
  const top = await runCli(["--help"]);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /Usage: switchboard/);
  assert.match(top.stdout, /serve \[options\] \[DIR\]/);
  const serve = await runCli(["serve", "--help"]);
  assert.equal(serve.code, 0);
  for (const flag of ["--port <N>", "--host <HOST>", "--config <FILE>", "--static <DIR>", "--control-socket <PATH>", "--lock-file <PATH>", "Precedence"]) assert.ok(serve.stdout.includes(flag), flag);
  const unknown = await runCli(["serve", "--prot", "1"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown option '--prot'/);
  assert.match(unknown.stderr, /--help/);
  const noCommand = await runCli(["frobnicate"]);
  assert.equal(noCommand.code, 2);
  assert.match(noCommand.stderr, /unknown command 'frobnicate'/);
});
