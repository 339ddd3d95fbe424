/**
 * A client of the server API in another language, written from docs/api.md alone:
 * test/fixtures/api_client.py (Python, standard library only). Its publish reaches a real
 * app client, its disconnect closes one with the code it chose, its errors carry the codes
 * the doc lists.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { findBinary, missing } from "../helpers/binaries.ts";
import { startServer } from "../helpers/server.ts";
import { ProtoClient } from "../helpers/app-client.ts";
import { within } from "../helpers/until.ts";
import { KEY } from "./api-helpers.ts";

const python = findBinary("python3", ["/usr/bin/python3"]);
const CLIENT = fileURLToPath(new URL("../fixtures/api_client.py", import.meta.url));

interface Step {
  step: string;
  result?: any;
  error?: string;
  status?: number;
}

/** Run the Python client to its end (bounded); its steps, one JSON line each. */
async function runClient(args: string[]): Promise<Map<string, Step>> {
  const child = spawn(python!, [CLIENT, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const steps = new Map<string, Step>();
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const parsed = JSON.parse(line) as Step;
    steps.set(parsed.step, parsed);
  });
  const code = await within(new Promise<number | null>((resolve) => child.once("close", resolve)), 30_000, "the Python client to finish");
  assert.equal(code, 0, stderr);
  return steps;
}

test("a Python client of the server API, from docs/api.md", { skip: python ? false : missing("python3", "python3") }, async (t) => {
  const server = await startServer({ api: { key: KEY } }, (s) => {
    s.app("/app", {
      presence: true,
      session: (req) => ({ id: req.query.get("user") ?? "nobody", name: "Py" }),
    });
  });
  t.after(() => server.stop());
  const member = await ProtoClient.open(server.url("/app"), { query: { room: "py-room", user: "ann" } });
  const target = await ProtoClient.open(server.url("/app"), { query: { user: "bob" } });
  t.after(() => {
    member.ws.terminate();
    target.ws.terminate();
  });
  const base = server.url("/", "http").replace(/\/$/, "");

  const wrong = await runClient([base, KEY, "wrong-key"]);
  assert.deepEqual(wrong.get("stats"), { step: "stats", error: "unauthorized", status: 401 });

  const [steps, push] = await Promise.all([
    runClient([base, KEY, "tour", "py-room", target.welcome.data.connection]),
    member.next((f) => f.task === "from.python"),
  ]);
  assert.deepEqual(push.data, { n: 1, text: "héllo" });
  assert.equal(steps.get("stats")!.result.connections, 2);
  assert.equal(steps.get("publish")!.result.room, "py-room");
  assert.deepEqual(steps.get("presence")!.result.members.map((m: any) => m.user.id), ["ann"]);
  assert.deepEqual(steps.get("connections")!.result.items.map((c: any) => c.id), [member.welcome.data.connection]);
  assert.deepEqual(steps.get("rooms")!.result.items, [{ app: "/app", room: "py-room", members: 1 }]);
  assert.equal(steps.get("command")!.result.result.length, 2);
  assert.deepEqual(steps.get("unknown-room"), { step: "unknown-room", error: "unknown_room", status: 404 });
  assert.deepEqual(steps.get("bad-request"), { step: "bad-request", error: "bad_request", status: 400 });
  assert.deepEqual(steps.get("too-big-page"), { step: "too-big-page", error: "bad_request", status: 400 });
  assert.equal(steps.get("disconnect")!.result.code, 4400);
  assert.deepEqual(await target.waitClosed(), { code: 4400, reason: "from python" });
});
