/**
 * A client in another language, written from docs/protocol.md: Python with Debian's
 * python3-websockets. Skipped with one line where that module is missing.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { startApp } from "../helpers/app-client.ts";
import { findBinary, missing } from "../helpers/binaries.ts";
import { within } from "../helpers/until.ts";

/** A python3 that can import websockets: Debian's first (PATH may hold another python). */
function pythonWithWebsockets(): string | undefined {
  for (const candidate of ["/usr/bin/python3", findBinary("python3")]) {
    if (candidate === undefined) continue;
    const probe = spawnSync(candidate, ["-c", "import websockets"], { stdio: "ignore" });
    if (probe.status === 0) return candidate;
  }
  return undefined;
}

const python = pythonWithWebsockets();

test("a Python client speaks the protocol from docs/protocol.md", { skip: python ? false : missing("python3 with websockets", "python3-websockets") }, async (t) => {
  const { server, url } = await startApp({ presence: true }, (app) => {
    app.task("add", { schema: z.object({ a: z.number(), b: z.number() }), handler: ({ data }) => data.a + data.b });
    app.task<string>("shout", ({ data, room, rooms }) => void rooms.push(room!, "shouted", data));
  });
  t.after(() => server.stop());
  const script = fileURLToPath(new URL("../fixtures/python_client.py", import.meta.url));
  const child = spawn(python!, [script, url, "pyroom"], { stdio: ["ignore", "pipe", "pipe"] });
  t.after(() => child.kill());
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const code = await within(new Promise<number | null>((r) => child.on("close", r)), 30_000, "the python client");
  assert.equal(code, 0, stderr);
  const lines = stdout.trim().split("\n");
  assert.equal(lines.pop(), "done");
  const steps = Object.fromEntries(lines.map((l) => JSON.parse(l)).map((s) => [s.step, s.value]));
  assert.equal(steps.subprotocol, "switchboard.v1");
  assert.equal(steps.welcome.task, "switchboard.welcome");
  assert.deepEqual(steps.welcome.data.rooms, ["pyroom"]);
  assert.deepEqual(steps.add, { id: 1, data: 42 });
  assert.equal(steps.unknown.error.code, "unknown_task");
  assert.equal(steps.schema.error.code, "bad_request");
  assert.match(steps.schema.error.message, /^data\.a/);
  assert.equal(steps.bad_json.error.code, "bad_request");
  assert.deepEqual(steps.push, { task: "shouted", data: "from python" });
  assert.equal(steps.join.data.room, "second");
});
