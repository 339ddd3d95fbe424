import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync, existsSync } from "node:fs";

import { join } from "node:path";
import { acquireLock, LockError, pidIsAlive } from "../../../src/runtime/lockfile.ts";
import { createLogger } from "../../../src/log.ts";
import { tempDir } from "../../helpers/tempdir.ts";


test("acquire writes PID and start time; release removes the file", (t) => {
  const path = join(tempDir(t), "a.lock");
  const lock = acquireLock(path);
  const content = JSON.parse(readFileSync(path, "utf8"));
  assert.equal(content.pid, process.pid);
  assert.ok(!Number.isNaN(Date.parse(content.startedAt)));
  lock.release();
  assert.equal(existsSync(path), false);
  lock.release(); // twice is fine
});

test("a second acquire while the holder lives fails naming the PID", (t) => {
  const path = join(tempDir(t), "a.lock");
  const lock = acquireLock(path);
  assert.throws(() => acquireLock(path), (err: Error) =>
    err instanceof LockError && err.pid === process.pid && err.message.includes(`PID ${process.pid}`));
  lock.release();
});

test("a stale lock (dead PID) is taken over with a warning", (t) => {
  const path = join(tempDir(t), "a.lock");
  writeFileSync(path, JSON.stringify({ pid: 999_999, startedAt: "2020-01-01T00:00:00Z" }));
  const lines: string[] = [];
  const logger = createLogger({ level: "warn", destination: { write: (s: string) => { lines.push(s); } } });
  const lock = acquireLock(path, { logger, isAlive: (pid) => pid !== 999_999 });
  assert.equal(JSON.parse(readFileSync(path, "utf8")).pid, process.pid);
  assert.match(lines.join(""), /stale lock file from PID 999999/);
  lock.release();
});

test("an unreadable lock file is taken over with a warning", (t) => {
  const path = join(tempDir(t), "a.lock");
  writeFileSync(path, "garbage");
  const lines: string[] = [];
  const logger = createLogger({ level: "warn", destination: { write: (s: string) => { lines.push(s); } } });
  acquireLock(path, { logger }).release();
  assert.match(lines.join(""), /unreadable/);
});

test("release does not remove a lock that was taken over by someone else", (t) => {
  const path = join(tempDir(t), "a.lock");
  const lock = acquireLock(path);
  writeFileSync(path, JSON.stringify({ pid: 12345, startedAt: "x" }));
  lock.release();
  assert.equal(existsSync(path), true);
});

test("a lock file in a missing directory is a LockError saying why", (t) => {
  const path = join(tempDir(t), "no", "such", "dir", "a.lock");
  assert.throws(() => acquireLock(path), (err: Error) => err instanceof LockError && /cannot create lock file/.test(err.message));
});

test("pidIsAlive: ours is alive", () => {
  assert.equal(pidIsAlive(process.pid), true);
});
