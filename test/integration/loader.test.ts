/**
 * The handler-directory loader on a real server: files become endpoints at the right paths,
 * every bad file stops the load with an error naming it, and 100 files load and route.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { createServer, type Server } from "../../src/index.ts";
import { LoadError } from "../../src/errors.ts";
import { loadHandlerDirectory } from "../../src/loader/directory.ts";
import { mountContext } from "../../src/loader/kinds.ts";
import { ProtoClient } from "../helpers/app-client.ts";
import { connect, refusedStatus } from "../helpers/ws-client.ts";
import { echoWithTag, makeTree } from "../helpers/tree.ts";

const INDEX = fileURLToPath(new URL("../../src/index.ts", import.meta.url));

function newServer(t: { after(fn: () => Promise<void>): void }): Server {
  const server = createServer({ port: 0, host: "127.0.0.1", logger: { level: "silent" } });
  t.after(() => server.stop({ timeoutMs: 2000 }));
  return server;
}

async function loadError(p: Promise<unknown>): Promise<LoadError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof LoadError, `expected a LoadError, got ${String(err)}`);
    return err;
  }
  throw new Error("expected the load to fail");
}

test("files are served at their paths; helpers are imported, not served", async (t) => {
  const dir = makeTree(t, {
    "chat.ts": `import { tag } from "./_tag.ts";\nimport { defineEndpoint } from ${JSON.stringify(INDEX)};\n` +
      `export default defineEndpoint({ message(conn, data) { conn.send(tag("chat", data.toString())); } });\n`,
    "_tag.ts": `export function tag(name: string, text: string): string { return name + ":" + text; }\n`,
    "games/tetris.js": echoWithTag("tetris"),
    "games/index.ts": echoWithTag("games"),
    "index.js": echoWithTag("root"),
  });
  const server = newServer(t);
  const loaded = await loadHandlerDirectory(server, dir);
  assert.deepEqual(loaded.map((f) => [f.name, f.rel]), [["/", "index.js"], ["/chat", "chat.ts"], ["/games", "games/index.ts"], ["/games/tetris", "games/tetris.js"]]);
  await server.start();
  for (const [path, tag] of [["/", "root"], ["/chat", "chat"], ["/games", "games"], ["/games/tetris", "tetris"]] as const) {
    const client = await connect(server.url(path, "ws"));
    client.send("hi");
    assert.equal((await client.next()).text, `${tag}:hi`);
    await client.close();
  }
  assert.equal(await refusedStatus(server.url("/_tag", "ws")), 404);
  assert.equal(await refusedStatus(server.url("/games/tetris.js", "ws")), 404);
});

test("every broken or wrong-shaped file is named, with what is wrong, and nothing is mounted", async (t) => {
  const dir = makeTree(t, {
    "ok.ts": echoWithTag("ok"),
    "syntax.ts": "export default { message( };\n",
    "throws.ts": "throw new Error('database not reachable');\n",
    "no-default.ts": "export const message = () => undefined;\n",
    "number.js": "export default 42;\n",
    "fn.ts": "export default function () {}\n",
    "typo.ts": "export default { mesage() {} };\n",
    "hook.ts": "export default { open: 'yes' };\n",
    "missing-import.ts": "import './_nope.ts';\nexport default {};\n",
    "a.ts": echoWithTag("a"),
    "a/index.ts": echoWithTag("a2"),
  });
  const server = newServer(t);
  const err = await loadError(loadHandlerDirectory(server, dir));
  const byFile = new Map(err.problems.map((p) => [p.rel, p.problem]));
  assert.match(byFile.get("syntax.ts")!, /failed to load/);
  assert.match(byFile.get("throws.ts")!, /failed to load: database not reachable/);
  assert.match(byFile.get("no-default.ts")!, /no default export \(it exports "message"\): write "export default defineEndpoint/);
  assert.match(byFile.get("number.js")!, /must be an object made with defineEndpoint.*got number 42/);
  assert.match(byFile.get("fn.ts")!, /got a function/);
  assert.match(byFile.get("missing-import.ts")!, /failed to load/);
  assert.match(byFile.get("a/index.ts")!, /endpoint \/a is already served by a\.ts/);
  assert.equal(byFile.has("ok.ts"), false);
  // The message lists every file, so one run shows every fix to make.
  for (const rel of ["syntax.ts", "throws.ts", "no-default.ts", "number.js", "fn.ts", "missing-import.ts", "a/index.ts"]) assert.ok(err.message.includes(`  ${rel}: `), rel);
  assert.equal(server.endpoints.size, 0);

  // Options that only server.endpoint() can judge are reported per file too, after the imports pass.
  const dir2 = makeTree(t, { "typo.ts": "export default { mesage() {} };\n", "hook.ts": "export default { open: 'yes' };\n" });
  const err2 = await loadError(loadHandlerDirectory(newServer(t), dir2));
  const byFile2 = new Map(err2.problems.map((p) => [p.rel, p.problem]));
  assert.match(byFile2.get("typo.ts")!, /option "mesage": unknown option/);
  assert.match(byFile2.get("hook.ts")!, /option "open": must be a function/);
});

test("a missing handler directory says what to do", async (t) => {
  const err = await loadError(loadHandlerDirectory(newServer(t), "/nonexistent/handlers"));
  assert.match(err.message, /handler directory does not exist: pass DIR/);
});

test("100 endpoint files in nested folders load and each answers at its own path", async (t) => {
  const files: Record<string, string> = {};
  const paths: string[] = [];
  for (let i = 0; i < 100; i++) {
    const group = `g${Math.floor(i / 10)}`;
    const rel = i % 10 === 0 ? `${group}/index.ts` : i % 2 === 0 ? `${group}/e${i}.ts` : `${group}/sub/e${i}.js`;
    files[rel] = echoWithTag(`file${i}`);
    paths[i] = i % 10 === 0 ? `/${group}` : i % 2 === 0 ? `/${group}/e${i}` : `/${group}/sub/e${i}`;
  }
  const dir = makeTree(t, files);
  const server = newServer(t);
  const loaded = await loadHandlerDirectory(server, dir);
  assert.equal(loaded.length, 100);
  assert.equal(server.endpoints.size, 100);
  await server.start();
  // Bounded: 100 connections, 10 at a time.
  for (let start = 0; start < 100; start += 10) {
    await Promise.all(paths.slice(start, start + 10).map(async (path, k) => {
      const i = start + k;
      const client = await connect(server.url(path, "ws"));
      client.send(String(i));
      assert.equal((await client.next()).text, `file${i}:${i}`);
      await client.close();
    }));
  }
});

test("config maxConnections is the default for endpoints that do not set their own", async (t) => {
  const dir = makeTree(t, { "one.ts": echoWithTag("one"), "many.ts": "export default { maxConnections: 5 };\n" });
  const server = newServer(t);
  await loadHandlerDirectory(server, dir, { context: mountContext({ maxConnections: 1 }) });
  assert.equal(server.endpoints.get("/one")!.stats().maxConnections, 1);
  assert.equal(server.endpoints.get("/many")!.stats().maxConnections, 5);
});

test("tasks/ files become tasks on the app at /app; services/ files become supervised services", async (t) => {
  const dir = makeTree(t, {
    "echo.ts": echoWithTag("e"),
    "tasks/chat/say.ts": 'export default { handler: ({ data }) => ({ said: data }) };\n',
    "tasks/math/double.ts": 'export default { name: "math.double", handler: ({ data }) => data * 2 };\n',
    "tasks/misnamed.ts": 'export default { name: "other", handler: () => 1 };\n',
    "tasks/_shared.ts": "export const helper = 1;\n",
    "services/ticker.ts": "let n = 0; export default { start() { n = 1; }, stop() { n = 0; }, get ticks() { return n; } };\n",
  });
  const server = newServer(t);
  await assert.rejects(loadHandlerDirectory(server, dir), /misnamed\.ts.*serves task "misnamed" but its definition is named "other"/s);
  rmSync(join(dir, "tasks/misnamed.ts"));
  const fresh = newServer(t);
  const loaded = await loadHandlerDirectory(fresh, dir);
  assert.deepEqual(loaded.map((f) => `${f.kind} ${f.name}`).sort(), ["endpoint /echo", "service ticker", "task chat.say", "task math.double"]);
  await fresh.start();
  assert.equal(fresh.services.states().find((s) => s.name === "ticker")?.state, "running");
  const client = await ProtoClient.open(fresh.url("/app"));
  assert.deepEqual((await client.call("chat.say", "hi")).data, { said: "hi" });
  assert.equal((await client.call("math.double", 21)).data, 42);
  await client.close();
});

test("a task or service file of the wrong shape stops start-up naming the file", async (t) => {
  const dir = makeTree(t, {
    "tasks/broken.ts": "export default { name: 'x' };\n",
    "services/bad.ts": "export default { stop() {} };\n",
  });
  const server = newServer(t);
  await assert.rejects(loadHandlerDirectory(server, dir), (err: Error) => {
    assert.match(err.message, /tasks\/broken\.ts.*needs a handler/s);
    assert.match(err.message, /services\/bad\.ts.*start\(\) or main\(\)/s);
    return true;
  });
});
