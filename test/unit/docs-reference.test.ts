import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { renderReference } from "../../scripts/reference.ts";

test("docs/reference.md matches the limits table and close codes (run `npm run docs`)", () => {
  assert.equal(readFileSync(new URL("../../docs/reference.md", import.meta.url), "utf8"), renderReference());
});
