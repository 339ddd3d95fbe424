import { test } from "node:test";
import assert from "node:assert/strict";
import { scanDirectory, type ScanKind } from "../../../src/loader/scan.ts";
import { makeTree } from "../../helpers/tree.ts";

const endpoints: ScanKind = { kind: "endpoint", folder: "", name: (s) => "/" + s.join("/") };
const tasks: ScanKind = { kind: "task", folder: "tasks", name: (s) => s.join(".") };

test("file paths map to endpoint paths: nested folders, index files, .ts and .js", (t) => {
  const root = makeTree(t, {
    "chat.ts": "", "games/tetris.ts": "", "games/index.js": "", "index.ts": "",
    "a/b/c/deep.js": "", "a/b/index.ts": "", "v1.2.ts": "",
  });
  const { files, problems } = scanDirectory(root, [endpoints]);
  assert.deepEqual(problems, []);
  assert.deepEqual(files.map((f) => [f.name, f.rel]), [
    ["/", "index.ts"],
    ["/a/b", "a/b/index.ts"],
    ["/a/b/c/deep", "a/b/c/deep.js"],
    ["/chat", "chat.ts"],
    ["/games", "games/index.js"],
    ["/games/tetris", "games/tetris.ts"],
    ["/v1.2", "v1.2.ts"],
  ]);
});

test("helpers, hidden files, declarations, tests and other files are skipped", (t) => {
  const root = makeTree(t, {
    "_shared.ts": "", "_lib/util.ts": "", "room/_state.ts": "", ".hidden.ts": "", "types.d.ts": "",
    "echo.test.ts": "", "README.md": "", "data.json": "", "node_modules/x/index.js": "", "echo.ts": "",
  });
  const { files, problems } = scanDirectory(root, [endpoints]);
  assert.deepEqual(problems, []);
  assert.deepEqual(files.map((f) => f.rel), ["echo.ts"]);
});

test("two files claiming one path are a problem naming both", (t) => {
  const root = makeTree(t, { "chat.ts": "", "chat.js": "", "games.ts": "", "games/index.ts": "" });
  const { files, problems } = scanDirectory(root, [endpoints]);
  assert.equal(files.length, 2);
  assert.equal(problems.length, 2);
  assert.match(problems.map((p) => `${p.rel}: ${p.problem}`).join("\n"), /chat\.ts: endpoint \/chat is already served by chat\.js/);
  assert.match(problems.map((p) => `${p.rel}: ${p.problem}`).join("\n"), /games\/index\.ts: endpoint \/games is already served by games\.ts/);
});

test("file names that are not URL path segments are problems", (t) => {
  const root = makeTree(t, { "hello world.ts": "", "ü.ts": "", "ok.ts": "" });
  const { files, problems } = scanDirectory(root, [endpoints]);
  assert.deepEqual(files.map((f) => f.name), ["/ok"]);
  assert.equal(problems.length, 2);
  assert.match(problems[0]!.problem, /cannot be a URL path segment/);
});

test("a kind's folder is taken out of the endpoint tree and named by that kind", (t) => {
  const root = makeTree(t, { "echo.ts": "", "tasks/chat/say.ts": "", "games/tasks/x.ts": "" });
  const { files } = scanDirectory(root, [endpoints, tasks]);
  assert.deepEqual(files.map((f) => `${f.kind} ${f.name}`), ["endpoint /echo", "endpoint /games/tasks/x", "task chat.say"]);
});
