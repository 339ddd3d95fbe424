/**
 * `switchboard init [DIR]` (issue 17), through the real CLI: the starter it writes is served at
 * once by `switchboard serve` (banner, echo endpoint, task through the client, a push from the
 * service, the page at / — in Chromium too); the starter's own test passes against this package
 * and fails when its task is broken; its TypeScript files type-check against the package; and
 * init never overwrites (exit 1, one line naming the files in the way, nothing written).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCli, startCli } from "../helpers/cli.ts";
import { connect, withTimeout } from "../helpers/ws-client.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { tempDir } from "../helpers/tempdir.ts";
import { chromiumPath, launchBrowser, missing } from "../helpers/browser.ts";
import { Client } from "../../client/index.ts";
import { STARTER_FILES } from "../../src/cli/init.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const STARTER_PATHS = STARTER_FILES.map(({ path }) => path);
const WAIT = 20_000;

/** `switchboard init DIR` in a fresh temp folder, with "switchboard" resolving to this repository (as `npm install` would). */
async function initProject(t: Parameters<typeof tempDir>[0]): Promise<{ dir: string; stdout: string }> {
  const dir = join(tempDir(t, "sb-init-"), "my-app");
  const result = await runCli(["init", dir]);
  assert.equal(result.code, 0, result.stderr);
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(REPO, join(dir, "node_modules", "switchboard"), "dir");
  return { dir, stdout: result.stdout };
}

/** Run a node command in `cwd` to its end (bounded), as a fresh process: not a child of this test runner. */
function runNode(args: string[], cwd: string, ms = 60_000): Promise<{ code: number | null; output: string }> {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // else the inner `node --test` reports to this runner instead of printing
  for (const name of Object.keys(env)) if (name.startsWith("SWITCHBOARD_")) delete env[name];
  const child = spawn(process.execPath, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const closed = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  return withTimeout(closed, ms, `node ${args.join(" ")} did not exit`).then(
    (code) => ({ code, output }),
    (err: unknown) => {
      if (child.exitCode === null) child.kill("SIGKILL");
      throw err;
    },
  );
}

/**
 * The starter's own test, as `npm test` runs it, with the package's "source" condition and tsx
 * (what bin/switchboard.js does for the CLI), so it runs this tree rather than a possibly stale dist/.
 */
function runStarterTest(dir: string) {
  return runNode(["--conditions=source", "--import", import.meta.resolve("tsx"), "--test", "--test-reporter=spec", "test/hello.test.mjs"], dir);
}

test("init writes the starter and serve runs it: banner, echo, task, service push, page", async (t) => {
  const { dir, stdout } = await initProject(t);
  for (const path of STARTER_PATHS) {
    assert.ok(existsSync(join(dir, path)), `${path} written`);
    assert.match(stdout, new RegExp(`^  ${path.replaceAll(".", "\\.")} `, "m"), `${path} listed`);
  }
  assert.match(stdout, /npm install && npx switchboard serve/);
  assert.match(stdout, /npm test/);
  assert.equal(JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).name, "my-app");

  // `switchboard serve` with no DIR: the config file in the folder says where everything is.
  const cli = await startCli(["serve", "--port", "0"], { cwd: dir });
  t.after(() => cli.stop());
  const base = `127.0.0.1:${cli.port}`;
  assert.match(cli.banner, new RegExp(`ws://${base}/echo +echo\\.ts`));
  assert.match(cli.banner, new RegExp(`task hello on ws://${base}/app +tasks/hello\\.ts`));
  assert.match(cli.banner, /service ticker +services\/ticker\.ts/);
  assert.match(cli.banner, new RegExp(`http://${base}/ +static files from \\./public`));

  const echo = await connect(`ws://${base}/echo`);
  echo.send("ping");
  assert.equal((await echo.next()).text, "ping");
  await echo.close();

  const client = new Client(`ws://${base}/app`, { room: "ticks", reconnect: false });
  t.after(() => client.close());
  const tick = new Promise<{ n: number; at: string }>((resolve) => client.subscribe("tick", (data) => resolve(data as { n: number; at: string })));
  assert.deepEqual(await client.call("hello", { name: "Ada" }), { greeting: "Hello, Ada!" });
  assert.deepEqual(await client.call("hello", null), { greeting: "Hello, world!" });
  const first = await withTimeout(tick, WAIT, "no tick from the service");
  assert.ok(Number.isInteger(first.n) && first.n >= 1, JSON.stringify(first));
  assert.ok(!Number.isNaN(Date.parse(first.at)), JSON.stringify(first));

  const page = await rawRequest(cli.port, "/");
  assert.equal(page.status, 200);
  assert.match(page.headers["content-type"] ?? "", /text\/html/);
  assert.match(page.body, /from "\/switchboard\.js"/);
  const bundle = await rawRequest(cli.port, "/switchboard.js", "GET", WAIT);
  assert.equal(bundle.status, 200);

  const chromium = chromiumPath();
  await t.test("the page calls the task and shows the ticks (Chromium)", { skip: chromium ? false : missing("chromium", "chromium") }, async () => {
    const browser = await launchBrowser(chromium!);
    try {
      const tab = await browser.newPage();
      const errors: string[] = [];
      tab.on("pageerror", (err) => errors.push(String(err)));
      await tab.goto(`http://${base}/`);
      await tab.locator("#tick", { hasText: /#\d+ at / }).waitFor({ timeout: WAIT });
      await tab.fill("input[name=who]", "Grace");
      await tab.click("button");
      await tab.locator("#reply", { hasText: "Hello, Grace!" }).waitFor({ timeout: WAIT });
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
    }
  });

  assert.equal(await cli.stop(), 0);
});

test("the starter's own test passes against the package, and fails when its task is broken", async (t) => {
  const { dir } = await initProject(t);
  const passed = await runStarterTest(dir);
  assert.equal(passed.code, 0, passed.output);
  assert.match(passed.output, /pass 1/);
  console.log(`starter test output:\n${passed.output}`);

  // The same test against a task that answers something else must fail (so it does test the task).
  const task = join(dir, "handlers", "tasks", "hello.ts");
  writeFileSync(task, readFileSync(task, "utf8").replace("`Hello, ${name}!`", "`Bye, ${name}!`"));
  const failed = await runStarterTest(dir);
  assert.notEqual(failed.code, 0, failed.output);
  assert.match(failed.output, /Bye, test!/);
});

test("the starter's TypeScript files type-check against the package (strict)", async (t) => {
  const { dir } = await initProject(t);
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({
    compilerOptions: {
      target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", customConditions: ["source"], strict: true,
      noUncheckedIndexedAccess: true, allowImportingTsExtensions: true, noEmit: true, skipLibCheck: true,
      types: ["node"], typeRoots: [join(REPO, "node_modules", "@types")],
    },
    include: ["handlers"],
  }));
  const tsc = await runNode([join(REPO, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"], dir, 120_000);
  // Errors in this repository's own files are not the starter's: only the starter's are asserted.
  const starterErrors = tsc.output.split("\n").filter((line) => line.startsWith("handlers/"));
  assert.deepEqual(starterErrors, []);
  if (tsc.code !== 0) console.log(`tsc reported errors outside the starter (ignored here):\n${tsc.output}`);
});

test("init never overwrites: exit 1, one line naming the files in the way, nothing written", async (t) => {
  const { dir } = await initProject(t);
  writeFileSync(join(dir, "handlers", "echo.ts"), "// mine\n");
  const again = await runCli(["init", dir]);
  assert.equal(again.code, 1);
  assert.equal(again.stdout, "");
  const lines = again.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, again.stderr);
  assert.match(lines[0]!, /^switchboard: error: init: .*never overwrites/);
  for (const path of STARTER_PATHS) assert.ok(lines[0]!.includes(path), `${path} named`);
  assert.equal(readFileSync(join(dir, "handlers", "echo.ts"), "utf8"), "// mine\n");

  // One file in the way of an otherwise empty folder: only it is named, and nothing else is written.
  const other = tempDir(t, "sb-init-");
  mkdirSync(join(other, "public"));
  writeFileSync(join(other, "public", "index.html"), "<p>mine</p>\n");
  const partial = await runCli(["init"], { cwd: other }); // DIR defaults to the current folder
  assert.equal(partial.code, 1);
  assert.match(partial.stderr, /this file exists \(init never overwrites\): public\/index\.html\n$/);
  for (const path of STARTER_PATHS.filter((p) => p !== "public/index.html")) assert.ok(!existsSync(join(other, path)), `${path} not written`);

  // A dangling symlink is in the way too (init would otherwise write through it).
  const linked = tempDir(t, "sb-init-");
  symlinkSync(join(linked, "nowhere.json"), join(linked, "package.json"));
  const throughLink = await runCli(["init"], { cwd: linked });
  assert.equal(throughLink.code, 1);
  assert.match(throughLink.stderr, /this file exists \(init never overwrites\): package\.json\n$/);
  assert.ok(!existsSync(join(linked, "nowhere.json")) && !existsSync(join(linked, "handlers")));

  // A file where the folder should be.
  const file = join(other, "public", "index.html");
  const notDir = await runCli(["init", file]);
  assert.equal(notDir.code, 1);
  assert.match(notDir.stderr, /is a file, not a folder/);
});

test("init into the current folder (no DIR) says so and prints serve without cd", async (t) => {
  const dir = tempDir(t, "sb-init-");
  const result = await runCli(["init"], { cwd: dir });
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /wrote a starter into this folder/);
  assert.match(result.stdout, /^  npm install && npx switchboard serve /m);
  for (const path of STARTER_PATHS) assert.ok(existsSync(join(dir, path)), `${path} written`);
});

test("a folder name that is not an npm name becomes one in package.json; the cd line quotes it", async (t) => {
  const dir = join(tempDir(t, "sb-init-"), "My Starter");
  const result = await runCli(["init", "My Starter"], { cwd: join(dir, "..") });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).name, "my-starter");
  assert.match(result.stdout, /^  cd "My Starter" && npm install/m);
});
