/**
 * Every code block of README.md and docs/*.md is true (scripts/check-docs.ts: type-checked
 * against the package, run where marked, shell blocks mapped to their tests), and the checker
 * catches what it claims to catch.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkDocs, formatFailure, type Report } from "../../scripts/check-docs.ts";
import { tempDir } from "../helpers/tempdir.ts";

function summary(report: Report): string {
  const counts = new Map<string, number>();
  for (const { verdict } of report.blocks) counts.set(verdict, (counts.get(verdict) ?? 0) + 1);
  return [...counts].map(([verdict, n]) => `${n} ${verdict}`).join(", ");
}

test("every code block of README.md and docs/*.md checks (npm run check-docs)", async () => {
  const report = await checkDocs();
  console.log(`${report.blocks.length} blocks: ${summary(report)}`);
  assert.ok(report.blocks.some((b) => b.block.doc === "README.md" && b.verdict === "ran"), "the README's chat server is run");
  assert.deepEqual(report.failures.map(formatFailure), []);
});

test("the checker reports each kind of broken block with its file and line", async (t) => {
  const dir = tempDir(t, "sb-docs-test-");
  const doc = join(dir, "broken.md");
  const fence = "```";
  writeFileSync(doc, [
    "# Broken on purpose",
    `${fence}ts`,                                                          // 2
    'import { createServer } from "switchboard";',
    'const server = createServer({ port: "8080" });',                      // 4: a string port
    "await server.start();",
    fence,
    "<!-- check: fragment -->",
    `${fence}ts`,                                                          // 8
    "server.endpoint(\"/x\", { message(conn) { conn.sendd(\"hi\"); } });", // 9: a typo, server from the context
    "notDefinedAnywhere();",                                               // 10: allowed in a fragment
    fence,
    `${fence}html`,                                                        // 12
    "<script type=\"module\">",
    "  import { Client } from \"/switchboard.js\";",
    "  new Client(\"/app\").cal(\"x\", {});",                              // 15: a typo in a page
    "</script>",
    fence,
    `${fence}sh`,                                                          // 18
    "npx switchboard serve handlers",                                      // starts something, names no test
    fence,
    "<!-- check: test test/nowhere/missing.test.ts -->",
    `${fence}sh`,                                                          // 22: names a test that does not exist
    "npm start",
    fence,
    `${fence}json`,                                                        // 25
    '{"task": "a"}',
    '{"task": …}',                                                         // 27: not JSON
    fence,
    "<!-- check: skip -->",                                                // 29: no reason
    `${fence}ts`,
    "whatever",
    fence,
    '<!-- check: run expect="^never printed" -->',
    `${fence}ts`,                                                          // 34
    'console.log("started"); process.exit(3);',
    fence,
    `${fence}sh`,
    "npm install switchboard   # starts nothing: listed",
    fence,
    `${fence}ts`,
    'const ok: number = 1;',
    fence,
    `${fence}python`,
    "def f(:",                                                             // 44: python syntax
    fence,
    "",
  ].join("\n"));
  const report = await checkDocs([doc]);
  const failures = report.failures.map((f) => `${f.line}: ${f.message.split("\n")[0]}`);
  const expectAt = (line: number, pattern: RegExp) =>
    assert.ok(failures.some((f) => f.startsWith(`${line}: `) && pattern.test(f)), `expected ${pattern} at line ${line}; got:\n${failures.join("\n")}`);
  expectAt(4, /TS2322: Type 'string' is not assignable to type 'number'/);
  expectAt(9, /TS2551: Property 'sendd' does not exist/);
  expectAt(15, /Property 'cal' does not exist/);
  expectAt(18, /starts something \(npx switchboard serve handlers\) but names no test/);
  expectAt(22, /the test it names does not exist: test\/nowhere\/missing\.test\.ts/);
  expectAt(27, /^27: JSON: /);
  expectAt(29, /skip needs a reason/);
  expectAt(34, /run: exited \(3\) before printing a line matching/);
  expectAt(44, /python: invalid syntax/);
  assert.ok(!failures.some((f) => f.startsWith("10: ")), "a fragment may use names it does not define");
  assert.equal(failures.length, 9, failures.join("\n"));
  assert.deepEqual(report.blocks.map((b) => b.verdict), ["typechecked", "typechecked", "typechecked", "listed", "tested", "parsed", "skipped", "ran", "listed", "typechecked", "parsed"]);
  assert.ok(report.failures.every((f) => formatFailure(f).startsWith(`${doc}:${f.line}: `)));
});

test("the checker holds protocol.md's messages to the codec", async (t) => {
  const doc = join(tempDir(t, "sb-docs-test-"), "protocol.md");
  writeFileSync(doc, ["```json", '{"task": "chat.say", "data": {"text": "hi"}, "id": 1}', '{"id": 1, "dat": {"ok": true}}', "```", ""].join("\n"));
  const report = await checkDocs([doc]);
  assert.deepEqual(report.failures.map((f) => `${f.line}: ${f.message}`), ['3: not a switchboard.v1 message: unknown key "dat"']);
});
