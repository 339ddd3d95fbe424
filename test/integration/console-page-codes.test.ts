/**
 * The console page carries a copy of the close-code registry (so it needs no route of its own):
 * it must say what src/protocol/close-codes.ts says. When a code is added or reworded there,
 * this fails and prints the block to paste into src/pages/console.html.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { CloseCode, describeCloseCode } from "../../src/protocol/close-codes.ts";

const PAGE = new URL("../../src/pages/console.html", import.meta.url);

test("console page: its copy of the close-code registry matches describeCloseCode()", () => {
  const html = readFileSync(PAGE, "utf8");
  const match = /<script type="application\/json" id="close-codes">\s*([\s\S]*?)\s*<\/script>/.exec(html);
  assert.ok(match, "the page has a close-codes JSON block");
  const copy = JSON.parse(match[1]!) as Record<string, unknown>;
  const expected: Record<string, { name: string; meaning: string; retryable: boolean }> = {};
  for (const code of [...new Set<number>(Object.values(CloseCode))].sort((a, b) => a - b)) {
    const { name, meaning, retryable } = describeCloseCode(code);
    expected[code] = { name, meaning, retryable };
  }
  assert.deepEqual(copy, expected, `src/pages/console.html is out of date; its close-codes block should be:\n${JSON.stringify(expected)}\n`);
});
