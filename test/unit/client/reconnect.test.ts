import { test } from "node:test";
import assert from "node:assert/strict";
import { Backoff, isRetryableClose } from "../../../client/reconnect.ts";
import { OfflineQueue, DEFAULT_MAX_OFFLINE_QUEUE } from "../../../client/offline-queue.ts";
import { CloseCode } from "../../../src/protocol/close-codes.ts";

test("backoff grows exponentially up to the cap, with no jitter", () => {
  const b = new Backoff({ initialDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: 0 });
  assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1000, 1000]);
  b.reset();
  assert.equal(b.next(), 100);
});

test("jitter spreads the delay within [base*(1-j), base]", () => {
  const low = new Backoff({ initialDelayMs: 1000, jitter: 0.5, random: () => 0 });
  const high = new Backoff({ initialDelayMs: 1000, jitter: 0.5, random: () => 0.999999 });
  assert.equal(low.next(), 500);
  assert.equal(high.next(), 1000);
  const full = new Backoff({ initialDelayMs: 1000, jitter: 1, random: () => 0 });
  assert.equal(full.next(), 0);
});

test("maxAttempts ends the retries", () => {
  const b = new Backoff({ maxAttempts: 2, jitter: 0 });
  assert.notEqual(b.next(), undefined);
  assert.notEqual(b.next(), undefined);
  assert.equal(b.next(), undefined);
});

test("bad backoff options are refused with the option's name", () => {
  assert.throws(() => new Backoff({ initialDelayMs: 0 }), /initialDelayMs/);
  assert.throws(() => new Backoff({ jitter: 2 }), /jitter/);
  assert.throws(() => new Backoff({ factor: Number.NaN }), /factor/);
});

test("retryable close codes follow close-codes.ts", () => {
  assert.ok(isRetryableClose(CloseCode.GoingAway));
  assert.ok(isRetryableClose(CloseCode.Abnormal));
  assert.ok(!isRetryableClose(CloseCode.Normal));
  assert.ok(!isRetryableClose(CloseCode.PolicyViolation));
});

test("offline queue: bounded, in order, drained once, stops when the socket goes", () => {
  const q = new OfflineQueue(3);
  assert.ok(q.push({ text: "a" }) && q.push({ text: "b", id: 1 }) && q.push({ text: "c" }));
  assert.equal(q.push({ text: "d" }), false);
  q.remove(1);
  const sent: string[] = [];
  q.drain((f) => (sent.length < 1 ? (sent.push(f.text), true) : false));
  assert.deepEqual(sent, ["a"]);
  q.drain((f) => (sent.push(f.text), true));
  assert.deepEqual(sent, ["a", "c"]);
  q.drain((f) => (sent.push(f.text), true));
  assert.deepEqual(sent, ["a", "c"]);
  assert.throws(() => new OfflineQueue(-1), /maxOfflineQueue/);
  assert.equal(new OfflineQueue().max, DEFAULT_MAX_OFFLINE_QUEUE);
});

test("the client's offline-queue default is the maxOfflineQueue row of limits.ts", async () => {
  const { limitDefault } = await import("../../../src/limits.ts");
  assert.equal(DEFAULT_MAX_OFFLINE_QUEUE, limitDefault("maxOfflineQueue"));
});

test("the client's connect-timeout default is the connectTimeoutMs row of limits.ts", async () => {
  const { limitDefault } = await import("../../../src/limits.ts");
  const { DEFAULT_CONNECT_TIMEOUT_MS } = await import("../../../client/index.ts");
  assert.equal(DEFAULT_CONNECT_TIMEOUT_MS, limitDefault("connectTimeoutMs"));
});
