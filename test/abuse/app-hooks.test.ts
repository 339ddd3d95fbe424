/**
 * User code in the app layer cannot take the server down (issue 14, defect 8, app part):
 * open / close hooks, session(), the rooms policy, guards, schema refinements and whatever a
 * handler returns each have one defined answer, and the server keeps serving afterwards.
 * Anything that escapes as an unhandled rejection or uncaught exception fails the test.
 */
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { pino } from "pino";
import { z } from "zod";
import { anonymousSession, type App, type AppOptions, type Server } from "../../src/index.ts";
import { ProtoClient } from "../helpers/app-client.ts";
import { startServer } from "../helpers/server.ts";
import { refusedClose } from "../integration/client-refusal-helpers.ts";
import { deferred, within } from "../helpers/until.ts";
import { captureLogs, type LogLine } from "../helpers/logs.ts";

const WAIT = 10_000;

// A crash of the server is a failure of the test: collect what escapes, assert it is nothing.
const escaped: unknown[] = [];
process.on("unhandledRejection", (err) => escaped.push(err));
process.on("uncaughtException", (err) => escaped.push(err));
afterEach(() => assert.deepEqual(escaped.splice(0).map(String), [], "nothing escaped as an unhandled rejection / uncaught exception"));


async function startLoggedApp(options: AppOptions, setup?: (app: App) => void): Promise<{ server: Server; url: string; logged: (message: string) => Promise<LogLine> }> {
  const logs = captureLogs("error");
  const { logger } = logs;
  const logged = (message: string) => logs.logged((line) => line.err?.message === message, `a logged error "${message}"`, WAIT);
  let app!: App;
  const server = await startServer({ logger }, (s) => {
    app = s.app("/app", options);
    app.task("echo", ({ data }) => data);
    setup?.(app);
  });
  return { server, url: server.url("/app"), logged };
}

/** The defined "still serving" check: a new client completes a call. */
async function stillServes(url: string): Promise<void> {
  const fresh = await ProtoClient.open(url);
  assert.equal((await fresh.call("echo", "alive", WAIT)).data, "alive");
  await fresh.close();
}

test("an async open hook that rejects: logged, its connection closed with 1011, the server keeps serving", async (t) => {
  let opens = 0;
  const { server, url, logged } = await startLoggedApp({
    open: async () => {
      if (++opens === 1) throw new Error("async open bug");
    },
  });
  t.after(() => server.stop({ timeoutMs: 100 }));
  const victim = await ProtoClient.open(url);
  assert.equal((await victim.waitClosed(WAIT)).code, 1011);
  await logged("async open bug");
  await stillServes(url);
});

test("a sync open hook that throws: logged, its connection closed with 1011, the server keeps serving", async (t) => {
  let opens = 0;
  const { server, url, logged } = await startLoggedApp({
    open: () => {
      if (++opens === 1) throw new Error("sync open bug");
    },
  });
  t.after(() => server.stop({ timeoutMs: 100 }));
  const victim = await ProtoClient.open(url);
  assert.equal((await victim.waitClosed(WAIT)).code, 1011);
  await logged("sync open bug");
  await stillServes(url);
});

test("an async close hook that rejects is logged only; the server keeps serving", async (t) => {
  const { server, url, logged } = await startLoggedApp({
    close: async () => {
      throw new Error("async close bug");
    },
  });
  t.after(() => server.stop({ timeoutMs: 100 }));
  const client = await ProtoClient.open(url);
  await client.close();
  await logged("async close bug");
  await stillServes(url);
});

test("a rooms policy that throws or rejects: closed with 1011 at connect, `forbidden` on room.join; logged; the server keeps serving", async (t) => {
  const { server, url, logged } = await startLoggedApp({
    rooms: (_user, room) => {
      if (room === "throws") throw new Error("policy throws");
      if (room === "rejects") return Promise.reject(new Error("policy rejects"));
      return true;
    },
  });
  t.after(() => server.stop({ timeoutMs: 100 }));
  for (const room of ["throws", "rejects"]) {
    assert.deepEqual(await refusedClose(`${url}?room=${room}`), { code: 1011, reason: "internal error", protocol: "switchboard.v1", frames: 0 });
  }
  const c = await ProtoClient.open(url);
  assert.equal((await c.call("room.join", { room: "throws" })).error?.code, "forbidden");
  assert.equal((await c.call("room.join", { room: "rejects" })).error?.code, "forbidden");
  assert.equal((await c.call("room.join", { room: "fine" })).data?.room, "fine");
  await logged("policy throws");
  await logged("policy rejects");
  await c.close();
  await stillServes(url);
});

test("a session() that throws (not a rejection) is accepted and closed with 1011; logged; the server keeps serving", async (t) => {
  const anonymous = anonymousSession();
  const { server, url, logged } = await startLoggedApp({
    session: (req) => {
      if (req.query.has("boom")) throw new TypeError("session bug");
      if (req.query.has("string")) throw "not even an Error";
      return anonymous(req);
    },
  });
  t.after(() => server.stop({ timeoutMs: 100 }));
  for (const query of ["boom=1", "string=1"]) {
    assert.deepEqual(await refusedClose(`${url}?${query}`), { code: 1011, reason: "internal error", protocol: "switchboard.v1", frames: 0 });
  }
  await logged("session bug");
  await logged("not even an Error");
  await stillServes(url);
});

test("guards, schema refinements and returned values: each failure is one error reply; the connection stays open", async (t) => {
  const { server, url, logged } = await startLoggedApp({}, (app) => {
    app.task("guard-rejects", { guard: () => Promise.reject(new Error("guard bug")), handler: () => "never" });
    app.task("guard-throws", { guard: () => { throw new Error("sync guard bug"); }, handler: () => "never" });
    app.task("refine-throws", {
      schema: z.unknown().refine(() => { throw new Error("refinement bug"); }),
      handler: () => "never",
    });
    // A result whose `then` getter throws: reading it is user code too.
    app.task("bad-thenable", () => ({ get then(): never { throw new Error("then getter bug"); } }));
    app.task("async-bad-thenable", { guard: () => true, handler: () => ({ get then(): never { throw new Error("async then getter bug"); } }) });
  });
  t.after(() => server.stop({ timeoutMs: 100 }));
  const c = await ProtoClient.open(url);
  assert.equal((await c.call("guard-rejects", null)).error?.code, "forbidden");
  assert.equal((await c.call("guard-throws", null)).error?.code, "forbidden");
  assert.equal((await c.call("refine-throws", null)).error?.code, "internal");
  assert.equal((await c.call("bad-thenable", null)).error?.code, "internal");
  assert.equal((await c.call("async-bad-thenable", null)).error?.code, "internal");
  await logged("guard bug");
  await logged("refinement bug");
  await logged("then getter bug");
  assert.equal((await c.call("echo", "same connection")).data, "same connection");
  await c.close();
  await stillServes(url);
});
