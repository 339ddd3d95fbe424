/**
 * Claims of docs/standalone.md that are prose, not code blocks, held to the code.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { createServer } from "../../src/index.ts";
import { loadHandlerDirectory } from "../../src/loader/directory.ts";
import { makeTree } from "../helpers/tree.ts";

const INDEX = fileURLToPath(new URL("../../src/index.ts", import.meta.url));

// "services/ | defineService({ start?, main?, stop?, dependsOn?, critical? }) | … services/ticker.ts
// is service ticker" and "The file name is the name": defineService() takes a definition with no
// name (it once threw "service.name: must be 1–64 characters", and such a file did not load).
test("docs/standalone.md: a services/ file made with defineService({ start }) and no name is the service named by its file", async (t) => {
  const dir = makeTree(t, {
    "services/ticker.ts": `import { defineService } from ${JSON.stringify(INDEX)};\nexport default defineService({ start() {} });\n`,
  });
  const server = createServer({ port: 0, host: "127.0.0.1", logger: { level: "silent" } });
  t.after(() => server.stop({ timeoutMs: 2000 }));
  const loaded = await loadHandlerDirectory(server, dir);
  assert.deepEqual(loaded.map((f) => `${f.kind} ${f.name}`), ["service ticker"]);
  await server.start();
  assert.equal(server.services.states().find((s) => s.name === "ticker")?.state, "running");
});
