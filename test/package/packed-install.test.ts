/**
 * The package as users get it: `npm pack` of the working tree (its prepare script builds dist
 * and the browser bundle), installed from the tarball into a fresh project, then used from plain
 * JavaScript with plain `node` — no tsx, no `source` condition, no repository next to it:
 * an echo endpoint, a task through `switchboard/client` and through `/switchboard.js` in
 * Chromium, `npx switchboard serve`, and which optional dependencies an import loads. Then
 * `npm install <folder>` of a checkout, which builds through the same prepare script.
 * One pack and one install are shared by all subtests: about 45 s on a 2-core machine, most of
 * it the two builds (tsc); npm installs from its cache when it can (--prefer-offline).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromiumPath, launchBrowser, missing } from "../helpers/browser.ts";
import { connect } from "../helpers/ws-client.ts";
import { copyWorkingTree, run, runOk, startChild, userEnv, type Child } from "./run.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const FIXTURE = fileURLToPath(new URL("./project/", import.meta.url));
const NPM_FLAGS = ["--no-audit", "--no-fund", "--prefer-offline"];
/** npm over the network and a full tsc build on a shared 2-core machine: generous, bounded. */
const NPM_MS = 300_000;
const START_MS = 30_000;
const chromium = chromiumPath();

let base: string;
let project: string;
let tarball: string;

/** A checkout of the working tree without dist, with the repository's node_modules (its build tools). */
function checkout(dir: string, withDependencies: boolean): string {
  copyWorkingTree(ROOT, dir);
  if (withDependencies) symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  return dir;
}

/** A fresh project as `npm init -y` makes it, made an ES module package. */
async function freshProject(dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  await runOk("npm", ["init", "-y"], { cwd: dir, timeoutMs: NPM_MS });
  await runOk("npm", ["pkg", "set", "type=module"], { cwd: dir, timeoutMs: NPM_MS });
  return dir;
}

before(async () => {
  base = mkdtempSync(join(tmpdir(), "sb-pack-"));
  const source = checkout(join(base, "source"), true);
  const packed = await runOk("npm", ["pack", "--pack-destination", base], { cwd: source, timeoutMs: NPM_MS });
  tarball = join(base, /^(switchboard-[\w.-]+\.tgz)$/m.exec(packed)![1]!);
  project = await freshProject(join(base, "project"));
  cpSync(FIXTURE, project, { recursive: true });
  await runOk("npm", ["install", ...NPM_FLAGS, tarball], { cwd: project, timeoutMs: NPM_MS });
});

after(() => {
  if (base !== undefined) rmSync(base, { recursive: true, force: true });
});

test("the tarball holds dist (with the browser bundle and the pages), bin and package.json; no sources or tests", async () => {
  const listing = await runOk("tar", ["-tzf", tarball], { cwd: base, timeoutMs: START_MS });
  const files = listing.split("\n").filter((line) => line !== "" && !line.endsWith("/")).map((line) => line.replace(/^package\//, ""));
  for (const needed of ["package.json", "bin/switchboard.js", "dist/src/index.js", "dist/src/index.d.ts", "dist/client/index.js", "dist/switchboard.js", "dist/src/pages/console.html"]) {
    assert.ok(files.includes(needed), `${needed} is in the tarball`);
  }
  const unexpected = files.filter((file) => !/^(dist|bin)\//.test(file) && !/^(package\.json|README\.md|LICENSE)$/.test(file));
  assert.deepEqual(unexpected, [], "only dist/, bin/, package.json, README.md");
});

describe("a plain-JavaScript server run by node from the installed dist", () => {
  let server: Child;
  let url: string;

  before(async () => {
    server = startChild(process.execPath, ["server.js"], { cwd: project });
    url = (await server.waitFor(/listening on (http:\/\/\S+)\//, START_MS))[1]!;
  });

  after(async () => {
    if (server === undefined) return; // the shared install failed: there is nothing to stop
    server.kill("SIGTERM");
    const { code } = await server.finished;
    assert.equal(code, 0, `the server stops cleanly on SIGTERM:\n${server.output()}`);
  });

  test("(a) an echo round trip over WebSocket", async () => {
    const client = await connect(`${url.replace("http", "ws")}/echo`);
    client.send("from the packed package");
    assert.equal((await client.next()).text, "from the packed package");
    await client.close();
  });

  test("(b) a task call through the package's own client from Node (switchboard/client)", async () => {
    const output = await runOk(process.execPath, ["client.js", `${url.replace("http", "ws")}/app`], { cwd: project, timeoutMs: START_MS });
    assert.deepEqual(JSON.parse(output.trim().split("\n").at(-1)!), { greeting: "hello node" });
  });

  test("(c) a Chromium page served by it loads /switchboard.js and shows the task's reply", { skip: chromium ? false : missing("chromium", "chromium") }, async (t) => {
    const bundle = await fetch(`${url}/switchboard.js`);
    assert.equal(bundle.status, 200, await bundle.clone().text());
    const browser = await launchBrowser(chromium!);
    t.after(() => browser.close());
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (err) => errors.push(err.message));
    await page.goto(`${url}/`);
    await page.locator("#reply", { hasText: /hello page|failed/ }).waitFor({ timeout: START_MS });
    assert.equal(await page.locator("#reply").textContent(), "hello page");
    assert.deepEqual(errors, []);
    // Still serving afterwards.
    const client = await connect(`${url.replace("http", "ws")}/echo`);
    client.send("after the page");
    assert.equal((await client.next()).text, "after the page");
    await client.close();
  });
});

/** `npx switchboard serve handlers --port 0 ...extra`: the URL it serves, its lock file, the npx child. */
async function serveThroughNpx(t: { after(fn: () => void): void }, extra: string[]): Promise<{ served: string; lockFile: string; cli: Child }> {
  const runtime = mkdtempSync(join(base, "serve-"));
  const lockFile = join(runtime, "switchboard.lock");
  const cli = startChild("npx", ["switchboard", "serve", "handlers", "--port", "0", ...extra], {
    cwd: project,
    env: userEnv({ SWITCHBOARD_LOCK_FILE: lockFile, SWITCHBOARD_CONTROL_SOCKET: join(runtime, "switchboard.sock"), LOG_LEVEL: "warn" }),
  });
  t.after(() => cli.kill("SIGKILL")); // a no-op when it exited as it should
  const served = (await cli.waitFor(/listening on (http:\/\/\S+)/, START_MS))[1]!;
  return { served, lockFile, cli };
}

/**
 * npx runs the bin under `sh -c`, which does not pass SIGTERM on: signal the server itself (the
 * primary under --workers), whose PID its lock file holds, and see npx finish with its exit code.
 */
async function stopThroughLock(lockFile: string, cli: Child): Promise<number | null> {
  const { pid } = JSON.parse(readFileSync(lockFile, "utf8")) as { pid: number };
  process.kill(pid, "SIGTERM");
  return (await cli.finished).code;
}

test("(d) npx switchboard serve <folder of .js handlers>: echo and the console page work; SIGTERM → exit 0", async (t) => {
  const { served, lockFile, cli } = await serveThroughNpx(t, []);
  const client = await connect(`${served.replace("http", "ws")}/echo`);
  client.send("through npx");
  assert.equal((await client.next()).text, "through npx");
  const consolePage = await fetch(`${served}/console.html`);
  assert.equal(consolePage.status, 200);
  assert.match(await consolePage.text(), /<html/i);
  const closed = client.waitClosed();
  assert.equal(await stopThroughLock(lockFile, cli), 0, cli.output());
  assert.equal((await closed).code, 1001);
});

test("(g) npx switchboard serve --workers 2 from dist: one port, both workers echo, SIGTERM to the primary → 1001 and exit 0", async (t) => {
  const { served, lockFile, cli } = await serveThroughNpx(t, ["--workers", "2"]);
  assert.match(cli.output(), /workers: 2 processes on one port/);
  // Round-robin hands consecutive connections to the two workers; each must echo.
  const clients = [await connect(`${served.replace("http", "ws")}/echo`), await connect(`${served.replace("http", "ws")}/echo`)];
  for (const [i, client] of clients.entries()) {
    client.send(`worker ${i}`);
    assert.equal((await client.next()).text, `worker ${i}`);
  }
  const closes = clients.map((c) => c.waitClosed());
  assert.equal(await stopThroughLock(lockFile, cli), 0, cli.output());
  for (const close of await Promise.all(closes)) assert.equal(close.code, 1001);
});

test("(f) from dist: metrics, the server API, the admin page with its assets; npx switchboard init writes its starter", async (t) => {
  const server = startChild(process.execPath, ["ops-server.js"], { cwd: project });
  t.after(() => server.kill("SIGKILL"));
  const url = (await server.waitFor(/listening on (http:\/\/\S+)\//, START_MS))[1]!;
  const metrics = await fetch(`${url}/metrics`);
  assert.equal(metrics.status, 200);
  assert.match(await metrics.text(), /^switchboard_connections/m);
  const stats = await fetch(`${url}/api/stats`, { headers: { authorization: "Bearer packed-api-key-0123456789" } });
  assert.equal(stats.status, 200, await stats.clone().text());
  assert.equal((await fetch(`${url}/api/stats`)).status, 401);
  for (const [path, type] of [["/admin", /text\/html/], ["/admin/admin.js", /javascript/], ["/admin/admin.css", /css/], ["/admin/assets/uPlot.iife.min.js", /javascript/], ["/admin/assets/uPlot.min.css", /css/]] as const) {
    const res = await fetch(`${url}${path}`);
    assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
    assert.match(res.headers.get("content-type") ?? "", type, path);
    assert.ok((await res.arrayBuffer()).byteLength > 100, `${path} has a body`);
  }
  server.kill("SIGTERM");
  assert.equal((await server.finished).code, 0, server.output());

  const starter = join(mkdtempSync(join(base, "init-")), "starter");
  await runOk("npx", ["switchboard", "init", starter], { cwd: project, env: userEnv(), timeoutMs: START_MS });
  for (const file of ["switchboard.config.json", "handlers/echo.ts", "handlers/tasks/hello.ts", "handlers/services/ticker.ts", "public/index.html", "test/hello.test.mjs", "package.json"]) {
    assert.ok(existsSync(join(starter, file)), `the starter has ${file}`);
  }
});

test("(e) import \"switchboard\" loads neither piscina nor pino-pretty (nor esbuild); using them loads them", async () => {
  const output = await runOk(process.execPath, ["lazy-imports.js"], { cwd: project, timeoutMs: START_MS });
  const report = JSON.parse(output.trim().split("\n").at(-1)!) as { afterImport: string[]; afterUse: string[]; doubled: number };
  assert.deepEqual(report.afterImport, []);
  // The same detection sees them once they are used: the empty list above is not blindness.
  assert.deepEqual(report.afterUse, ["piscina", "pino-pretty"]);
  assert.equal(report.doubled, 42);
});

describe("npm install <folder> of a checkout", () => {
  test("builds it through prepare; the project imports switchboard and switchboard/client from it", async () => {
    const folder = checkout(join(base, "folder"), true);
    const user = await freshProject(join(base, "folder-user"));
    await runOk("npm", ["install", ...NPM_FLAGS, folder], { cwd: user, timeoutMs: NPM_MS });
    const probe = "const s = await import('switchboard'); const c = await import('switchboard/client'); console.log(typeof s.createServer, typeof c.Client);";
    const output = await runOk(process.execPath, ["--input-type=module", "-e", probe], { cwd: user, timeoutMs: START_MS });
    assert.equal(output.trim(), "function function");
    assert.ok(existsSync(join(folder, "dist", "switchboard.js")), "prepare built the browser bundle too");
  });

  test("a checkout whose dependencies are not installed fails with a message that says what to do", async () => {
    const folder = checkout(join(base, "bare"), false);
    const user = await freshProject(join(base, "bare-user"));
    const result = await run("npm", ["install", ...NPM_FLAGS, folder], { cwd: user, timeoutMs: NPM_MS });
    assert.notEqual(result.code, 0);
    assert.match(result.output, /run `npm install` in .*bare/);
  });
});
