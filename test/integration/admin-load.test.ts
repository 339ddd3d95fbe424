/**
 * The admin page and the API's listings with 10,000 clients in 1,000 rooms (from two child
 * processes of raw clients, so this process only serves). Prints time to first render and
 * per update in Chromium, and the server-side time of each listing; asserts what the page
 * shows (the counts), never a time. ADMIN_LOAD_CLIENTS=2000 for a quicker run.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromiumPath, launchBrowser, missing } from "../helpers/browser.ts";
import { startServer } from "../helpers/server.ts";
import { within } from "../helpers/until.ts";
import { ADMIN_TOKEN, apiRequest } from "./api-helpers.ts";

const chromium = chromiumPath();
const CLIENTS = Number(process.env.ADMIN_LOAD_CLIENTS ?? 10_000);
const ROOMS = Math.min(1_000, CLIENTS);
const CHILDREN = 2;
const UPDATES = 10;
const SCRIPT = fileURLToPath(new URL("./admin-load-clients.ts", import.meta.url));
const IMAGES = fileURLToPath(new URL("../../docs/images/", import.meta.url));

interface Child {
  proc: ChildProcess;
  ready: Promise<{ connected: number; failures: string[]; ms: number }>;
  exited: Promise<void>;
}

function startClients(port: number, first: number, count: number): Child {
  const proc = spawn(process.execPath, ["--conditions=source", "--import", "tsx", SCRIPT, String(port), "/chat", String(first), String(count), String(ROOMS)], { stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  const ready = new Promise<{ connected: number; failures: string[]; ms: number }>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).once("line", (line) => resolve(JSON.parse(line)));
    void exited.then(() => reject(new Error("a client process exited before its clients were connected")));
  });
  return { proc, ready, exited };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;
}

test(`admin page and API listings with ${CLIENTS} clients in ${ROOMS} rooms`, { skip: chromium ? false : missing("chromium", "chromium"), timeout: 600_000 }, async (t) => {
  const server = await startServer({ admin: { token: ADMIN_TOKEN } }, (s) => {
    s.app("/chat", {
      presence: true,
      session: (req) => {
        const id = req.query.get("user") ?? "nobody";
        return { id, name: id };
      },
      endpoint: { maxConnections: CLIENTS + 100 },
    });
  });
  t.after(() => server.stop());

  const started = performance.now();
  const per = Math.ceil(CLIENTS / CHILDREN);
  const children = Array.from({ length: CHILDREN }, (_, i) => startClients(server.port, i * per, Math.min(per, CLIENTS - i * per)));
  t.after(async () => {
    for (const child of children) child.proc.kill("SIGTERM"); // by its PID: only what this test started
    await within(Promise.all(children.map((c) => c.exited)), 30_000, "the client processes to exit");
  });
  const reports = await within(Promise.all(children.map((c) => c.ready)), 300_000, `${CLIENTS} clients to connect`);
  const connected = reports.reduce((n, r) => n + r.connected, 0);
  assert.equal(connected, CLIENTS, `failures: ${reports.flatMap((r) => r.failures).join("; ")}`);
  console.log(`# ${CLIENTS} clients connected in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  // The listings, server side (each includes a local TCP connect): median of a bounded number of calls.
  const key = ADMIN_TOKEN;
  const lastPage = Math.max(0, CLIENTS - 50);
  const listings: Array<[string, string, unknown?]> = [
    ["stats", "/api/stats"],
    ["connections, first page", "/api/connections?limit=50"],
    ["connections, last page", `/api/connections?limit=50&offset=${lastPage}`],
    ["connections by room", "/api/connections?room=room-7"],
    ["connections by user", `/api/connections?user=user-${CLIENTS - 1}`],
    ["connections by id part", "/api/connections?id=chat-99"],
    ["rooms, first page", "/api/rooms?limit=50"],
    ["rooms by name part", "/api/rooms?q=room-99"],
    ["presence of a room", "/api/presence", { app: "/chat", room: "room-7" }],
  ];
  const figures: Record<string, number> = {};
  for (const [name, target, body] of listings) {
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      const res = await apiRequest(server.port, target, { key, ...(body === undefined ? {} : { body }) });
      times.push(performance.now() - t0);
      assert.equal(res.status, 200, `${target}: ${res.body.slice(0, 200)}`);
    }
    figures[name] = median(times);
  }
  const stats = (await apiRequest(server.port, "/api/stats", { key })).json;
  assert.equal(stats.connections, CLIENTS);
  assert.equal(stats.rooms, ROOMS);
  const byRoom = (await apiRequest(server.port, "/api/connections?room=room-7", { key })).json;
  assert.equal(byRoom.total, CLIENTS / ROOMS);
  const rooms = (await apiRequest(server.port, "/api/rooms?limit=50", { key })).json;
  assert.equal(rooms.total, ROOMS);
  for (const [name, ms] of Object.entries(figures)) console.log(`# API ${name}: ${ms.toFixed(1)} ms (median of 20)`);

  const browser = await launchBrowser(chromium!);
  t.after(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(`${server.url("/admin")}#token=${encodeURIComponent(ADMIN_TOKEN)}`);
  await page.locator("body[data-ready='1']").waitFor({ timeout: 60_000 });
  const firstRenderMs = await page.evaluate(() => (window as unknown as { __admin: { firstRenderMs: number } }).__admin.firstRenderMs);
  assert.equal(await page.textContent("#conn-total"), `(${CLIENTS})`);
  assert.equal(await page.textContent("#room-total"), `(${ROOMS})`);
  await page.waitForFunction((n) => (window as unknown as { __admin: { updates: unknown[] } }).__admin.updates.length >= n, UPDATES, { timeout: 120_000 });
  const updates = await page.evaluate(() => (window as unknown as { __admin: { updates: Array<{ ms: number; tables: boolean }> } }).__admin.updates);
  const withTables = updates.filter((u) => u.tables).map((u) => u.ms);
  const statsOnly = updates.filter((u) => !u.tables).map((u) => u.ms);
  console.log(`# admin page, ${CLIENTS} clients / ${ROOMS} rooms: first render ${firstRenderMs.toFixed(0)} ms after navigation start`);
  console.log(`# admin page update (stats only): median ${median(statsOnly).toFixed(1)} ms, p95 ${percentile(statsOnly, 0.95).toFixed(1)} ms (${statsOnly.length} updates)`);
  console.log(`# admin page update (stats + connections + rooms pages): median ${median(withTables).toFixed(1)} ms, p95 ${percentile(withTables, 0.95).toFixed(1)} ms (${withTables.length} updates)`);
  if (CLIENTS >= 10_000 && process.env.SCREENSHOTS === "1") await page.screenshot({ path: `${IMAGES}admin-10k.png`, fullPage: false });
});
